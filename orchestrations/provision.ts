import type { OrchestrationContext, OrchestrationHandler, Task, TimerTask } from 'durable-functions';
import { ProvisionActivities } from '../shared/functionNames.js';
import {
  PROVISION_STEPS,
  STEP_DEPENDENCIES,
  type FinishInput,
  type GraphStep,
  type PrepareInput,
  type ProvisionPlan,
  type ProvisionRequest,
  type ProvisionTiming,
  type RecordFailureInput,
  type ReportProgressInput,
  type StepFacts,
  type StepInput,
} from '../shared/provisioning/contracts.js';
import { ErrorCodes, messageOf } from '../shared/errors.js';
import {
  Patience,
  TRANSIENT_RETRY,
  call,
  later,
  publish as publishStatus,
  rejected,
  resultOf,
  start,
  succeeded,
} from './kit.js';

const GRAPH_STEPS = Object.keys(STEP_DEPENDENCIES) as GraphStep[];
const TOTAL = PROVISION_STEPS.length;

type Change = { resource: string; action: string; fields?: readonly string[] };
type Failure = { step: string; code: string; message: string };
/** A task the orchestration started; `sent` once it was yielded (so scheduled by the extension). */
type Pending = (
  | { kind: 'step'; step: GraphStep; task: Task }
  | { kind: 'retry'; step: GraphStep; task: TimerTask }
  | { kind: 'progress'; task: Task }
) & { sent: boolean };

/**
 * Provisions (or converges) one slug's footprint. Input: the validated provision request; output:
 * an OperationResult whose summary lists what was created or repaired. Custom status is
 * OperationProgress {step, done, total}, and the registry record shows the same.
 *
 * The steps form a dependency graph (STEP_DEPENDENCIES); each starts once its dependencies are
 * done, so independent resources are created in parallel and the wall time follows the critical
 * path (a finished step is noticed when the task awaited at that moment finishes; see
 * nextCompleted). Each step is an activity that is safe to run twice and answers done, not-yet or
 * failed:
 * - not-yet (a role or Key Vault grant still propagating, the gateway not ready): a durable timer,
 *   then the step again, bounded by the configured propagation / readiness timeout;
 * - failed (Azure's definitive answer, a failed long-running operation, a refused config): no new
 *   step starts, running steps finish, and the registry records `failed` with the step; the
 *   orchestration fails with the step, Azure's code and message and the list of what exists. A new
 *   provision request converges from there, since every step is idempotent.
 * Secrets never pass through here: activities exchange Key Vault secret URIs and resource facts.
 */
