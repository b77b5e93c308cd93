/**
 * What the Durable extension does with the state durable-functions 3.5.0 returns, replayed the way
 * the Durable Task Framework (DTFx) replays it. The library speaks the legacy out-of-process
 * protocol: every episode it returns every action it ever scheduled (schema V3: one list, WhenAll /
 * WhenAny nested), and the extension turns them back into DTFx calls. This module follows that
 * path step by step so the host writes the history Azure would write, including where Azure
 * diverges from what the library believes:
 *
 * - OutOfProcOrchestrationShim.ProcessAsyncActionsV2 (azure-functions-durable-extension,
 *   src/WebJobs.Extensions.DurableTask/Listener/OutOfProcOrchestrationShim.cs) invokes the actions in
 *   order and awaits each before invoking the next (failures ignored); InvokeAPIFromAction maps a
 *   WhenAll / WhenAny to Task.WhenAll / Task.WhenAny over fresh calls for every compound child. The
 *   protocol has no task ids, so an action the library sends again (an already-scheduled task inside
 *   a newly built Task.any / Task.all) becomes a second scheduling request with a new sequence number
 *   (durable-js issue #574, explained there by a maintainer; still open).
 * - DTFx TaskOrchestrationContext numbers every ScheduleTask / CreateTimer / sub-orchestration call
 *   with `idCounter++` when it is made, matches history by that number and throws
 *   NonDeterministicOrchestrationException when the history has a scheduling event the replay did
 *   not make (HandleTaskScheduledEvent and friends); completion events for a number that is no
 *   longer open are ignored as duplicates.
 * - DTFx TaskOrchestrationExecutor.ExecuteCore completes (or fails, or continues as new) only when
 *   `!context.HasOpenTasks`: an instance stays Running while an activity, timer or sub-orchestration
 *   is open, even after the orchestrator returned (also durable-js#348, durabletask#155).
 * - DTFx RetryInterceptor (since DurableTask.Core 2.7.0, durabletask PR #661): after the last failed
 *   attempt it still creates a timer, for back-compat, but one that fires at once.
 * - DurableOrchestrationContext.CreateTimer (the extension) splits a timer longer than
 *   MaximumShortTimerDuration into LongRunningTimerIntervalDuration segments, each a new timer.
 * - DurableOrchestrationContext.WaitForExternalEvent / RaiseEvent (the extension): waiters of a name
 *   form a stack (the newest waiter gets the next event); events nobody waits for are buffered.
 */
import { ActionTypeValue, type ActionLike, type RetryOptionsLike } from './internals.js';
import { EventType, type FailureDetailsWire, type HistoryEvent } from './types.js';

export type DtfxTaskKind = 'activity' | 'timer' | 'subOrchestration';

/** A task DTFx created during the replay, in sequence-number order. */
export interface DtfxTask {
  id: number;
  kind: DtfxTaskKind;
  /** The action it came from (for activities and sub-orchestrations: name, input, instance id). */
  action?: ActionLike;
  fireAt?: Date;
  /** Created by the framework itself: a retry delay or re-schedule, or a later long-timer segment. */
  origin?: 'retry' | 'longTimer';
  /** A scheduling event with this number is in the history. */
  inHistory: boolean;
  /** In DTFx's openTasks: neither completed nor cancelled. */
  open: boolean;
  /** Completed by a TimerFired / completion event in the history. */
  completed: boolean;
  cancelled: boolean;
}

export interface ExtensionReplayOptions {
  maximumShortTimerMs: number;
  longRunningTimerIntervalMs: number;
}

export interface ExtensionReplayResult {
  tasks: DtfxTask[];
  /** DTFx's NonDeterministicOrchestrationException message, if the replay hit one. */
  problem?: string;
  /** The shim awaited every action the library returned (the orchestrator function's task is done). */
  actionsReplayed: boolean;
  /** DTFx openTasks after the replay. */
  openTasks: number;
  /** Sequence numbers DTFx used (idCounter). */
  sequenceNumbers: number;
}

type Settled = 'ok' | 'failed' | 'cancelled';

/** A .NET Task as far as the shim needs one: settles once, continuations run synchronously. */
class Work {
  state: Settled | undefined;
  failureDetails: FailureDetailsWire | undefined;
  readonly #continuations: (() => void)[] = [];

