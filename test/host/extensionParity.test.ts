import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EventType,
  ManualClock,
  eventTypeName,
  startLocalHost,
  type HistoryEvent,
  type LocalHost,
} from '../../sandbox/host/index.js';
import { attempts, tallies } from './apps/durableFeatures.js';
import { raiseEvent, start } from './support/management.js';

/**
 * Parity with the Durable extension: for each feature durable-functions' own tests cover
 * (azure-functions-durable-js test/testobjects/TestOrchestrations.ts and testhistories.ts, read for
 * the shapes), the history the extension would write for our orchestrations, in order, with the
 * sequence numbers the Durable Task Framework gives (every action the library sends gets the next
 * number, framework retry timers included), and the outcome of the library's replay over it.
 *
 * Notation: `TaskScheduled#3 name` is a scheduling event with EventId 3; `TaskCompleted->3` a
 * completion for TaskScheduledId 3; `TimerCreated#1 +5s` a timer due 5 s after the instance
 * started; `TimerFired->1` its TimerId. Each line is one history event; episodes are delimited by
 * OrchestratorStarted / OrchestratorCompleted.
 */
describe('parity of the local host with the Durable extension', () => {
  let host: LocalHost;
  let clock: ManualClock;
  let startedAt: number;
  beforeAll(async () => {
    clock = new ManualClock('2026-05-01T00:00:00.000Z');
    host = await startLocalHost({
      app: async () => {
        await import('./apps/sequence.js');
        await import('./apps/durableFeatures.js');
      },
      storage: 'memory',
      port: 0,
      clock,
      taskHub: 'Parity',
      hostJson: {},
    });
  });
  afterAll(async () => host.stop());
  beforeEach(() => {
    attempts.clear();
    tallies.clear();
    startedAt = clock.now();
  });

  const shape = (events: HistoryEvent[]): string[] =>
    events.map((event) => {
      const name = eventTypeName(event.EventType);
      switch (event.EventType) {
        case EventType.TaskScheduled:
          return `${name}#${event.EventId} ${event.Name}`;
        case EventType.SubOrchestrationInstanceCreated:
          return `${name}#${event.EventId} ${event.Name} ${event.InstanceId}`;
        case EventType.TimerCreated:
          return `${name}#${event.EventId} +${(Date.parse(event.FireAt!) - startedAt) / 1000}s`;
        case EventType.TaskCompleted:
        case EventType.TaskFailed:
        case EventType.SubOrchestrationInstanceCompleted:
        case EventType.SubOrchestrationInstanceFailed:
          return `${name}->${event.TaskScheduledId}`;
        case EventType.TimerFired:
          return `${name}->${event.TimerId}`;
        case EventType.EventRaised:
          return `${name} ${event.Name}`;
        case EventType.ExecutionCompleted:
          return `${name} ${event.OrchestrationStatus}`;
        default:
          return name;
      }
    });
  const history = (id: string) => shape(host.history(id));
  const of = (id: string, type: number) => host.history(id).filter((event) => event.EventType === type);

  it('activities in sequence: one number each, results as JSON in Result', async () => {
    await start(host, 'greetCities', 'p-sequence', ['Oslo', 'Lima']);
    const status = await host.waitForInstance('p-sequence');
    expect(status.output).toEqual(['Hello Oslo', 'Hello Lima']);
    expect(history('p-sequence')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled#0 greet',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted->0',
      'TaskScheduled#1 greet',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted->1',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
    const [scheduled] = of('p-sequence', EventType.TaskScheduled);
    expect(scheduled!.Input).toBe('"Oslo"');
    expect(of('p-sequence', EventType.TaskCompleted).map((event) => event.Result)).toEqual([
      '"Hello Oslo"',
      '"Hello Lima"',
    ]);
  });

  it('an activity failure: TaskFailed with Reason and Details, the orchestrator fails with it', async () => {
    await start(host, 'unhandledFailure', 'p-failure');
    const status = await host.waitForInstance('p-failure');
    expect(status.runtimeStatus).toBe('Failed');
    expect(history('p-failure')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled#0 explode',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskFailed->0',
      'OrchestratorCompleted',
      'ExecutionCompleted Failed',
    ]);
    const [failed] = of('p-failure', EventType.TaskFailed);
    expect(failed!.Reason).toBe("Activity function 'explode' failed: explode: nobody catches this");
    expect(JSON.parse(failed!.Details!)).toMatchObject({ Message: 'explode: nobody catches this' });
    expect(status.output).toBe(
      "Orchestrator function 'unhandledFailure' failed: Activity function 'explode' failed: explode: nobody catches this \n " +
        failed!.Details,
    );
  });

  it('retries: a framework timer between attempts, each attempt a new number', async () => {
    await start(host, 'retryFlaky', 'p-retry', { key: 'p-retry', failures: 1, maxAttempts: 3 });
    await host.waitForIdle();
    await clock.advance(1000);
    const status = await host.waitForInstance('p-retry');
    expect(status.output).toBe('succeeded on attempt 2');
    expect(history('p-retry')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled#0 flaky',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskFailed->0',
      'TimerCreated#1 +1s',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TimerFired->1',
      'TaskScheduled#2 flaky',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted->2',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
  });

  it('retries fanned out with Task.all: retry timers take the next numbers as failures arrive', async () => {
    await start(host, 'retryFanOut', 'p-retry-fan');
    await host.waitForIdle();
    await clock.advance(1000);
    const status = await host.waitForInstance('p-retry-fan');
    expect(status.output).toEqual(['succeeded on attempt 2', 'succeeded on attempt 1']);
    const scheduling = history('p-retry-fan').filter((line) => /#\d/.test(line));
    expect(scheduling).toEqual([
      'TaskScheduled#0 flaky',
      'TaskScheduled#1 flaky',
      'TimerCreated#2 +1s',
      'TaskScheduled#3 flaky',
    ]);
  });

  it('the timer after the last failed attempt fires at once (DurableTask.Core >= 2.7.0)', async () => {
    await start(host, 'retryFlaky', 'p-retry-last', { key: 'p-last', failures: 9, maxAttempts: 2 });
    await host.waitForIdle();
    await clock.advance(1000);
    const status = await host.waitForInstance('p-retry-last');
    expect((status.output as { caught: string }).caught).toContain('flaky attempt 2 failed');
    expect(history('p-retry-last')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled#0 flaky',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskFailed->0',
      'TimerCreated#1 +1s',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TimerFired->1',
      'TaskScheduled#2 flaky',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskFailed->2',
      'TimerCreated#3 +1s',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TimerFired->3',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
  });

  it('a durable timer: TimerCreated with FireAt, TimerFired with TimerId and FireAt', async () => {
    await start(host, 'approval', 'p-timer');
    await host.waitForIdle();
    await clock.advance(24 * 60 * 60 * 1000);
    const status = await host.waitForInstance('p-timer');
    expect(status.output).toEqual({ decision: 'rejected: no decision before the deadline' });
    expect(history('p-timer')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TimerCreated#0 +86400s',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TimerFired->0',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
    const [fired] = of('p-timer', EventType.TimerFired);
    expect(fired!.FireAt).toBe(of('p-timer', EventType.TimerCreated)[0]!.FireAt);
  });

  it('a Task.any race won by an event: the cancelled timer never fires and the instance completes', async () => {
    await start(host, 'approval', 'p-race');
    await host.waitForIdle();
    await raiseEvent(host, 'p-race', 'Approval', { by: 'ada' });
    const status = await host.waitForInstance('p-race');
    expect(status.output).toMatchObject({ decision: { by: 'ada' } });
    expect(history('p-race')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TimerCreated#0 +86400s',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'EventRaised Approval',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
    expect(of('p-race', EventType.EventRaised)[0]!.Input).toBe('{"by":"ada"}');
  });

  it('a buffered event: raised before the wait, delivered when the orchestrator asks for it', async () => {
    await start(host, 'eventBeforeWait', 'p-buffered');
    await host.waitForIdle();
    await raiseEvent(host, 'p-buffered', 'Go', { by: 'ops' });
    await host.waitForIdle();
    expect(host.getStatus('p-buffered')?.runtimeStatus).toBe('Running');
    await clock.advance(60_000);
    const status = await host.waitForInstance('p-buffered');
    expect(status.output).toEqual({ by: 'ops' });
    expect(history('p-buffered')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TimerCreated#0 +60s',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'EventRaised Go',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TimerFired->0',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
  });

  it('Task.all: every child numbered in order in one episode, custom status as set last', async () => {
    await start(host, 'fanOutFanIn', 'p-all', [1, 2, 3]);
    const status = await host.waitForInstance('p-all');
    expect(status.output).toBe(12);
    expect(status.customStatus).toEqual({ phase: 'done' });
    const lines = history('p-all');
    expect(lines.slice(0, 6)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled#0 double',
      'TaskScheduled#1 double',
      'TaskScheduled#2 double',
      'OrchestratorCompleted',
    ]);
    expect(lines.filter((line) => line.startsWith('TaskCompleted')).sort()).toEqual([
      'TaskCompleted->0',
      'TaskCompleted->1',
      'TaskCompleted->2',
    ]);
    expect(lines.at(-1)).toBe('ExecutionCompleted Completed');
  });

  // Divergence kept (sandbox/host/README.md): without an instance id the host names the child
  // `<parent id>:<number>`; DTFx names it `<parent execution id>:<number>`.
  it('sub-orchestrations: created with their instance ids, completed and failed by number', async () => {
    await start(host, 'parentCatchesChild', 'p-sub');
    const status = await host.waitForInstance('p-sub');
    expect(status.output).toMatchObject({ ok: 'C:first:p-sub' });
    expect(history('p-sub')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'SubOrchestrationInstanceCreated#0 succeedingChild p-sub:0',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'SubOrchestrationInstanceCompleted->0',
      'SubOrchestrationInstanceCreated#1 failingChild p-sub-child',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'SubOrchestrationInstanceFailed->1',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
    expect(of('p-sub', EventType.SubOrchestrationInstanceCompleted)[0]!.Result).toBe('"C:first:p-sub"');
  });

  it('continue-as-new: each generation starts a fresh history with the new input', async () => {
    await start(host, 'countWithContinueAsNew', 'p-can', { count: 0, target: 2 });
    const status = await host.waitForInstance('p-can');
    expect(status.output).toBe(2);
    const timeline = host.timeline('p-can');
    expect(new Set(timeline.map((entry) => entry.generation)).size).toBe(3);
    expect(timeline.filter((entry) => entry.eventType === 'ContinueAsNew')).toHaveLength(2);
    expect(history('p-can')).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'OrchestratorCompleted',
      'ExecutionCompleted Completed',
    ]);
    expect(of('p-can', EventType.ExecutionStarted)[0]!.Input).toBe('{"count":2,"target":2}');
  });

  it('custom status: what the orchestrator set last is the status while it waits', async () => {
    await start(host, 'waitsForever', 'p-status');
    await host.waitForIdle();
    expect(host.getStatus('p-status')).toMatchObject({
      runtimeStatus: 'Running',
      customStatus: 'waiting for Never',
    });
    expect(history('p-status')).toEqual(['OrchestratorStarted', 'ExecutionStarted', 'OrchestratorCompleted']);
  });

  it('newGuid and currentUtcDateTime: the same values on every replay, the clock of each episode', async () => {
    await start(host, 'guidsAndClock', 'p-guid');
    await host.waitForIdle();
    await clock.advance(60_000);
    const status = await host.waitForInstance('p-guid');
    const output = status.output as { first: string; second: string; startedAt: string; wokeAt: string };
    // The guid the first episode sent to the activity is the one the last replay computed.
    expect(of('p-guid', EventType.TaskScheduled)[0]!.Input).toBe(JSON.stringify(output.first));
    expect(output.first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(output.second).not.toBe(output.first);
    expect(output.startedAt).toBe(new Date(startedAt).toISOString());
    expect(output.wokeAt).toBe(new Date(startedAt + 60_000).toISOString());
    expect(history('p-guid').filter((line) => /#\d/.test(line))).toEqual([
      'TaskScheduled#0 tally',
      'TimerCreated#1 +60s',
    ]);
  });

  it('a re-used task in a new Task.all is scheduled again and the results shift (durable-js#574)', async () => {
    await start(host, 'reusedTaskInAll', 'p-reuse-all');
    const status = await host.waitForInstance('p-reuse-all');
    // The extension replays [a, WhenAll[a again, b]]: a' is number 1 and b number 2, while the
    // library numbered b 1, so b's result is a's second run.
    expect(status.output).toEqual(['a', 'a']);
    expect(of('p-reuse-all', EventType.TaskScheduled).map((event) => [event.EventId, event.Input])).toEqual([
      [0, '"a"'],
      [1, '"a"'],
      [2, '"b"'],
    ]);
    expect(tallies.get('a')).toBe(2);
    expect(tallies.get('b')).toBe(1);
    // Completed only once the extension's b (number 2) was done: no task is open.
    expect(history('p-reuse-all').at(-1)).toBe('ExecutionCompleted Completed');
  });

  it('a timer re-used in a new Task.any is scheduled again, and the next task gets its firing (durable-js#574)', async () => {
    await start(host, 'reusedTaskInAny', 'p-reuse-any');
    await host.waitForIdle();
    await clock.advance(60 * 60 * 1000);
    const status = await host.waitForInstance('p-reuse-any');
    expect(status.output).toEqual({ b: 'b', c: null });
    expect(history('p-reuse-any').filter((line) => /#\d/.test(line))).toEqual([
      'TimerCreated#0 +3600s',
      'TaskScheduled#1 tally',
      'TimerCreated#2 +3600s',
      'TaskScheduled#3 tally',
    ]);
  });
});