export const provisionOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<ProvisionRequest>();
  publish(context, 'prepare', 0);
  const prepareInput: PrepareInput = { request, startedAt: context.df.currentUtcDateTime.toISOString() };
  const prepared = yield* call(context, ProvisionActivities.prepare, prepareInput);
  if (prepared.status === 'refused') return rejected(prepared.reason);
  const { plan, timing } = prepared;

  const facts: Partial<StepFacts> = {};
  const changes: Change[] = [];
  const done = new Set<GraphStep>();
  const started = new Set<GraphStep>();
  const patience = new Map<GraphStep, Patience>();
  const failedAttempts = new Map<GraphStep, number>();
  const pending: Pending[] = [];
  let failure: Failure | undefined;

  const running = () => GRAPH_STEPS.filter((step) => started.has(step) && !done.has(step));
  const startStep = (step: GraphStep) => {
    started.add(step);
    const input: StepInput = { plan, facts: { ...facts } };
    pending.push({
      kind: 'step',
      step,
      // No callActivityWithRetry here: see transientRetryDelay.
      task: start(context, ProvisionActivities[step], input),
      sent: false,
    });
  };
  const report = () => {
    const step = running().join(', ') || 'finish';
    const completed = 1 + done.size;
    publish(context, step, completed);
    const progress: ReportProgressInput = {
      slug: plan.slug,
      requestId: plan.requestId,
      step,
      done: completed,
      total: TOTAL,
    };
    pending.push({
      kind: 'progress',
      task: start(context, ProvisionActivities.reportProgress, progress),
      sent: false,
    });
  };

  const startReady = () => {
    for (const step of GRAPH_STEPS) {
      if (!started.has(step) && STEP_DEPENDENCIES[step].every((dependency) => done.has(dependency))) {
        startStep(step);
      }
    }
  };

  startReady();
  report();
  while (done.size < GRAPH_STEPS.length && !failure) {
    const finished = yield* nextCompleted(context, pending);
    if (finished.kind === 'progress') continue;
    if (finished.kind === 'retry') {
      startStep(finished.step);
      continue;
    }
    const { step, task } = finished;
    if (task.isFaulted) {
      const failures = (failedAttempts.get(step) ?? 0) + 1;
      failedAttempts.set(step, failures);
      if (failures >= TRANSIENT_RETRY.maxNumberOfAttempts) {
        failure = { step, code: ErrorCodes.ActivityFailed, message: errorMessage(task.result) };
        break;
      }
      const retryAt = later(context.df.currentUtcDateTime, transientRetryDelay(failures));
      pending.push({ kind: 'retry', step, task: context.df.createTimer(retryAt), sent: false });
      continue;
    }
    failedAttempts.delete(step);
    const outcome = resultOf(ProvisionActivities[step], task);
    if (outcome.status === 'failed') {
      failure = { step, code: outcome.error.code, message: outcome.error.message };
      break;
    }
    if (outcome.status === 'refused' || outcome.status === 'skipped') {
      failure = { step, code: ErrorCodes.PreconditionFailed, message: outcome.reason };
      break;
    }
    if (outcome.status === 'not-yet') {
      let wait = patience.get(step);
      if (!wait) {
        wait = waitPolicy(step, timing);
        patience.set(step, wait);
      }
      const next = wait.notYet(context.df.currentUtcDateTime, outcome.reason);
      if ('gaveUp' in next) {
        failure = {
          step,
          code: step === 'readiness' ? ErrorCodes.GatewayNotReady : ErrorCodes.PropagationTimeout,
          message: next.gaveUp,
        };
        break;
      }
      pending.push({ kind: 'retry', step, task: context.df.createTimer(next.retryAt), sent: false });
      continue;
    }
    (facts as Record<string, unknown>)[step] = outcome.value;
    changes.push(...(outcome.changes ?? []));
    done.add(step);
    startReady();
    report();
  }

  if (failure) {
    // Let steps already running finish (their resources then show in the report); drop retries,
    // and start nothing that was not sent yet. A retry timer may have fired while the orchestration
    // waited on an older task: durable-functions throws on cancelling it (DFTimerTask.cancel,
    // "Cannot cancel a completed task"), which would replace the step's reason with its own.
    for (const entry of pending) {
      if (entry.kind === 'retry' && entry.sent && !entry.task.isCompleted) entry.task.cancel();
    }
    for (const entry of pending) {
      if (entry.kind === 'retry' || !entry.sent) continue;
      try {
        yield entry.task;
      } catch {
        // A second failure adds nothing to the report of the first.
      }
    }
    publish(context, `failed at ${failure.step}`, 1 + done.size);
    const record: RecordFailureInput = {
      plan,
      step: failure.step,
      error: { code: failure.code, message: failure.message },
      failedAt: context.df.currentUtcDateTime.toISOString(),
    };
    const report = yield* call(context, ProvisionActivities.recordFailure, record);
    throw new Error(failureMessage(plan, failure, report.existing));
  }

  for (const entry of pending) yield entry.task; // progress reports still in flight
  const finish: FinishInput = { plan, facts, finishedAt: context.df.currentUtcDateTime.toISOString() };
  yield* call(context, ProvisionActivities.finish, finish);
  publish(context, 'finish', TOTAL);
  return succeeded(summarize(plan, facts, changes));
};

/**
 * Waits for the next pending task and removes it from `pending`. A task that already finished is
 * taken first (durable-functions tells a Task.any only of children that complete after it was
 * built). Otherwise the tasks not sent yet are sent together in one Task.any and the first of them
 * is awaited; once everything is sent, the oldest pending task is awaited on its own.
 *
 * A task that was sent never goes into a new Task.any: durable-functions 3.5.0 would send its
 * action again and the Durable extension would schedule it a second time under a new sequence
 * number, so steps would run twice and results reach the wrong tasks (durable-js#574; the local
 * host reproduces it, and the tests' host refuses the pattern). Awaiting a sent task on its own
 * sends nothing, which is safe only while no task in the graph makes the framework create tasks of
 * its own (retry timers): see transientRetryDelay.
 */
