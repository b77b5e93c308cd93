import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerOnHost, type BrokerOnHost } from '../support/brokerHost.js';
import { executions } from '../support/intakeTestApp.js';
import { aRequest } from '../support/requests.js';

/**
 * The intake end to end, as in Azure: the HTTP API and the lifecycle-requests queue, the queue
 * trigger, the per-slug runner and the operation orchestrations, all on the local Functions host
 * over Azurite. Operation orchestrations are test doubles (test/support/intakeTestApp.ts).
 */
let broker: BrokerOnHost;

beforeAll(async () => {
  broker = await startBrokerOnHost();
});

afterAll(async () => {
  await broker?.stop();
});

describe('lifecycle intake on the local host', () => {
  it('requires the function key', async () => {
    const response = await fetch(`${broker.host.baseUrl}/api/environments`);
    expect(response.status).toBe(401);
  });

  it('takes a request from the HTTP API through the queue to its operation, showing progress until it succeeds', async () => {
    const submitted = await broker.api('POST', '/api/requests', {
      op: 'provision',
      slug: 'alpha',
      requestId: 'e2e-alpha-1',
    });
    expect(submitted.status).toBe(202);
    expect(await broker.untilStep('e2e-alpha-1', 'waiting for release')).toMatchObject({
      status: 'running',
      instanceId: 'op:e2e-alpha-1',
      progress: { done: 1, total: 2 },
    });
    await broker.release('e2e-alpha-1');
    expect(await broker.until('e2e-alpha-1', ['succeeded', 'failed'])).toMatchObject({
      status: 'succeeded',
      summary: 'done for alpha',
    });
    expect(executions.filter((e) => e.startsWith('e2e-alpha-1:'))).toEqual([
      'e2e-alpha-1:start',
      'e2e-alpha-1:end',
    ]);
  });

  it('runs a message put straight on the queue by another tool', async () => {
    await broker.host.enqueue(
      'lifecycle-requests',
      JSON.stringify(aRequest({ requestId: 'e2e-queue-1', slug: 'queued', op: 'renew-sas', params: {} })),
    );
    await broker.release('e2e-queue-1');
    expect(await broker.until('e2e-queue-1', ['succeeded', 'failed'])).toMatchObject({ status: 'succeeded' });
  });

  it('runs one operation per slug at a time, the rest waiting in order, while other slugs run in parallel', async () => {
    for (const id of ['e2e-serial-1', 'e2e-serial-2', 'e2e-serial-3']) {
      expect(
        (await broker.api('POST', '/api/requests', { op: 'provision', slug: 'serial', requestId: id }))
          .status,
      ).toBe(202);
    }
    expect(
      (
        await broker.api('POST', '/api/requests', {
          op: 'provision',
          slug: 'parallel',
          requestId: 'e2e-parallel-1',
        })
      ).status,
    ).toBe(202);

    await broker.untilStep('e2e-serial-1', 'waiting for release');
    await broker.untilStep('e2e-parallel-1', 'waiting for release'); // another slug is not held up
    expect((await broker.api('GET', '/api/requests/e2e-serial-2')).body).toMatchObject({
      status: 'queued',
      queuePosition: 2,
    });
    expect((await broker.api('GET', '/api/requests/e2e-serial-3')).body).toMatchObject({
      status: 'queued',
      queuePosition: 3,
    });

    await broker.release('e2e-serial-1');
    await broker.untilStep('e2e-serial-2', 'waiting for release');
    expect((await broker.api('GET', '/api/requests/e2e-serial-1')).body).toMatchObject({
      status: 'succeeded',
    });
    expect((await broker.api('GET', '/api/requests/e2e-serial-3')).body).toMatchObject({
      status: 'queued',
      queuePosition: 2,
    });

    await broker.release('e2e-serial-2', 'fail');
    await broker.untilStep('e2e-serial-3', 'waiting for release');
    expect((await broker.api('GET', '/api/requests/e2e-serial-2')).body).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('failed as the test asked'),
    });

    await broker.release('e2e-serial-3', 'reject');
    expect(await broker.until('e2e-serial-3', ['rejected', 'succeeded', 'failed'])).toMatchObject({
      status: 'rejected',
      reason: 'rejected by the test',
    });
    await broker.release('e2e-parallel-1');
    await broker.until('e2e-parallel-1', ['succeeded']);

    expect(executions.filter((e) => e.startsWith('e2e-serial-'))).toEqual([
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
    await broker.api('POST', '/api/requests', body);
    await broker.api('POST', '/api/requests', body);
    await broker.host.enqueue('lifecycle-requests', JSON.stringify(aRequest({ ...body })));
    await broker.release('e2e-once-1');
    await broker.until('e2e-once-1', ['succeeded']);
    await broker.host.waitForIdle();
    expect(executions.filter((e) => e === 'e2e-once-1:start')).toHaveLength(1);
  });

  it('rejects an upgrade of a slug that does not exist, with the reason, and moves on to the next request', async () => {
    await broker.api('POST', '/api/requests', {
      op: 'upgrade',
      slug: 'missing',
      requestId: 'e2e-missing-1',
    });
    await broker.api('POST', '/api/requests', {
      op: 'provision',
      slug: 'missing',
      requestId: 'e2e-missing-2',
    });
    const refused = await broker.until('e2e-missing-1', ['failed', 'succeeded', 'rejected']);
    expect(refused['status']).toBe('rejected');
    expect(String(refused['reason'])).toBe('no environment missing in the registry');
    await broker.release('e2e-missing-2');
    await broker.until('e2e-missing-2', ['succeeded']);
  });

  it('keeps a malformed queue message with its reason where operators can list it, and answers its requestId as rejected', async () => {
    const text = JSON.stringify(aRequest({ requestId: 'e2e-bad-1', slug: 'Bad Slug' }));
    await broker.host.enqueue('lifecycle-requests', text);
    expect(await broker.until('e2e-bad-1', ['rejected'])).toMatchObject({
      errorCode: 'RequestSchemaViolation',
      reason: expect.stringContaining('slug'),
    });
    const list = await broker.api('GET', '/api/rejected');
    const entry = (list.body['rejected'] as Record<string, unknown>[]).find(
      (r) => r['requestId'] === 'e2e-bad-1',
    );
    expect(entry).toMatchObject({ code: 'RequestSchemaViolation', source: 'queue' });
    const whole = await broker.api('GET', `/api/rejected/${String(entry!['id'])}`);
    expect(JSON.parse(String(whole.body['originalText']))).toEqual(JSON.parse(text));
  });

  it('keeps a message that is not JSON at all', async () => {
    await broker.host.enqueue('lifecycle-requests', 'definitely { not json');
    await broker.host.waitForIdle();
    const list = await broker.api('GET', '/api/rejected');
    expect(
      (list.body['rejected'] as Record<string, unknown>[]).some(
        (r) => r['code'] === 'RequestInvalidJson' && r['preview'] === 'definitely { not json',
      ),
    ).toBe(true);
  });
});