  settle(state: Settled, failureDetails?: FailureDetailsWire): void {
    if (this.state) return;
    this.state = state;
    this.failureDetails = failureDetails;
    for (const continuation of this.#continuations.splice(0)) continuation();
  }

  then(continuation: () => void): void {
    if (this.state) continuation();
    else this.#continuations.push(continuation);
  }

  static done(): Work {
    const work = new Work();
    work.settle('ok');
    return work;
  }
}

/**
 * DTFx RetryInterceptor.ComputeNextDelay: firstRetryInterval * backoffCoefficient^retryCount, capped
 * by maxRetryInterval. The extension's RetryOptionsConverter sets only the fields the library sent;
 * the others keep DTFx's defaults (coefficient 1, no cap).
 */
export function dtfxRetryDelay(options: RetryOptionsLike, retryCount: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const delay = options.firstRetryIntervalInMilliseconds * coefficient ** retryCount;
  const max = options.maxRetryIntervalInMilliseconds;
  return max !== undefined && delay >= max ? max : delay;
}

export function replayLikeExtension(
  history: readonly HistoryEvent[],
  actionsPayload: unknown,
  options: ExtensionReplayOptions,
): ExtensionReplayResult {
  return new ExtensionReplay(options).run(history, actionsPayload);
}

class ExtensionReplay {
  readonly #options: ExtensionReplayOptions;
  readonly #tasks = new Map<number, { task: DtfxTask; work: Work }>();
  readonly #waiters = new Map<string, Work[]>();
  readonly #buffered = new Map<string, number>();
  #idCounter = 0;
  #now = 0;
  #problem: string | undefined;
  #actionsReplayed = false;

  constructor(options: ExtensionReplayOptions) {
    this.#options = options;
  }

  run(history: readonly HistoryEvent[], actionsPayload: unknown): ExtensionReplayResult {
    const actions = topLevelActions(actionsPayload);
    for (const event of history) {
      this.#process(event, actions);
      if (this.#problem) break;
    }
    const tasks = [...this.#tasks.values()].map((entry) => entry.task).sort((a, b) => a.id - b.id);
    return {
      tasks,
      ...(this.#problem ? { problem: this.#problem } : {}),
      actionsReplayed: this.#actionsReplayed,
      openTasks: tasks.filter((task) => task.open).length,
      sequenceNumbers: this.#idCounter,
    };
  }

  #process(event: HistoryEvent, actions: ActionLike[]): void {
    switch (event.EventType) {
      case EventType.OrchestratorStarted:
        this.#now = Date.parse(event.Timestamp);
        return;
      case EventType.ExecutionStarted:
        this.#replayActions(actions, 0);
        return;
      case EventType.TaskScheduled:
        this.#matchScheduled(event, 'activity');
        return;
      case EventType.TimerCreated:
        this.#matchScheduled(event, 'timer');
        return;
      case EventType.SubOrchestrationInstanceCreated:
        this.#matchScheduled(event, 'subOrchestration');
        return;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        this.#complete(event.TaskScheduledId, 'ok');
        return;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        this.#complete(event.TaskScheduledId, 'failed', event.FailureDetails);
        return;
      case EventType.TimerFired:
        this.#complete(event.TimerId, 'ok');
        return;
      case EventType.EventRaised:
        this.#raise(event.Name ?? '');
        return;
      default:
        return;
    }
  }

  /** ProcessAsyncActionsV2: invoke, await (ignoring failures), next. */
  #replayActions(actions: ActionLike[], index: number): void {
    if (index >= actions.length) {
      this.#actionsReplayed = true;
      return;
    }
    this.#invoke(actions[index]!).then(() => this.#replayActions(actions, index + 1));
  }

  /** InvokeAPIFromAction. */
  #invoke(action: ActionLike): Work {
    switch (action.actionType) {
      case ActionTypeValue.CallActivity:
        return this.#schedule('activity', action);
      case ActionTypeValue.CallActivityWithRetry:
        return this.#withRetry(action, (retry) => this.#schedule('activity', action, retry));
      case ActionTypeValue.CallSubOrchestrator:
        return this.#schedule('subOrchestration', action);
      case ActionTypeValue.CallSubOrchestratorWithRetry:
        return this.#withRetry(action, (retry) => this.#schedule('subOrchestration', action, retry));
      case ActionTypeValue.CreateTimer:
        return this.#createTimer(toDate(action.fireAt), Boolean(action.isCanceled));
      case ActionTypeValue.WaitForExternalEvent:
        return this.#waitForEvent(action.externalEventName ?? '');
      case ActionTypeValue.WhenAll:
        return whenAll((action.compoundActions ?? []).map((child) => this.#invoke(child)));
      case ActionTypeValue.WhenAny:
        return whenAny((action.compoundActions ?? []).map((child) => this.#invoke(child)));
      case ActionTypeValue.ContinueAsNew:
        return Work.done();
      default:
        // Entities and durable HTTP: the engine refuses them before replaying.
        return new Work();
    }
  }

  #newTask(kind: DtfxTaskKind, extra: Partial<DtfxTask>): { task: DtfxTask; work: Work } {
    const entry = {
      task: {
        id: this.#idCounter++,
        kind,
        inHistory: false,
        open: true,
        completed: false,
        cancelled: false,
        ...extra,
      },
      work: new Work(),
    };
    this.#tasks.set(entry.task.id, entry);
    return entry;
  }

  #schedule(kind: 'activity' | 'subOrchestration', action: ActionLike, retry = false): Work {
    return this.#newTask(kind, { action, ...(retry ? { origin: 'retry' as const } : {}) }).work;
  }

  #timer(fireAt: Date, origin?: 'retry' | 'longTimer'): { task: DtfxTask; work: Work } {
    return this.#newTask('timer', { fireAt, ...(origin ? { origin } : {}) });
  }

  /** TaskOrchestrationContext.CreateTimer's cancellation callback: leaves openTasks, task cancelled. */
  #cancel(entry: { task: DtfxTask; work: Work }): void {
    if (entry.work.state) return;
    entry.task.open = false;
    entry.task.cancelled = true;
    entry.work.settle('cancelled');
  }

