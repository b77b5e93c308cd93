import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, ManualClock, startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import { raiseEvent, start } from './support/management.js';

/**
 * The test-time check the sandbox and the broker's tests run with: an orchestration that yields a
 * task it already sent inside a new Task.any / Task.all fails at once, naming the task, instead of
 * being scheduled again as the Durable extension would (durable-js#574).
 */
describe('the repeated-task check of the local host', () => {
  let host: LocalHost;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock('2026-04-01T00:00:00.000Z');
    host = await startLocalHost({
      app: () => import('./apps/repeatedTasks.js'),
      storage: 'memory',
      port: 0,
      clock,
      taskHub: 'RepeatedTasks',
      hostJson: {},
      durable: { rejectRepeatedTasks: true },
    });
  });
  afterAll(async () => host.stop());

  it('fails a fan-in that builds a new Task.any over tasks it already sent', async () => {
    await start(host, 'brokenFanIn', 'broken-fan-in');
    const status = await host.waitForInstance('broken-fan-in');
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(
      /^Orchestration "brokenFanIn" yielded an already-scheduled task \(CallActivity "echoStep"\) inside a new Task\.any: .*durable-js#574/,
    );
    // Nothing was scheduled a second time: the instance failed before the extension's replay.
    const scheduled = host
      .history('broken-fan-in')
      .filter((event) => event.EventType === EventType.TaskScheduled);
    expect(scheduled).toHaveLength(3);
  });

  it('fails a wait that puts the same deadline timer into a second Task.any', async () => {
    await start(host, 'brokenDeadline', 'broken-deadline');
    await host.waitForIdle();
    expect(host.getStatus('broken-deadline')?.runtimeStatus).toBe('Running');
    await raiseEvent(host, 'broken-deadline', 'Decision', 'ignored');
    const status = await host.waitForInstance('broken-deadline');
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(/yielded an already-scheduled task \(CreateTimer\) inside a new Task\.any/);
    const timers = host
      .history('broken-deadline')
      .filter((event) => event.EventType === EventType.TimerCreated);
    expect(timers).toHaveLength(1);
  });

  it('lets the shapes the library sends correctly through', async () => {
    await start(host, 'freshFanIn', 'fresh-fan-in');
    await start(host, 'batchFanIn', 'batch-fan-in');
    expect((await host.waitForInstance('fresh-fan-in')).output).toEqual(['a', 'b', 'c']);
    expect((await host.waitForInstance('batch-fan-in')).output).toEqual(['a', 'b', 'c']);
    for (const id of ['fresh-fan-in', 'batch-fan-in']) {
      const scheduled = host.history(id).filter((event) => event.EventType === EventType.TaskScheduled);
      expect(scheduled.map((event) => event.EventId)).toEqual([0, 1, 2]);
    }
  });
});
