/**
 * Small orchestrations written the way production code is (df.app.*), one per Durable feature the
 * local host must honour.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';

/** Per-key attempt counters so activities can fail a given number of times. */
export const attempts = new Map<string, number>();
/** Flipped by a test to make an orchestrator non-deterministic on replay. */
export const shapeShifter = { secondActivity: 'stepB' };

const APPROVAL_WINDOW_MS = 24 * 60 * 60 * 1000;

df.app.activity('stepA', { handler: () => 'A' });
df.app.activity('stepB', { handler: () => 'B' });
df.app.activity('stepC', { handler: () => 'C' });

df.app.activity('flaky', {
  handler: (input: { key: string; failures: number }) => {
    const attempt = (attempts.get(input.key) ?? 0) + 1;
    attempts.set(input.key, attempt);
    if (attempt <= input.failures) throw new Error(`flaky attempt ${attempt} failed`);
    return `succeeded on attempt ${attempt}`;
  },
});

df.app.orchestration('retryFlaky', function* (context: OrchestrationContext) {
  const input = context.df.getInput<{ key: string; failures: number; maxAttempts: number }>();
  const retry = new df.RetryOptions(1000, input.maxAttempts);
  retry.backoffCoefficient = 2;
  try {
    return (yield context.df.callActivityWithRetry('flaky', retry, input)) as string;
  } catch (error) {
    return { caught: (error as Error).message };
  }
});

df.app.orchestration('retryWithTimeout', function* (context: OrchestrationContext) {
  const retry = new df.RetryOptions(1000, 3);
  retry.retryTimeoutInMilliseconds = 60_000;
  return (yield context.df.callActivityWithRetry('flaky', retry, { key: 'timeout', failures: 1 })) as string;
});

df.app.orchestration('approval', function* (context: OrchestrationContext) {
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + APPROVAL_WINDOW_MS);
  const timeout = context.df.createTimer(deadline);
  const decision = context.df.waitForExternalEvent('Approval');
  const winner = (yield context.df.Task.any([decision, timeout])) as Task;
  if (winner === decision) {
    timeout.cancel();
    return { decision: decision.result, decidedAt: context.df.currentUtcDateTime.toISOString() };
  }
  return { decision: 'rejected: no decision before the deadline' };
});

df.app.orchestration('approvalWithoutCancel', function* (context: OrchestrationContext) {
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + APPROVAL_WINDOW_MS);
  const winner = (yield context.df.Task.any([
    context.df.waitForExternalEvent('Approval'),
    context.df.createTimer(deadline),
  ])) as Task;
  return { decision: winner.result ?? 'timed out' };
});

df.app.orchestration('earlyEvent', function* (context: OrchestrationContext) {
  const first = (yield context.df.callActivity('stepA')) as string;
  const go = (yield context.df.waitForExternalEvent('Go')) as { by: string };
  return `${first} then go by ${go.by}`;
});

df.app.orchestration('collectItems', function* (context: OrchestrationContext) {
  const items: unknown[] = [];
  for (let i = 0; i < 3; i++) items.push(yield context.df.waitForExternalEvent('Item'));
  return items;
});

df.app.orchestration('waitsForever', function* (context: OrchestrationContext) {
  context.df.setCustomStatus('waiting for Never');
  yield context.df.waitForExternalEvent('Never');
  return 'impossible';
});

df.app.orchestration('longSleep', function* (context: OrchestrationContext) {
  const wakeAt = new Date(context.df.currentUtcDateTime.getTime() + 10 * 24 * 60 * 60 * 1000);
  yield context.df.createTimer(wakeAt);
  return { wokeAt: context.df.currentUtcDateTime.toISOString() };
});

df.app.orchestration('countWithContinueAsNew', function* (context: OrchestrationContext) {
  const state = context.df.getInput<{ count: number; target: number }>();
  if (state.count >= state.target) return state.count;
  yield context.df.callActivity('stepA');
  context.df.continueAsNew({ count: state.count + 1, target: state.target });
  return undefined;
});

df.app.orchestration('eventGenerations', function* (context: OrchestrationContext) {
  const seen = context.df.getInput<string[] | null>() ?? [];
  const next = (yield context.df.waitForExternalEvent('Tick')) as string;
  const all = [...seen, next];
  if (all.length >= 3) return all;
  context.df.continueAsNew(all);
  return undefined;
});

df.app.activity('explode', {
  handler: (reason: string) => {
    throw new Error(`explode: ${reason}`);
  },
});

df.app.orchestration('failingChild', function* (context: OrchestrationContext) {
  yield context.df.callActivity('explode', context.df.getInput<string>());
  return 'unreachable';
});

df.app.orchestration('succeedingChild', function* (context: OrchestrationContext) {
  const letter = (yield context.df.callActivity('stepC')) as string;
  return `${letter}:${context.df.getInput<string>()}:${context.df.parentInstanceId ?? ''}`;
});

