import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { EventType, eventTypeName } from '../../sandbox/host/durable/types.js';
import { replay, secretLikeValues } from '../support/replay.js';

/** The harness itself: the histories it writes and what it refuses. */

const retry = (() => {
  const options = new df.RetryOptions(1_000, 3);
  options.backoffCoefficient = 2;
  return options;
})();

const withRetry: OrchestrationHandler = function* (context: OrchestrationContext) {
  const value = (yield context.df.callActivityWithRetry('flaky', retry, { n: 1 })) as number;
  return value + 1;
};

describe('replay harness', () => {
  it('writes the retries of callActivityWithRetry as the extension does: failure, retry timer, schedule again', async () => {
    const run = await replay(withRetry, null, {
      activities: {
        flaky: (_: { n: number }, call) => {
          if (call.attempt < 3) throw new Error(`boom ${call.attempt}`);
          return 41;
        },
      },
    });
    expect(run.status).toBe('Completed');
    expect(run.output).toBe(42);
    const kinds = run.history
      .filter(
        (event) =>
          event.EventType !== EventType.OrchestratorStarted &&
          event.EventType !== EventType.OrchestratorCompleted,
      )
      .map((event) => eventTypeName(event.EventType));
    expect(kinds).toEqual([
      'ExecutionStarted',
      'TaskScheduled',
      'TaskFailed',
      'TimerCreated',
      'TimerFired',
      'TaskScheduled',
      'TaskFailed',
      'TimerCreated',
      'TimerFired',
      'TaskScheduled',
      'TaskCompleted',
    ]);
    expect(
      run.timers.map((timer) => [timer.retry, Date.parse(timer.fireAt) - Date.parse(timer.createdAt)]),
    ).toEqual([
      [true, 1_000],
      [true, 2_000],
    ]);
  });

  it('refuses a task yielded again inside a new Task.any (durable-js#574), as the tests host does', async () => {
    const repeats: OrchestrationHandler = function* (context: OrchestrationContext) {
      const slow: Task = context.df.callActivity('slow', null);
      yield context.df.Task.any([slow, context.df.createTimer(new Date(Date.parse('2026-11-22T08:00:01Z')))]);
      yield context.df.Task.any([slow, context.df.createTimer(new Date(Date.parse('2026-11-22T08:00:02Z')))]);
      return 'done';
    };
    await expect(
      replay(repeats, null, { activities: { slow: () => 'late' } }, { activityMs: 10_000 }),
    ).rejects.toThrow(/already-scheduled task/);
  });

  it('fails loudly on an activity no script answers', async () => {
    await expect(replay(withRetry, null, { activities: {} })).rejects.toThrow(
      /no script for activity "flaky"/,
    );
  });

  it('finds secret-looking values in what a run carried', async () => {
    const leaky: OrchestrationHandler = function* (context: OrchestrationContext) {
      context.df.setCustomStatus({ url: 'https://st.blob.core.windows.net/logs?sv=2024&sig=abcDEF123%3D' });
      yield context.df.callActivity('store', { value: 'hunter2-secret-value' });
      return null;
    };
    const run = await replay(leaky, null, { activities: { store: () => null } });
    expect(secretLikeValues(run, ['hunter2-secret-value'])).toEqual([
      'hunter2-secret-value',
      '&sig=abcDEF123%3D',
    ]);
  });
});