  /**
   * The shim's CreateTimer: `context.CreateTimer(fireAt, cts.Token)`, then `cts.Cancel()` if the
   * action says cancelled. The extension splits long timers and creates each segment when the
   * previous one fires, from the time of that episode.
   */
  #createTimer(fireAt: Date, cancelled: boolean): Work {
    const interval = this.#options.longRunningTimerIntervalMs;
    if (fireAt.getTime() - this.#now <= this.#options.maximumShortTimerMs) {
      const entry = this.#timer(fireAt);
      if (cancelled) this.#cancel(entry);
      return entry.work;
    }
    const result = new Work();
    const segment = (at: Date, first: boolean) => {
      const entry = this.#timer(at, first ? undefined : 'longTimer');
      if (first && cancelled) this.#cancel(entry);
      entry.work.then(() => {
        if (entry.work.state !== 'ok') {
          result.settle(entry.work.state ?? 'cancelled');
          return;
        }
        const remaining = fireAt.getTime() - this.#now;
        if (remaining <= 0) result.settle('ok');
        else segment(new Date(this.#now + Math.min(remaining, interval)), false);
      });
    };
    segment(new Date(this.#now + interval), true);
    return result;
  }

  /** DTFx RetryInterceptor.Invoke (DurableTask.Core >= 2.7.0). */
  #withRetry(action: ActionLike, call: (retry: boolean) => Work): Work {
    const options = action.retryOptions;
    const result = new Work();
    if (!options) return call(false);
    const attempt = (retryCount: number) => {
      const work = call(retryCount > 0);
      work.then(() => {
        if (work.state === 'ok') {
          result.settle('ok');
          return;
        }
        if (work.failureDetails?.IsNonRetriable) {
          result.settle('failed', work.failureDetails);
          return;
        }
        if (retryCount + 1 >= options.maxNumberOfAttempts) {
          // "Dummy timer for back-compat": fires at once.
          this.#timer(new Date(this.#now), 'retry').work.then(() =>
            result.settle('failed', work.failureDetails),
          );
          return;
        }
        const delay = dtfxRetryDelay(options, retryCount);
        if (delay <= 0) {
          result.settle('failed', work.failureDetails);
          return;
        }
        this.#timer(new Date(this.#now + delay), 'retry').work.then(() => attempt(retryCount + 1));
      });
    };
    if (options.maxNumberOfAttempts <= 0) result.settle('ok');
    else attempt(0);
    return result;
  }

  /** DurableOrchestrationContext.WaitForExternalEvent: push on the name's stack, or take a buffered event. */
  #waitForEvent(name: string): Work {
    const work = new Work();
    const stack = this.#waiters.get(name) ?? [];
    stack.push(work);
    this.#waiters.set(name, stack);
    const buffered = this.#buffered.get(name) ?? 0;
    if (buffered > 0) {
      if (buffered === 1) this.#buffered.delete(name);
      else this.#buffered.set(name, buffered - 1);
      this.#raise(name);
    }
    return work;
  }