df.app.orchestration('parentCatchesChild', function* (context: OrchestrationContext) {
  const ok = (yield context.df.callSubOrchestrator('succeedingChild', 'first')) as string;
  try {
    yield context.df.callSubOrchestrator('failingChild', 'child boom', `${context.df.instanceId}-child`);
    return { ok, caught: null };
  } catch (error) {
    return { ok, caught: (error as Error).message };
  }
});

df.app.orchestration('shapeShifter', function* (context: OrchestrationContext) {
  yield context.df.callActivity('stepA');
  yield context.df.waitForExternalEvent('Continue');
  yield context.df.callActivity(shapeShifter.secondActivity);
  yield context.df.waitForExternalEvent('Finish');
  return 'done';
});

df.app.orchestration('unhandledFailure', function* (context: OrchestrationContext) {
  context.df.setCustomStatus('about to fail');
  yield context.df.callActivity('explode', 'nobody catches this');
  return 'unreachable';
});

df.app.orchestration('raceThenContinueAsNew', function* (context: OrchestrationContext) {
  const round = context.df.getInput<number>();
  if (round >= 2) return round;
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + 60 * 60 * 1000);
  yield context.df.Task.any([context.df.waitForExternalEvent('Next'), context.df.createTimer(deadline)]);
  context.df.continueAsNew(round + 1);
  return undefined;
});

df.app.orchestration('flakyChild', function* (context: OrchestrationContext) {
  return (yield context.df.callActivity(
    'flaky',
    context.df.getInput<{ key: string; failures: number }>(),
  )) as string;
});

df.app.orchestration('retrySubOrchestration', function* (context: OrchestrationContext) {
  const retry = new df.RetryOptions(5000, 3);
  return (yield context.df.callSubOrchestratorWithRetry('flakyChild', retry, {
    key: 'child',
    failures: 1,
  })) as string;
});

/** Runs per key of `tally`, to count how often the extension ran an activity. */
export const tallies = new Map<string, number>();

df.app.activity('tally', {
  handler: (key: string) => {
    tallies.set(key, (tallies.get(key) ?? 0) + 1);
    return key;
  },
});

/**
 * Puts an already-scheduled timer into a second, new Task.any (durable-js#574): the library sends
 * the timer's action again, the extension creates a second timer with a new sequence number, and
 * the library's next task takes that number, so the activity "c" receives the timer's result.
 */
df.app.orchestration('reusedTaskInAny', function* (context: OrchestrationContext) {
  const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60 * 60 * 1000));
  const b = context.df.callActivity('tally', 'b');
  yield context.df.Task.any([deadline, b]);
  yield context.df.Task.any([deadline]);
  const c = (yield context.df.callActivity('tally', 'c')) as string | undefined;
  return { b: b.result as string, c: c ?? null };
});

df.app.orchestration('awaitRelease', function* (context: OrchestrationContext) {
  return (yield context.df.waitForExternalEvent('Release')) as string;
});

/** A timer wins a race against a sub-orchestration that is still running, and the parent returns. */
df.app.orchestration('returnsWithOpenChild', function* (context: OrchestrationContext) {
  const child = context.df.callSubOrchestrator('awaitRelease', null, `${context.df.instanceId}-child`);
  const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60 * 1000));
  const winner = (yield context.df.Task.any([child, timer])) as Task;
  return winner === timer ? 'timer won' : 'child won';
});

/** Two retrying activities fanned out with Task.all: the framework's retry timers interleave. */
df.app.orchestration('retryFanOut', function* (context: OrchestrationContext) {
  const retry = new df.RetryOptions(1000, 3);
  return (yield context.df.Task.all([
    context.df.callActivityWithRetry('flaky', retry, { key: 'fan-1', failures: 1 }),
    context.df.callActivityWithRetry('flaky', retry, { key: 'fan-2', failures: 0 }),
  ])) as string[];
});

/** newGuid and currentUtcDateTime across episodes; the first guid also goes into the history. */
df.app.orchestration('guidsAndClock', function* (context: OrchestrationContext) {
  const first = context.df.newGuid(context.df.instanceId);
  const startedAt = context.df.currentUtcDateTime.toISOString();
  yield context.df.callActivity('tally', first);
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
  const second = context.df.newGuid(context.df.instanceId);
  return { first, second, startedAt, wokeAt: context.df.currentUtcDateTime.toISOString() };
});

/** A task already awaited, put into a new Task.all with a new one (durable-js#574). */
df.app.orchestration('reusedTaskInAll', function* (context: OrchestrationContext) {
  const a = context.df.callActivity('tally', 'a');
  yield a;
  return (yield context.df.Task.all([a, context.df.callActivity('tally', 'b')])) as string[];
});

/** An event that arrives while the orchestrator still waits on a timer is kept for the later wait. */
df.app.orchestration('eventBeforeWait', function* (context: OrchestrationContext) {
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
  return (yield context.df.waitForExternalEvent('Go')) as unknown;
});
