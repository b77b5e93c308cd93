import { managementUrls, type ClientEndpoints } from './clientBinding.js';
import type { DurableEngine, InstanceFilter, StatusQuery } from './engine.js';
import { isTerminal, type RuntimeStatus } from './types.js';

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const runtimeStatuses: ReadonlySet<string> = new Set([
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Terminated',
]);

/**
 * The Durable extension's HTTP management API, served under both the webhook path
 * (/runtime/webhooks/durabletask, system key required) and the local RPC path (/durabletask, which
 * the client binding's rpcBaseUrl points at). `path` is relative to either base.
 */
export async function handleManagementRequest(
  engine: DurableEngine,
  endpoints: ClientEndpoints,
  method: string,
  path: string,
  query: URLSearchParams,
  body: Buffer,
): Promise<ApiResponse> {
  const segments = path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => decodeURIComponent(segment));
  const [collection, ...rest] = segments;

  if (collection === 'orchestrators' && method === 'POST' && rest.length >= 1 && rest.length <= 2) {
    const [name, instanceId] = rest as [string, string | undefined];
    const input = body.length > 0 ? body.toString('utf8') : undefined;
    if (input !== undefined && !isJson(input))
      return { status: 400, body: { message: 'The request body is not JSON.' } };
    const started = await engine.startNew(name, instanceId, input);
    if (!started.ok) return { status: started.status, body: { message: started.message } };
    const links = managementUrls(endpoints, started.instanceId);
    return {
      status: 202,
      headers: { Location: links['statusQueryGetUri']!, 'Retry-After': '10' },
      body: links,
    };
  }

  if (collection !== 'instances') return { status: 404, body: { message: `No route for ${method} ${path}` } };

  if (rest.length === 0) {
    const filter = filterFrom(query);
    if (method === 'GET') {
      return { status: 200, body: engine.listStatuses(filter, statusQuery(query)) };
    }
    if (method === 'DELETE') {
      const deleted = await engine.purgeBy(filter);
      return deleted > 0 ? { status: 200, body: { instancesDeleted: deleted } } : { status: 404 };
    }
    return { status: 405 };
  }

  const instanceId = rest[0]!;
  if (rest.length === 1) {
    if (method === 'GET') {
      const status = engine.getStatus(instanceId, statusQuery(query));
      if (!status) return { status: 404 };
      if (status.runtimeStatus === 'Failed' && query.get('returnInternalServerErrorOnFailure') === 'true') {
        return { status: 500, body: status };
      }
      const running = !isTerminal(status.runtimeStatus);
      return {
        status: running ? 202 : 200,
        headers: running
          ? { Location: managementUrls(endpoints, instanceId)['statusQueryGetUri']!, 'Retry-After': '10' }
          : {},
        body: status,
      };
    }
    if (method === 'DELETE') {
      const deleted = await engine.purge(instanceId);
      return deleted > 0 ? { status: 200, body: { instancesDeleted: deleted } } : { status: 404 };
    }
    return { status: 405 };
  }

  const operation = rest[1];
  if (method !== 'POST') return { status: 405 };
  if (operation === 'raiseEvent' && rest.length === 3) {
    const text = body.toString('utf8');
    if (text !== '' && !isJson(text))
      return { status: 400, body: { message: 'The event data is not JSON.' } };
    return resultStatus(await engine.raiseEvent(instanceId, rest[2]!, text === '' ? undefined : text));
  }
  if (operation === 'terminate' && rest.length === 2) {
    return resultStatus(await engine.terminate(instanceId, query.get('reason') ?? ''));
  }
  if (
    operation === 'rewind' ||
    operation === 'suspend' ||
    operation === 'resume' ||
    operation === 'restart'
  ) {
    return { status: 501, body: { message: `${operation} is not supported by the local host.` } };
  }
  return { status: 404 };
}

function resultStatus(result: 'accepted' | 'notFound' | 'gone'): ApiResponse {
  switch (result) {
    case 'accepted':
      return { status: 202 };
    case 'notFound':
      return { status: 404 };
    case 'gone':
      return { status: 410 };
  }
}

function statusQuery(query: URLSearchParams): StatusQuery {
  return {
    showHistory: query.get('showHistory') === 'true',
    showHistoryOutput: query.get('showHistoryOutput') === 'true',
    showInput: query.get('showInput') !== 'false',
  };
}

function filterFrom(query: URLSearchParams): InstanceFilter {
  const filter: InstanceFilter = {};
  const statuses = query.get('runtimeStatus');
  if (statuses) {
    filter.runtimeStatus = statuses
      .split(',')
      .map((status) => status.trim())
      .filter((status): status is RuntimeStatus => runtimeStatuses.has(status));
  }
  const from = query.get('createdTimeFrom');
  if (from) filter.createdTimeFrom = Date.parse(from);
  const to = query.get('createdTimeTo');
  if (to) filter.createdTimeTo = Date.parse(to);
  const prefix = query.get('instanceIdPrefix');
  if (prefix) filter.instanceIdPrefix = prefix;
  return filter;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
