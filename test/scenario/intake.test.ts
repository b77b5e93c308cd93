import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { testSettings } from '../support/settings.js';
import { aRequest } from '../support/requests.js';

/**
 * The intake end to end, as in Azure: the HTTP API and the lifecycle-requests queue, the queue
 * trigger, the per-slug runner and the operation orchestrations, all on the local Functions host
 * over Azurite. Operation orchestrations are test doubles (test/support/intakeTestApp.ts).
 */
let azurite: RunningAzurite;
let host: LocalHost;
let executions: string[];

beforeAll(async () => {
  azurite = await startAzurite();
  host = await startLocalHost({
    app: async () => {
      const app = await import('../support/intakeTestApp.js');
      executions = app.executions;
      return app;
    },
    settings: testSettings({ AzureWebJobsStorage: azurite.connectionString }) as Record<string, string>,
    storage: { connectionString: azurite.connectionString },
    port: 0,
  });
});

afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${host.baseUrl}${path}`, {
    method,
    headers: { 'x-functions-key': host.functionKey, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function statusOf(requestId: string): Promise<Record<string, unknown>> {
  return (await api('GET', `/api/requests/${requestId}`)).body;
}

/** Polls the API (the way the CLI does) until the request reaches one of the statuses. */
async function until(requestId: string, statuses: string[], timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await statusOf(requestId);
    if (statuses.includes(String(view['status']))) return view;
    if (Date.now() > deadline) throw new Error(`request ${requestId} stayed ${String(view['status'])}; wanted ${statuses.join('|')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls until the running operation reports the step. */
async function untilStep(requestId: string, step: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = await statusOf(requestId);
    if (view['step'] === step) return view;
    if (Date.now() > deadline) throw new Error(`operation ${requestId} never reached step "${step}"`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Raises the test double's release event once its operation is waiting for it. */
async function release(requestId: string, outcome: 'succeed' | 'fail' | 'reject' = 'succeed'): Promise<void> {
  await untilStep(requestId, 'waiting for release');
  const response = await fetch(
    `${host.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(`op:${requestId}`)}/raiseEvent/test-release?code=${host.systemKey}`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome }) },
  );
  expect(response.status).toBe(202);
}

