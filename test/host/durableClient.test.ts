import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { raiseEvent, start, startInstance, webhook } from './support/management.js';

interface CheckStatusBody {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
}

interface StatusBody {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  history?: { EventType: string }[];
}

describe('the durable client inside app functions talks to the local host like to Azure', () => {
  let host: LocalHost;
  let clock: ManualClock;
  const api = (path: string) => `${host.baseUrl}/api${path}`;
  const post = (path: string, body?: unknown) =>
    fetch(api(path), { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  beforeAll(async () => {
    clock = new ManualClock('2026-04-01T08:00:00.000Z');
    host = await startLocalHost({
      app: async () => {
        await import('./apps/clientApi.js');
        await import('./apps/sequence.js');
        await import('./apps/durableFeatures.js');
      },
      port: 0,
      clock,
      taskHub: 'ClientHub',
      hostJson: {},
    });
  });
  afterAll(async () => host.stop());

  it('startNew plus createCheckStatusResponse answers 202 with management links on this host', async () => {
    const response = await post('/orchestrators/greetCities/client-start', ['Paris']);
    expect(response.status).toBe(202);
    const body = (await response.json()) as CheckStatusBody;
    expect(body.id).toBe('client-start');
    expect(response.headers.get('location')).toBe(body.statusQueryGetUri);
    expect(
      body.statusQueryGetUri.startsWith(
        `${host.baseUrl}/runtime/webhooks/durabletask/instances/client-start?`,
      ),
    ).toBe(true);
    await host.waitForInstance('client-start');
    const status = await fetch(body.statusQueryGetUri);
    expect(status.status).toBe(200);
    expect(((await status.json()) as StatusBody).output).toEqual(['Hello Paris']);
  });

  it('getStatus reports runtime status, custom status, input, output and times', async () => {
    await start(host, 'waitsForever', 'client-status', { reason: 'status' });
    await host.waitForIdle();
    const running = (await (await fetch(api('/instances/client-status'))).json()) as StatusBody;
    expect(running).toMatchObject({
      name: 'waitsForever',
      instanceId: 'client-status',
      runtimeStatus: 'Running',
      input: { reason: 'status' },
      customStatus: 'waiting for Never',
      output: null,
      createdTime: '2026-04-01T08:00:00.000Z',
    });
    // The extension answers with historyEvents while durable-functions reads `history`, so the
    // client's status.history stays undefined on Azure too; raw HTTP shows the events.
    expect(running.history).toBeUndefined();
    const raw = await fetch(webhook(host, '/instances/client-status?showHistory=true'));
    expect(raw.status).toBe(202);
    const rawBody = (await raw.json()) as { historyEvents: { EventType: string }[] };
    expect(rawBody.historyEvents.map((event) => event.EventType)).toEqual(['ExecutionStarted']);
  });

  it('getStatus of an unknown instance fails with the 404 message', async () => {
    const response = await fetch(api('/instances/nobody-home'));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { message: string }).message).toContain('HTTP 404');
  });

  it('refuses to start an instance id that is still running with 409', async () => {
    await start(host, 'waitsForever', 'client-duplicate');
    expect((await startInstance(host, 'waitsForever', 'client-duplicate')).status).toBe(409);
    const viaClient = await post('/orchestrators/waitsForever/client-duplicate');
    expect(viaClient.status).toBe(500);
    expect(((await viaClient.json()) as { message: string }).message).toContain('409');
  });

  it('restarts a completed instance id as a new execution', async () => {
    await start(host, 'greetCities', 'client-restart', ['A']);
    await host.waitForInstance('client-restart');
    await start(host, 'greetCities', 'client-restart', ['B']);
    const status = await host.waitForInstance('client-restart');
    expect(status.output).toEqual(['Hello B']);
  });

  it('raiseEvent resumes a waiting instance; 404 for unknown ids and 410 once finished', async () => {
    await start(host, 'collectItems', 'client-events');
    for (const item of [1, 2, 3]) {
      expect((await post('/instances/client-events/events/Item', item)).status).toBe(202);
    }
    expect((await host.waitForInstance('client-events')).output).toEqual([1, 2, 3]);
    expect((await raiseEvent(host, 'client-events', 'Item', 4)).status).toBe(410);
    expect((await raiseEvent(host, 'nobody-home', 'Item', 4)).status).toBe(404);
    const unknownViaClient = await post('/instances/nobody-home/events/Item', 4);
    expect(unknownViaClient.status).toBe(404);
    expect(((await unknownViaClient.json()) as { message: string }).message).toBe(
      "No instance with ID 'nobody-home' found.",
    );
  });

  it('terminate ends a running instance with the reason as output; 410 when already finished', async () => {
    await start(host, 'waitsForever', 'client-terminate');
    await host.waitForIdle();
    expect((await post('/instances/client-terminate/terminate')).status).toBe(202);
    const status = await host.waitForInstance('client-terminate');
    expect(status.runtimeStatus).toBe('Terminated');
    expect(status.output).toBe('operator asked');
    const again = await fetch(webhook(host, '/instances/client-terminate/terminate?reason=again'), {
      method: 'POST',
    });
    expect(again.status).toBe(410);
  });

  it('purge deletes a finished instance so its status is gone', async () => {
    await start(host, 'greetCities', 'client-purge', ['Z']);
    await host.waitForInstance('client-purge');
    const purged = await fetch(api('/instances/client-purge'), { method: 'DELETE' });
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
    expect(host.getStatus('client-purge')).toBeUndefined();
    const again = await fetch(api('/instances/client-purge'), { method: 'DELETE' });
    expect(await again.json()).toEqual({ instancesDeleted: 0 });
  });

  it('lists instances filtered by runtime status', async () => {
    const response = await fetch(webhook(host, '/instances/?runtimeStatus=Terminated'));
    const statuses = (await response.json()) as StatusBody[];
    expect(statuses.map((status) => status.instanceId)).toEqual(['client-terminate']);
  });

  it('enforces instance id rules: at most 256 characters and none of / \\ # ?', async () => {
    expect((await startInstance(host, 'greetCities', 'x'.repeat(257), [])).status).toBe(400);
    expect((await startInstance(host, 'greetCities', 'has#hash', [])).status).toBe(400);
    expect((await startInstance(host, 'greetCities', 'has?question', [])).status).toBe(400);
    expect((await startInstance(host, 'greetCities', 'back\\slash', [])).status).toBe(400);
    expect((await startInstance(host, 'greetCities', 'y'.repeat(256), [])).status).toBe(202);
    expect((await startInstance(host, 'notAnOrchestrator', 'unknown-function', [])).status).toBe(400);
  });

  it('requires the system key on the webhook management API', async () => {
    const response = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/client-start`);
    expect(response.status).toBe(401);
  });
});
