import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { ManualClock, startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { hookLog, lifecycle, processed, timerFirings } from './apps/triggers.js';

const hostJson = {
  version: '2.0',
  extensions: {
    http: { routePrefix: 'api' },
    queues: {
      batchSize: 4,
      newBatchThreshold: 2,
      maxPollingInterval: '00:00:01',
      visibilityTimeout: '00:00:30',
      maxDequeueCount: 3,
      messageEncoding: 'base64',
    },
  },
};

describe('HTTP, queue and timer triggers on the local host', () => {
  let azurite: RunningAzurite;
  let host: LocalHost;
  let clock: ManualClock;
  beforeAll(async () => {
    azurite = await startAzurite();
    clock = new ManualClock('2026-05-01T00:00:00.000Z');
    host = await startLocalHost({
      app: () => import('./apps/triggers.js'),
      settings: {
        AzureWebJobsStorage: azurite.connectionString,
        WORK_QUEUE: 'work-items',
        SWEEP_SCHEDULE: '0 */5 * * * *',
      },
      port: 0,
      clock,
      hostJson,
      taskHub: 'TriggersHub',
    });
  });
  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('routes under /api with route parameters, an optional one included', async () => {
    const withId = await fetch(`${host.baseUrl}/api/items/books/42?tag=new`);
    expect(withId.status).toBe(200);
    expect(await withId.json()).toEqual({ params: { category: 'books', id: '42' }, tag: 'new' });
    expect(withId.headers.get('x-handled-by')).toBe('describeItem');
    expect(withId.headers.get('set-cookie')).toBe('seen=yes; HttpOnly');
    const withoutId = await fetch(`${host.baseUrl}/api/items/books`);
    expect(await withoutId.json()).toEqual({ params: { category: 'books' }, tag: null });
    expect((await fetch(`${host.baseUrl}/api/items/books/not-a-number`)).status).toBe(404);
    expect(await (await fetch(`${host.baseUrl}/api/defaultRoute`)).text()).toBe('routed by function name');
    expect((await fetch(`${host.baseUrl}/items/books`)).status).toBe(404);
  });

  it('requires the function key for authLevel function, as a header or a code parameter', async () => {
    const url = `${host.baseUrl}/api/secure/function`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-functions-key': 'wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-functions-key': host.functionKey } })).status).toBe(200);
    expect((await fetch(`${url}?code=${host.functionKey}`)).status).toBe(200);
    expect((await fetch(`${url}?code=${host.masterKey}`)).status).toBe(200);
  });

  it('requires the master key for authLevel admin', async () => {
    const url = `${host.baseUrl}/api/secure/admin`;
    expect((await fetch(url, { headers: { 'x-functions-key': host.functionKey } })).status).toBe(401);
    const ok = await fetch(url, { headers: { 'x-functions-key': host.masterKey } });
    expect(await ok.text()).toBe('admin ok');
  });

  it('runs appStart hooks once when the host starts', () => {
    expect(lifecycle).toEqual(['appStart']);
  });

  it('runs preInvocation and postInvocation hooks around each invocation', async () => {
    hookLog.length = 0;
    await fetch(`${host.baseUrl}/api/defaultRoute`);
    expect(hookLog).toEqual(['pre:defaultRoute', 'post:defaultRoute']);
  });

  it('delivers a queue output binding message to the queue trigger with its metadata', async () => {
    processed.length = 0;
    const response = await fetch(`${host.baseUrl}/api/work`, {
      method: 'POST',
      body: JSON.stringify({ job: 7 }),
    });
    expect(response.status).toBe(202);
    await host.waitForIdle();
    expect(processed).toHaveLength(1);
    expect(processed[0]).toMatchObject({ message: { job: 7 }, dequeueCount: 1 });
    expect(typeof processed[0]!.id).toBe('string');
    expect(processed[0]!.insertionTime).toBeInstanceOf(Date);
  });

  it('retries a failing message after visibilityTimeout and moves it to the poison queue after maxDequeueCount', async () => {
    processed.length = 0;
    await host.enqueue('work-items', { fail: true, job: 'doomed' });
    await host.waitForIdle();
    expect(processed.map((entry) => entry.dequeueCount)).toEqual([1]);
    await clock.advance(29_000);
    expect(processed).toHaveLength(1);
    await clock.advance(1_000);
    await host.waitForIdle();
    expect(processed.map((entry) => entry.dequeueCount)).toEqual([1, 2]);
    await clock.advance(30_000);
    await host.waitForIdle();
    expect(processed.map((entry) => entry.dequeueCount)).toEqual([1, 2, 3]);

    const poison = new QueueClient(azurite.connectionString, 'work-items-poison');
    const peeked = await poison.peekMessages({ numberOfMessages: 5 });
    expect(peeked.peekedMessageItems).toHaveLength(1);
    const text = Buffer.from(peeked.peekedMessageItems[0]!.messageText, 'base64').toString('utf8');
    expect(JSON.parse(text)).toEqual({ fail: true, job: 'doomed' });
    const work = new QueueClient(azurite.connectionString, 'work-items');
    expect((await work.getProperties()).approximateMessagesCount).toBe(0);
  });

  it('fires the timer trigger on its NCRONTAB schedule as the ManualClock advances', async () => {
    timerFirings.length = 0;
    await clock.advanceTo('2026-05-01T00:16:00.000Z');
    expect(timerFirings.map((firing) => firing.timer.scheduleStatus?.next)).toEqual([
      '2026-05-01T00:10:00.000Z',
      '2026-05-01T00:15:00.000Z',
      '2026-05-01T00:20:00.000Z',
    ]);
    expect(timerFirings.every((firing) => firing.timer.isPastDue === false)).toBe(true);
    expect(timerFirings[0]!.timer.schedule.adjustForDST).toBe(true);
  });
});
