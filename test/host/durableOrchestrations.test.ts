import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventType, ManualClock, startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { attempts, shapeShifter, tallies } from './apps/durableFeatures.js';
import { activityRuns } from './apps/sequence.js';
import { raiseEvent, start } from './support/management.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

describe('orchestrations replayed by durable-functions on the local host', () => {
  let host: LocalHost;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock('2026-03-01T00:00:00.000Z');
    host = await startLocalHost({
      app: async () => {
        await import('./apps/sequence.js');
        await import('./apps/durableFeatures.js');
      },
      storage: 'memory',
      port: 0,
      clock,
      taskHub: 'DurableFeatures',
      hostJson: {},
    });
  });
  afterAll(async () => host.stop());
  beforeEach(() => {
    attempts.clear();
    activityRuns.clear();
    tallies.clear();
  });

  it('runs activities in sequence and each one exactly once', async () => {
    await start(host, 'greetCities', 'sequence', ['Oslo', 'Lima']);
    const status = await host.waitForInstance('sequence');
    expect(status.output).toEqual(['Hello Oslo', 'Hello Lima']);
    expect(activityRuns.get('greet')).toBe(2);
  });

  it('fans out with Task.all and reports custom status', async () => {
    await start(host, 'fanOutFanIn', 'fan-out', [1, 2, 3, 4, 5]);
    const status = await host.waitForInstance('fan-out');
    expect(status.output).toBe(30);
    expect(status.customStatus).toEqual({ phase: 'done' });
    expect(activityRuns.get('double')).toBe(5);
  });

  it('gives the orchestrator the host clock as currentUtcDateTime', async () => {
    await start(host, 'replayAware', 'clock-read');
    const status = await host.waitForInstance('clock-read');
    const output = status.output as { startedAt: string; now: string };
    expect(output.startedAt).toBe(new Date(clock.now()).toISOString());
    expect(output.now).toBe(new Date(clock.now()).toISOString());
  });

  it('retries a failing activity with backoff timers on the host clock until it succeeds', async () => {
    await start(host, 'retryFlaky', 'retry-ok', { key: 'ok', failures: 2, maxAttempts: 5 });
    await host.waitForIdle();
    expect(host.getStatus('retry-ok')?.runtimeStatus).toBe('Running');
    expect(attempts.get('ok')).toBe(1);
    await clock.advance(999);
    expect(attempts.get('ok')).toBe(1);
    await clock.advance(1);
    expect(attempts.get('ok')).toBe(2);
    await clock.advance(2000); // backoffCoefficient 2: the second delay is 2 s
    const status = await host.waitForInstance('retry-ok');
    expect(status.output).toBe('succeeded on attempt 3');
    const timers = host.history('retry-ok').filter((event) => event.EventType === EventType.TimerCreated);
    expect(timers).toHaveLength(2);
  });

  it('surfaces the last error once retries are exhausted', async () => {
    await start(host, 'retryFlaky', 'retry-exhausted', { key: 'never', failures: 99, maxAttempts: 3 });
    await clock.advance(10_000);
    const status = await host.waitForInstance('retry-exhausted');
    expect(attempts.get('never')).toBe(3);
    const caught = (status.output as { caught: string }).caught;
    expect(caught).toContain('flaky attempt 3 failed');
    expect(caught).not.toContain('attempt 2 failed');
  });

  it('fires the timer after the last failed attempt at once, as DurableTask.Core >= 2.7.0 does', async () => {
    const startedAt = clock.now();
    await start(host, 'retryFlaky', 'retry-last-timer', { key: 'last', failures: 99, maxAttempts: 3 });
    await host.waitForIdle();
    await clock.advance(1000); // attempt 2
    await clock.advance(2000); // attempt 3 fails, then the dummy timer fires without waiting 4 s more
    expect(host.getStatus('retry-last-timer')?.runtimeStatus).toBe('Completed');
    const fireAt = host
      .history('retry-last-timer')
      .filter((event) => event.EventType === EventType.TimerCreated)
      .map((event) => Date.parse(event.FireAt!) - startedAt);
    expect(fireAt).toEqual([1000, 3000, 3000]);
    expect(attempts.get('last')).toBe(3);
  });

  it('schedules a task again with a new id when it is put into a new Task.any (durable-js#574)', async () => {
    const startedAt = clock.now();
    await start(host, 'reusedTaskInAny', 'reused');
    await host.waitForIdle();
    const timers = () =>
      host
        .history('reused')
        .filter((event) => event.EventType === EventType.TimerCreated)
        .map((event) => ({ id: event.EventId, at: Date.parse(event.FireAt!) - startedAt }));
    // The extension replays [WhenAny[timer 0, b 1], WhenAny[timer again]]: the repeat is timer 2.
    expect(timers()).toEqual([
      { id: 0, at: HOUR },
      { id: 2, at: HOUR },
    ]);
    await clock.advance(HOUR);
    const status = await host.waitForInstance('reused');
    // The library numbered "c" 2, so the second timer's TimerFired completed it with no result;
    // the extension ran "c" as number 3 anyway, and the instance finished once it was done.
    expect(status.output).toEqual({ b: 'b', c: null });
    const scheduled = host
      .history('reused')
      .filter((event) => event.EventType === EventType.TaskScheduled)
      .map((event) => [event.EventId, event.Input]);
    expect(scheduled).toEqual([
      [1, '"b"'],
      [3, '"c"'],
    ]);
    expect(tallies.get('c')).toBe(1);
  });

  it('keeps an instance running while a task it started is still open after it returned', async () => {
    await start(host, 'returnsWithOpenChild', 'open-child');
    await host.waitForIdle();
    await clock.advance(60 * 1000);
    // The timer won and the orchestrator returned, but the sub-orchestration is still running.
    expect(host.getStatus('open-child')?.runtimeStatus).toBe('Running');
    expect(host.getStatus('open-child')?.output).toBeNull();
    await raiseEvent(host, 'open-child-child', 'Release', 'late');
    const status = await host.waitForInstance('open-child');
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe('timer won');
  });

  it('refuses retryTimeoutInMilliseconds loudly instead of hanging', async () => {
    await start(host, 'retryWithTimeout', 'retry-timeout');
    const status = await host.waitForInstance('retry-timeout');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('retryTimeoutInMilliseconds is not supported');
  });

  it('lets an approval event win the race and cancels the losing timer so the instance completes at once', async () => {
    await start(host, 'approval', 'approved');
    await host.waitForIdle();
    await clock.advance(HOUR);
    expect((await raiseEvent(host, 'approved', 'Approval', { by: 'admin' })).status).toBe(202);
    const status = await host.waitForInstance('approved');
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({
      decision: { by: 'admin' },
      decidedAt: new Date(clock.now()).toISOString(),
    });
    expect(host.timeline('approved').some((entry) => entry.eventType === 'TimerFired')).toBe(false);
  });

  it('lets the timer win the race when no decision arrives before the deadline', async () => {
    await start(host, 'approval', 'timed-out');
    await host.waitForIdle();
    await clock.advance(DAY - 1);
    expect(host.getStatus('timed-out')?.runtimeStatus).toBe('Running');
    await clock.advance(1);
    const status = await host.waitForInstance('timed-out');
    expect(status.output).toEqual({ decision: 'rejected: no decision before the deadline' });
    expect((await raiseEvent(host, 'timed-out', 'Approval', { by: 'late' })).status).toBe(410);
  });

  it('keeps an instance running until an uncancelled losing timer fires, as on Azure', async () => {
    await start(host, 'approvalWithoutCancel', 'not-cancelled');
    await host.waitForIdle();
    await raiseEvent(host, 'not-cancelled', 'Approval', 'yes');
    await host.waitForIdle();
    expect(host.getStatus('not-cancelled')?.runtimeStatus).toBe('Running');
    await clock.advance(DAY);
    const status = await host.waitForInstance('not-cancelled');
    expect(status.output).toEqual({ decision: 'yes' });
  });

  it('buffers an external event that arrives before the orchestrator waits for it', async () => {
    await start(host, 'earlyEvent', 'early');
    await raiseEvent(host, 'early', 'Go', { by: 'operator' });
    const status = await host.waitForInstance('early');
    expect(status.output).toBe('A then go by operator');
  });

  it('delivers several events of the same name in order', async () => {
    await start(host, 'collectItems', 'items');
    for (const item of ['one', 'two', 'three']) await raiseEvent(host, 'items', 'Item', item);
    const status = await host.waitForInstance('items');
    expect(status.output).toEqual(['one', 'two', 'three']);
  });

  it('splits a timer longer than maximumShortTimerDuration into segments like the extension', async () => {
    const startedAt = clock.now();
    await start(host, 'longSleep', 'long-timer');
    await host.waitForIdle();
    await clock.advance(10 * DAY - 1);
    expect(host.getStatus('long-timer')?.runtimeStatus).toBe('Running');
    await clock.advance(1);
    const status = await host.waitForInstance('long-timer');
    expect(status.output).toEqual({ wokeAt: new Date(startedAt + 10 * DAY).toISOString() });
    const fireTimes = host
      .history('long-timer')
      .filter((event) => event.EventType === EventType.TimerCreated)
      .map((event) => (Date.parse(event.FireAt!) - startedAt) / DAY);
    // The extension (DurableOrchestrationContext.CreateTimer) cuts 3-day segments while 3 days or
    // more remain; the library, which expects the final fire time once 6 days or less remain, still
    // wakes at the right time because it checks the clock when a segment fires.
    expect(fireTimes).toEqual([3, 6, 9, 10]);
  });

  it('catches a failed sub-orchestration in the parent', async () => {
    await start(host, 'parentCatchesChild', 'parent');
    const status = await host.waitForInstance('parent');
    const output = status.output as { ok: string; caught: string };
    expect(output.ok).toBe('C:first:parent');
    expect(output.caught).toContain('explode: child boom');
    expect(host.getStatus('parent-child')?.runtimeStatus).toBe('Failed');
  });

  it('retries a failed sub-orchestration after the retry interval', async () => {
    await start(host, 'retrySubOrchestration', 'sub-retry');
    await host.waitForIdle();
    expect(attempts.get('child')).toBe(1);
    expect(host.getStatus('sub-retry:0')?.runtimeStatus).toBe('Failed');
    await clock.advance(5000);
    const status = await host.waitForInstance('sub-retry');
    expect(status.output).toBe('succeeded on attempt 2');
    const children = host
      .history('sub-retry')
      .filter((event) => event.EventType === EventType.SubOrchestrationInstanceCreated)
      .map((event) => event.InstanceId);
    expect(children).toEqual(['sub-retry:0', 'sub-retry:2']);
  });

  it('fails an orchestration whose error is not caught and keeps its custom status', async () => {
    await start(host, 'unhandledFailure', 'unhandled');
    const status = await host.waitForInstance('unhandled');
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('explode: nobody catches this');
    expect(status.customStatus).toBe('about to fail');
  });

  it('keeps history bounded over 1,000 continueAsNew generations', async () => {
    await start(host, 'countWithContinueAsNew', 'counter', { count: 0, target: 1000 });
    const status = await host.waitForInstance('counter', { timeoutMs: 60_000 });
    expect(status.output).toBe(1000);
    expect(host.history('counter').length).toBeLessThan(10);
    const generations = new Set(host.timeline('counter').map((entry) => entry.generation));
    expect(generations.size).toBeGreaterThan(100);
  });

  it('delivers events raised after continueAsNew to the new generation', async () => {
    await start(host, 'eventGenerations', 'generations', null);
    for (const tick of ['a', 'b', 'c']) {
      await host.waitForIdle();
      await raiseEvent(host, 'generations', 'Tick', tick);
    }
    const status = await host.waitForInstance('generations');
    expect(status.output).toEqual(['a', 'b', 'c']);
  });

  it('holds continueAsNew until a losing timer that was not cancelled fires', async () => {
    await start(host, 'raceThenContinueAsNew', 'held-generation', 0);
    await host.waitForIdle();
    await raiseEvent(host, 'held-generation', 'Next', null);
    await host.waitForIdle();
    const generations = () => new Set(host.timeline('held-generation').map((entry) => entry.generation)).size;
    expect(generations()).toBe(1);
    await clock.advance(HOUR);
    expect(generations()).toBe(2);
  });

  it('fails a non-deterministic orchestrator loudly, naming the orchestration and the step', async () => {
    await start(host, 'shapeShifter', 'shifty');
    await raiseEvent(host, 'shifty', 'Continue', null);
    await host.waitForIdle();
    expect(host.getStatus('shifty')?.runtimeStatus).toBe('Running');
    shapeShifter.secondActivity = 'stepC';
    try {
      await raiseEvent(host, 'shifty', 'Finish', null);
      const status = await host.waitForInstance('shifty');
      expect(status.runtimeStatus).toBe('Failed');
      expect(status.output).toBe(
        'Non-deterministic orchestration "shapeShifter": history has CallActivity "stepB" with sequence number 1, replay scheduled CallActivity "stepC"',
      );
    } finally {
      shapeShifter.secondActivity = 'stepB';
    }
  });

  it('records every history event with its time in the timeline', async () => {
    await start(host, 'greetCities', 'timeline', ['Rome']);
    await host.waitForInstance('timeline');
    const types = host.timeline('timeline').map((entry) => entry.eventType);
    expect(types).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'OrchestratorCompleted',
      'ExecutionCompleted',
    ]);
    const response = await fetch(`${host.baseUrl}/admin/host/instances/timeline/timeline`, {
      headers: { 'x-functions-key': host.masterKey },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { entries: { eventType: string; time: string }[] };
    expect(body.entries.map((entry) => entry.eventType)).toEqual(types);
    expect(body.entries.every((entry) => !Number.isNaN(Date.parse(entry.time)))).toBe(true);
  });
});
