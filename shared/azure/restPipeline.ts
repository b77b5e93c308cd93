import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  exponentialRetryPolicy,
  throttlingRetryPolicy,
  tracingPolicy,
  type HttpMethods,
  type PipelinePolicy,
} from '@azure/core-rest-pipeline';

/**
 * An HTTP transport for the REST APIs the Azure SDK has no client for here (Microsoft Graph), on
 * the SDK's own `@azure/core-rest-pipeline`: the tracing policy makes each call a span (a
 * dependency in Application Insights through the Azure Monitor distro), 429 and 503 with
 * Retry-After are waited out for every method (the call was not processed), other 5xx and
 * network errors are retried with back-off only for idempotent methods (a POST that timed out may
 * have created its object; the caller reads and decides), and every attempt has a timeout.
 */
export interface RestAnswer {
  status: number;
  headers: { get(name: string): string | undefined };
  text: string;
}

export type RestSend = (request: { method: HttpMethods; url: string; body?: unknown }) => Promise<RestAnswer>;

const IDEMPOTENT = new Set<HttpMethods>(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

export function createRestPipeline(options: {
  credential: TokenCredential;
  scope: string;
  /** Retries after the first attempt (throttling and transient errors each). */
  maxRetries?: number;
  timeoutMs?: number;
  /** Back-off of the transient-error retries (defaults: 500 ms doubling, at most 8 s). */
  retryDelayMs?: number;
}): RestSend {
  const maxRetries = options.maxRetries ?? 3;
  const transient = exponentialRetryPolicy({
    maxRetries,
    retryDelayInMs: options.retryDelayMs ?? 500,
    maxRetryDelayInMs: 8_000,
  });
  const idempotentRetry: PipelinePolicy = {
    name: 'idempotentRetryPolicy',
    sendRequest: (request, next) =>
      IDEMPOTENT.has(request.method) ? transient.sendRequest(request, next) : next(request),
  };
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(tracingPolicy({ userAgentPrefix: 'claw-broker' }));
  pipeline.addPolicy(throttlingRetryPolicy({ maxRetries }), { phase: 'Retry' });
  pipeline.addPolicy(idempotentRetry, { phase: 'Retry' });
  pipeline.addPolicy(
    bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: options.scope }),
    {
      phase: 'Sign',
    },
  );
  const client = createDefaultHttpClient();
  return async ({ method, url, body }) => {
    const request = createPipelineRequest({
      url,
      method,
      timeout: options.timeoutMs ?? 30_000,
      headers: createHttpHeaders(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const response = await pipeline.sendRequest(client, request);
    return {
      status: response.status,
      headers: { get: (name) => response.headers.get(name) },
      text: response.bodyAsText ?? '',
    };
  };
}