function* nextCompleted(
  context: OrchestrationContext,
  pending: Pending[],
): Generator<Task, Pending, unknown> {
  for (;;) {
    const index = pending.findIndex((entry) => entry.task.isCompleted || entry.task.isFaulted);
    if (index >= 0) {
      const [entry] = pending.splice(index, 1);
      return entry!;
    }
    const fresh = pending.filter((entry) => !entry.sent);
    for (const entry of fresh) entry.sent = true;
    if (fresh.length > 1) yield context.df.Task.any(fresh.map((entry) => entry.task));
    else {
      try {
        yield (fresh[0] ?? pending[0]!).task;
      } catch {
        // The caller reads the failure from the task (isFaulted) when it takes it.
      }
    }
  }
}

/**
 * The delay before attempt `failures + 1` of a graph step that threw, as TRANSIENT_RETRY would wait.
 * The graph retries by hand, with timers it owns, because a retrying task (callActivityWithRetry)
 * that is waited on later makes the Durable extension number its retry timers differently on
 * replay than when they were created, once the orchestrator waits on a task it already sent: the
 * library sends no action for that wait, so the extension runs ahead to the next action
 * (OutOfProcOrchestrationShim) and Azure fails the instance as non-deterministic.
 */
function transientRetryDelay(failures: number): number {
  const coefficient = TRANSIENT_RETRY.backoffCoefficient ?? 1;
  const delay = TRANSIENT_RETRY.firstRetryIntervalInMilliseconds * coefficient ** (failures - 1);
  return Math.min(delay, TRANSIENT_RETRY.maxRetryIntervalInMilliseconds ?? delay);
}

/**
 * How long a step may answer "not yet", and the wait after each. Entra replication
 * usually takes seconds ("typically completing in seconds"; Microsoft's advice for a 404 after a
 * write is to retry after 1, 2, 4, 8, 16 s), so the entra step backs off from 1 s up to the retry
 * interval; role and Key Vault propagation take minutes, so the other steps wait the interval.
 */
function waitPolicy(step: GraphStep, timing: ProvisionTiming): Patience {
  if (step === 'readiness') return new Patience(timing.readyTimeoutMs, () => timing.readyPollIntervalMs);
  if (step === 'entra') {
    return new Patience(timing.propagationTimeoutMs, (waits) =>
      Math.min(timing.retryIntervalMs, 1000 * 2 ** Math.min(waits - 1, 10)),
    );
  }
  return new Patience(timing.propagationTimeoutMs, () => timing.retryIntervalMs);
}

function publish(context: OrchestrationContext, step: string, done: number): void {
  publishStatus(context, step, done, TOTAL);
}

function errorMessage(error: unknown): string {
  return messageOf(error).replace(/\s+/g, ' ').slice(0, 600);
}

function failureMessage(plan: ProvisionPlan, failure: Failure, existing: string[]): string {
  const what = existing.length > 0 ? existing.join(', ') : 'nothing';
  return (
    `provisioning ${plan.slug} failed at step ${failure.step}: ${failure.code}: ${failure.message.replace(/\.+$/, '')}. ` +
    `Existing in ${plan.names.resourceGroup}: ${what}. A new provision request resumes from here.`
  );
}

function summarize(plan: ProvisionPlan, facts: Partial<StepFacts>, changes: Change[]): string {
  const url = facts.containerApp ? `https://${facts.containerApp.fqdn}` : 'unknown';
  const describe = (change: Change) =>
    `${change.resource} ${change.action}${change.fields?.length ? ` (${change.fields.join(', ')})` : ''}`;
  if (plan.previousState === 'ready') {
    return changes.length === 0
      ? `${plan.slug} converged: nothing had drifted; ready at ${url}`
      : `${plan.slug} converged: repaired ${changes.length}: ${changes.map(describe).join('; ')}; ready at ${url}`;
  }
  return `${plan.slug} provisioned (OpenClaw ${plan.openclawVersion}, incarnation ${plan.incarnation}): ${changes.length} change(s): ${changes.map(describe).join('; ')}; ready at ${url}`;
}
