/**
 * The durable-functions 3.5.0 internals the host relies on, in one place. test/host/pinnedInternals
 * .test.ts fails loudly if any of them moves. durable-functions is pinned to exactly 3.5.0.
 *
 * Why internals at all: the host numbers tasks the way the Durable extension does, from the actions
 * the library returns (extensionReplay.ts), and compares that with the numbering the library used
 * (TaskOrchestrationExecutor.sequenceNumber) to warn when they differ, as they do when a task is
 * re-sent (durable-js#574). The task classes stay pinned so a change in how the library tracks
 * retries and long timers shows up here first.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const PINNED_DURABLE_FUNCTIONS_VERSION = '3.5.0';

/** Separates the error message from the serialized state in OrchestrationFailureError messages. */
export const OUT_OF_PROC_DATA_LABEL = '\n\n$OutOfProcData$:';

/** ReplaySchema.V3: nested WhenAll/WhenAny actions and long timers; no entity locks (V4). */
export const REPLAY_SCHEMA_V3 = 2;

export const ActionTypeValue = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** Actions that take a step in the history (compared one by one by the determinism check). */
export const REPLAY_SCHEDULE_TYPES: ReadonlySet<number> = new Set([
  ActionTypeValue.CallActivity,
  ActionTypeValue.CallActivityWithRetry,
  ActionTypeValue.CallSubOrchestrator,
  ActionTypeValue.CallSubOrchestratorWithRetry,
  ActionTypeValue.CreateTimer,
  ActionTypeValue.CallEntity,
  ActionTypeValue.CallHttp,
  ActionTypeValue.SignalEntity,
]);

export interface RetryOptionsLike {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface ActionLike {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  version?: string;
  fireAt?: Date;
  isCanceled?: boolean;
  retryOptions?: RetryOptionsLike;
  externalEventName?: string;
  compoundActions?: ActionLike[];
}

export interface TaskLike {
  id: number | string | false;
  parent?: TaskLike;
  readonly actionObj: ActionLike | 'noOp' | undefined;
}

export interface RetryableTaskLike extends TaskLike {
  isWaitingOnTimer: boolean;
  attemptNumber: number;
  retryOptions: RetryOptionsLike;
  readonly actionObj: ActionLike;
}

export interface LongTimerTaskLike extends TaskLike {
  readonly isCanceled: boolean;
  readonly actionObj: ActionLike;
  children: TaskLike[];
}

export interface ExecutorLike {
  openTasks: Record<string, TaskLike>;
  sequenceNumber: number;
  willContinueAsNew: boolean;
}

interface TaskModule {
  NoOpTask: abstract new (...args: never[]) => TaskLike;
  RetryableTask: abstract new (...args: never[]) => RetryableTaskLike;
  LongTimerTask: abstract new (...args: never[]) => LongTimerTaskLike;
  DFTimerTask: abstract new (...args: never[]) => TaskLike;
  AtomicTask: abstract new (...args: never[]) => TaskLike;
}

const tasks = require('durable-functions/lib/src/task/index.js') as TaskModule;

export function isNoOpTask(task: TaskLike): boolean {
  return task instanceof tasks.NoOpTask;
}

export function isRetryableTask(task: TaskLike | undefined): task is RetryableTaskLike {
  return task instanceof tasks.RetryableTask;
}

export function isLongTimerTask(task: TaskLike | undefined): task is LongTimerTaskLike {
  return task instanceof tasks.LongTimerTask;
}

export function isTimerTask(task: TaskLike): boolean {
  return task instanceof tasks.DFTimerTask;
}

/** The executor durable-functions attached to the InvocationContext during the replay. */
export function executorOf(context: unknown): ExecutorLike | undefined {
  const df = (context as { df?: { taskOrchestratorExecutor?: ExecutorLike } }).df;
  return df?.taskOrchestratorExecutor;
}

/**
 * Flattens the returned actions (schema V3 nests WhenAll/WhenAny) in the order the extension invokes
 * them, repeats included: the extension schedules every action it is sent (durable-js#574).
 */
export function flattenActions(actions: unknown): ActionLike[] {
  const flat: ActionLike[] = [];
  const visit = (action: ActionLike) => {
    if (action.actionType === ActionTypeValue.WhenAll || action.actionType === ActionTypeValue.WhenAny) {
      for (const child of action.compoundActions ?? []) visit(child);
      return;
    }
    flat.push(action);
  };
  for (const group of Array.isArray(actions) ? (actions as unknown[]) : []) {
    for (const action of Array.isArray(group) ? (group as ActionLike[]) : []) visit(action);
  }
  return flat;
}

/**
 * Actions that occur more than once in the payload (by identity: the library hands the host the
 * very action objects of its tasks, so a repeat is the same task sent again), with the composite
 * (WhenAny / WhenAll) the repeat sits in.
 */
export function repeatedActions(actions: unknown): { action: ActionLike; composite?: number }[] {
  const seen = new Set<ActionLike>();
  const repeats: { action: ActionLike; composite?: number }[] = [];
  const visit = (action: ActionLike, composite: number | undefined) => {
    if (action.actionType === ActionTypeValue.WhenAll || action.actionType === ActionTypeValue.WhenAny) {
      for (const child of action.compoundActions ?? []) visit(child, action.actionType);
      return;
    }
    if (seen.has(action)) repeats.push({ action, ...(composite !== undefined ? { composite } : {}) });
    seen.add(action);
  };
  for (const group of Array.isArray(actions) ? (actions as unknown[]) : []) {
    for (const action of Array.isArray(group) ? (group as ActionLike[]) : []) visit(action, undefined);
  }
  return repeats;
}

export function actionTypeName(type: number): string {
  const entry = Object.entries(ActionTypeValue).find(([, value]) => value === type);
  return entry ? entry[0] : `Action(${type})`;
}