describe('lifecycle intake on the local host', () => {
  it('requires the function key', async () => {
    const response = await fetch(`${host.baseUrl}/api/environments`);
    expect(response.status).toBe(401);
  });

  it('takes a request from the HTTP API through the queue to its operation, showing progress until it succeeds', async () => {
    const submitted = await api('POST', '/api/requests', { op: 'provision', slug: 'alpha', requestId: 'e2e-alpha-1' });
    expect(submitted.status).toBe(202);
    const running = await until('e2e-alpha-1', ['running']);
    expect(running).toMatchObject({ status: 'running', instanceId: 'op:e2e-alpha-1' });
    expect(await untilStep('e2e-alpha-1', 'waiting for release')).toMatchObject({ status: 'running', progress: { done: 1, total: 2 } });
    await release('e2e-alpha-1');
    const done = await until('e2e-alpha-1', ['succeeded', 'failed']);
    expect(done).toMatchObject({ status: 'succeeded', summary: 'done for alpha' });
    expect(executions.filter((e) => e.startsWith('e2e-alpha-1:'))).toEqual(['e2e-alpha-1:start', 'e2e-alpha-1:end']);
  });

  it('runs a message put straight on the queue by another tool', async () => {
    await host.enqueue('lifecycle-requests', JSON.stringify(aRequest({ requestId: 'e2e-queue-1', slug: 'queued', op: 'renew-sas', params: {} })));
    await until('e2e-queue-1', ['running']);
    await release('e2e-queue-1');
    expect(await until('e2e-queue-1', ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
  });

  it('runs one operation per slug at a time, the rest waiting in order, while other slugs run in parallel', async () => {
    for (const id of ['e2e-serial-1', 'e2e-serial-2', 'e2e-serial-3']) {
      expect((await api('POST', '/api/requests', { op: 'provision', slug: 'serial', requestId: id })).status).toBe(202);
    }
    expect((await api('POST', '/api/requests', { op: 'provision', slug: 'parallel', requestId: 'e2e-parallel-1' })).status).toBe(202);

    await until('e2e-serial-1', ['running']);
    await until('e2e-parallel-1', ['running']); // another slug is not held up
    expect(await statusOf('e2e-serial-2')).toMatchObject({ status: 'queued', queuePosition: 2 });
    expect(await statusOf('e2e-serial-3')).toMatchObject({ status: 'queued', queuePosition: 3 });

    await release('e2e-serial-1');
    await until('e2e-serial-2', ['running']);
    expect(await statusOf('e2e-serial-1')).toMatchObject({ status: 'succeeded' });
    expect(await statusOf('e2e-serial-3')).toMatchObject({ status: 'queued', queuePosition: 2 });

    await release('e2e-serial-2', 'fail');
    await until('e2e-serial-3', ['running']);
    expect(await statusOf('e2e-serial-2')).toMatchObject({ status: 'failed', reason: expect.stringContaining('failed as the test asked') });

    await release('e2e-serial-3', 'reject');
    expect(await until('e2e-serial-3', ['rejected', 'succeeded', 'failed'])).toMatchObject({ status: 'rejected', reason: 'rejected by the test' });
    await release('e2e-parallel-1');
    await until('e2e-parallel-1', ['succeeded']);

    const serial = executions.filter((e) => e.startsWith('e2e-serial-'));
    expect(serial).toEqual([
      'e2e-serial-1:start',
      'e2e-serial-1:end',
      'e2e-serial-2:start',
      'e2e-serial-2:end',
      'e2e-serial-3:start',
      'e2e-serial-3:end',
    ]);
  });

  it('runs the same requestId once, however often it is submitted or enqueued', async () => {
    const body = { op: 'provision', slug: 'once', requestId: 'e2e-once-1' };
    await api('POST', '/api/requests', body);
    await api('POST', '/api/requests', body);
    await host.enqueue('lifecycle-requests', JSON.stringify(aRequest({ ...body })));
    await until('e2e-once-1', ['running']);
    await release('e2e-once-1');
    await until('e2e-once-1', ['succeeded']);
    await host.waitForIdle();
    expect(executions.filter((e) => e === 'e2e-once-1:start')).toHaveLength(1);
  });

  it('fails a request whose operation is not available in this build, with the reason, and moves on', async () => {
    await api('POST', '/api/requests', { op: 'teardown', slug: 'missing', requestId: 'e2e-missing-1' });
    const failed = await until('e2e-missing-1', ['failed', 'succeeded']);
    expect(failed['status']).toBe('failed');
    expect(String(failed['reason'])).toContain('teardownOrchestration');
    await api('POST', '/api/requests', { op: 'provision', slug: 'missing', requestId: 'e2e-missing-2' });
    await until('e2e-missing-2', ['running']);
    await release('e2e-missing-2');
    await until('e2e-missing-2', ['succeeded']);
  });

  it('keeps a malformed queue message with its reason where operators can list it, and answers its requestId as rejected', async () => {
    const text = JSON.stringify(aRequest({ requestId: 'e2e-bad-1', slug: 'Bad Slug' }));
    await host.enqueue('lifecycle-requests', text);
    const rejected = await until('e2e-bad-1', ['rejected']);
    expect(rejected).toMatchObject({ errorCode: 'RequestSchemaViolation', reason: expect.stringContaining('slug') });
    const list = await api('GET', '/api/rejected');
    const entry = (list.body['rejected'] as Record<string, unknown>[]).find((r) => r['requestId'] === 'e2e-bad-1');
    expect(entry).toMatchObject({ code: 'RequestSchemaViolation', source: 'queue' });
    const whole = await api('GET', `/api/rejected/${String(entry!['id'])}`);
    expect(JSON.parse(String(whole.body['originalText']))).toEqual(JSON.parse(text));
  });

  it('keeps a message that is not JSON at all', async () => {
    await host.enqueue('lifecycle-requests', 'definitely { not json');
    await host.waitForIdle();
    const list = await api('GET', '/api/rejected');
    expect((list.body['rejected'] as Record<string, unknown>[]).some((r) => r['code'] === 'RequestInvalidJson' && r['preview'] === 'definitely { not json')).toBe(true);
  });
});
