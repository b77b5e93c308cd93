import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { testSettings } from './settings.js';

export interface BrokerOnHost {
  azurite: RunningAzurite;
  host: LocalHost;
  /** Calls the broker's HTTP API with the function key; JSON in and out. */
  api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Polls a request's status until it is one of `statuses`. */
  until(requestId: string, statuses: string[]): Promise<Record<string, unknown>>;
  /** Polls until the running operation reports the step. */
  untilStep(requestId: string, step: string): Promise<Record<string, unknown>>;
  /** Raises the test operation's release event once it waits for it (see intakeTestApp.ts). */
  release(requestId: string, outcome?: 'succeed' | 'fail' | 'reject'): Promise<void>;
  stop(): Promise<void>;
}

const POLL_MS = 25;
const TIMEOUT_MS = 20_000;

/**
 * Starts Azurite and the local Functions host running the broker plus the test operation doubles
 * (test/support/intakeTestApp.ts), on free ports, with durable state in Azurite.
 */
export async function startBrokerOnHost(): Promise<BrokerOnHost> {
  const azurite = await startAzurite();
  const host = await startLocalHost({
    app: () => import('./intakeTestApp.js'),
    settings: testSettings({ AzureWebJobsStorage: azurite.connectionString }) as Record<string, string>,
    storage: { connectionString: azurite.connectionString },
    port: 0,
    // Fail any orchestration that yields a sent task inside a new composite (durable-js#574).
    durable: { rejectRepeatedTasks: true },
  });

  const api: BrokerOnHost['api'] = async (method, path, body) => {
    const response = await fetch(`${host.baseUrl}${path}`, {
      method,
      headers: { 'x-functions-key': host.functionKey, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  const poll = async (
    requestId: string,
    done: (view: Record<string, unknown>) => boolean,
    wanted: string,
  ) => {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const view = (await api('GET', `/api/requests/${requestId}`)).body;
      if (done(view)) return view;
      if (Date.now() > deadline)
        throw new Error(`request ${requestId} is ${JSON.stringify(view)}; wanted ${wanted}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const until: BrokerOnHost['until'] = (requestId, statuses) =>
    poll(requestId, (view) => statuses.includes(String(view['status'])), statuses.join('|'));
  const untilStep: BrokerOnHost['untilStep'] = (requestId, step) =>
    poll(requestId, (view) => view['step'] === step, `step "${step}"`);

  const release: BrokerOnHost['release'] = async (requestId, outcome = 'succeed') => {
    await untilStep(requestId, 'waiting for release');
    const instance = encodeURIComponent(`op:${requestId}`);
    const response = await fetch(
      `${host.baseUrl}/runtime/webhooks/durabletask/instances/${instance}/raiseEvent/test-release?code=${host.systemKey}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome }) },
    );
    if (response.status !== 202)
      throw new Error(`raising test-release on ${requestId} answered ${response.status}`);
  };

  return {
    azurite,
    host,
    api,
    until,
    untilStep,
    release,
    stop: async () => {
      await host.stop();
      await azurite.stop();
    },
  };
}