  /** DurableOrchestrationContext.RaiseEvent: the newest waiter gets it, otherwise it is buffered. */
  #raise(name: string): void {
    const stack = this.#waiters.get(name);
    const waiter = stack?.pop();
    if (stack && stack.length === 0) this.#waiters.delete(name);
    if (waiter) waiter.settle('ok');
    else this.#buffered.set(name, (this.#buffered.get(name) ?? 0) + 1);
  }

  #matchScheduled(event: HistoryEvent, kind: DtfxTaskKind): void {
    const entry = this.#tasks.get(event.EventId);
    const recorded = describeEvent(event);
    if (!entry || entry.task.inHistory) {
      this.#problem =
        `history has ${recorded} with sequence number ${event.EventId}, ` +
        `but the replay has not (yet?) scheduled it`;
      return;
    }
    const task = entry.task;
    const sameName =
      kind === 'timer' ||
      (task.action?.functionName ?? '').toLowerCase() === (event.Name ?? '').toLowerCase();
    if (task.kind !== kind || !sameName) {
      this.#problem =
        `history has ${recorded} with sequence number ${event.EventId}, ` +
        `replay scheduled ${describeTask(task)}`;
      return;
    }
    task.inHistory = true;
  }

  #complete(id: number | undefined, state: Settled, failureDetails?: FailureDetailsWire): void {
    if (id === undefined) return;
    const entry = this.#tasks.get(id);
    // A number that is not open: DTFx logs a duplicate event and ignores it.
    if (!entry || !entry.task.open) return;
    entry.task.open = false;
    entry.task.completed = true;
    entry.work.settle(state, failureDetails);
  }
}

/** Task.WhenAll: done when every child is (faulted if one faulted). */
function whenAll(children: Work[]): Work {
  const result = new Work();
  let left = children.length;
  if (left === 0) result.settle('ok');
  for (const child of children) {
    child.then(() => {
      left--;
      if (left === 0) result.settle(children.some((c) => c.state !== 'ok') ? 'failed' : 'ok');
    });
  }
  return result;
}

/** Task.WhenAny: done (successfully) when the first child is, whatever its outcome. */
function whenAny(children: Work[]): Work {
  const result = new Work();
  for (const child of children) child.then(() => result.settle('ok'));
  return result;
}

/** Schema V2/V3 payloads are one list nested in another (OutOfProcOrchestrationShim checks it). */
function topLevelActions(payload: unknown): ActionLike[] {
  if (!Array.isArray(payload)) return [];
  return payload.flatMap((group) => (Array.isArray(group) ? (group as ActionLike[]) : []));
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

function describeEvent(event: HistoryEvent): string {
  switch (event.EventType) {
    case EventType.TaskScheduled:
      return `CallActivity "${event.Name ?? ''}"`;
    case EventType.SubOrchestrationInstanceCreated:
      return `CallSubOrchestrator "${event.Name ?? ''}"`;
    default:
      return 'CreateTimer';
  }
}

function describeTask(task: DtfxTask): string {
  switch (task.kind) {
    case 'activity':
      return `CallActivity "${task.action?.functionName ?? ''}"`;
    case 'subOrchestration':
      return `CallSubOrchestrator "${task.action?.functionName ?? ''}"`;
    default:
      return 'CreateTimer';
  }
}
