import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import type {
  ActivityInput,
  ActivityName,
  ActivityOutput,
  StepActivity,
  StepValue,
} from '../shared/activities.js';
import { messageOf } from '../shared/errors.js';
import type { OperationProgress, OperationResult } from '../shared/intake/runnerContracts.js';
import type { StepOutcome } from '../shared/operations/outcome.js';

/**
 * The operation kit: what every orchestration uses to call its activities, wait for "not yet" to
 * settle, report progress and end. Deterministic like the orchestrations themselves (lint holds
 * this file to the same rules): no clock but `context.df.currentUtcDateTime`, no I/O.
 */

/** Retry options with exponential back-off. */
export function retryOptions(firstMs: number, attempts: number, maxMs: number): df.RetryOptions {
  const options = new df.RetryOptions(firstMs, attempts);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = maxMs;
  return options;
}

/**
 * Retries of an activity that threw: only infrastructure failures throw (throttling that outlasted
 * the SDK's Retry-After handling, 5xx, dropped connections, a host that died mid-call); Azure's
 * definitive answers come back as StepOutcomes and are not retried.
 */
export const TRANSIENT_RETRY = retryOptions(5_000, 4, 60_000);

/**
 * Calls an activity and returns its typed result; use with `yield*`. It retries what threw with
 * TRANSIENT_RETRY unless given other options, or `null` for one attempt (bookkeeping that the
 * caller's own retry covers: the slug runner's queue steps, the approval's record reads).
 */
export function* call<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
  retry: df.RetryOptions | null = TRANSIENT_RETRY,
): Generator<Task, ActivityOutput<N>, unknown> {
  const task = retry
    ? context.df.callActivityWithRetry(name, retry, input)
    : context.df.callActivity(name, input);
  return (yield task) as ActivityOutput<N>;
}

/** Calls a step activity (one that answers a StepOutcome) with TRANSIENT_RETRY. Use with `yield*`. */
export function* callStep<N extends StepActivity>(
  context: OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
): Generator<Task, StepOutcome<StepValue<N>>, unknown> {
  return (yield* call(context, name, input)) as StepOutcome<StepValue<N>>;
}

/** Starts an activity without retries, for callers that hold the task (provisioning's graph). */
export function start<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
): Task {
  return context.df.callActivity(name, input);
}

/** The typed result of a finished task that `start` made for activity `name`. */
export function resultOf<N extends ActivityName>(_name: N, task: Task): ActivityOutput<N> {
  return task.result as ActivityOutput<N>;
}

/** The orchestration's current time, ISO. */
export function now(context: OrchestrationContext): string {
  return context.df.currentUtcDateTime.toISOString();
}

/**
 * `from` plus `ms`, as a new Date. Deterministic (no clock read): orchestrations use it with
 * `context.df.currentUtcDateTime` for timer deadlines (lint forbids `new Date` in orchestrations/).
 */
export function later(from: Date, ms: number): Date {
  // eslint-disable-next-line no-restricted-syntax -- computed from the orchestration's own time, no clock read
  return new Date(from.getTime() + ms);
}

/** Shows progress in the orchestration's custom status (what the request status API reads). */
export function publish(context: OrchestrationContext, step: string, done: number, total: number): void {
  const progress: OperationProgress = { step, done, total };
  context.df.setCustomStatus(progress);
}

export const succeeded = (summary: string): OperationResult => ({ outcome: 'succeeded', summary });
export const rejected = (reason: string): OperationResult => ({ outcome: 'rejected', reason });

/**
 * The first line of a failure. Durable Functions appends the failure details (a JSON payload or a
 * stack trace) after a newline; those stay in the instance's history for diagnosis and out of
 * request status and summaries.
 */
export function firstLine(error: unknown): string {
  const message = messageOf(error);
  return message.split('\n')[0]?.trim() || message;
}

/**
 * How long a step may keep answering "not yet", and how long to wait between attempts. One per
 * step and run; rebuilt on every replay from the same history, so it is deterministic.
 */
export class Patience {
  private since: number | undefined;
  private waits = 0;

  constructor(
    readonly timeoutMs: number,
    /** The wait after the `waits`-th "not yet" (1-based). */
    private readonly interval: (waits: number) => number,
  ) {}

  /** Counts time from now (before the first attempt) instead of from the first "not yet". */
  begin(at: Date): this {
    this.since = at.getTime();
    return this;
  }

  /** After a "not yet" at `at`: when to try again, or the reason to give up (the bound passed). */
  notYet(at: Date, reason: string): { retryAt: Date } | { gaveUp: string } {
    this.since ??= at.getTime();
    this.waits++;
    if (at.getTime() - this.since >= this.timeoutMs) {
      return { gaveUp: `still not done after ${Math.round(this.timeoutMs / 1000)}s: ${reason}` };
    }
    return { retryAt: later(at, this.interval(this.waits)) };
  }
}

/**
 * Runs a step activity until it settles: "not yet" waits on a durable timer and runs the step
 * again (with a fresh `now` when its input has one), until `patience` gives up. Returns the settled
 * outcome; a step still "not yet" when patience ran out comes back as `not-yet` with a reason that
 * says so.
 */
export function* untilSettled<N extends StepActivity>(
  context: OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
  patience: Patience,
): Generator<Task, StepOutcome<StepValue<N>>, unknown> {
  patience.begin(context.df.currentUtcDateTime);
  for (;;) {
    // A step that takes the time (maintenance steps record it) gets the time of this attempt.
    const attempt =
      typeof input === 'object' && input !== null && 'now' in input
        ? ({ ...input, now: now(context) } as ActivityInput<N>)
        : input;
    const outcome = yield* callStep(context, name, attempt);
    if (outcome.status !== 'not-yet') return outcome;
    const next = patience.notYet(context.df.currentUtcDateTime, outcome.reason);
    if ('gaveUp' in next) return { status: 'not-yet', reason: next.gaveUp };
    yield context.df.createTimer(next.retryAt);
  }
}

/** An outcome that is not `done`, in words: `<code>: <message>` or the reason. */
export function describeEnded(outcome: Exclude<StepOutcome<unknown>, { status: 'done' }>): string {
  return outcome.status === 'failed' ? `${outcome.error.code}: ${outcome.error.message}` : outcome.reason;
}

/** The value of a `done` outcome; anything else fails the orchestration with the step and why. */
export function valueOf<T>(label: string, outcome: StepOutcome<T>): T {
  if (outcome.status === 'done') return outcome.value;
  throw new Error(`${label}: ${describeEnded(outcome)}`);
}
