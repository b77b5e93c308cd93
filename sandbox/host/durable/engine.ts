import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { HostClock } from '../clock.js';
import type { FunctionRegistration } from '../coreShim.js';
import type { InvocationOutcome } from '../invoke.js';
import type { HostLogLevel, HostLogger } from '../logger.js';
import { replayLikeExtension, type DtfxTask, type ExtensionReplayResult } from './extensionReplay.js';
import {
  ActionTypeValue,
  OUT_OF_PROC_DATA_LABEL,
  REPLAY_SCHEMA_V3,
  actionTypeName,
  executorOf,
  flattenActions,
  repeatedActions,
  type ActionLike,
  type ExecutorLike,
  type RetryOptionsLike,
} from './internals.js';
import { parseTimeSpan } from '../hostConfig.js';
import type { DurableStore } from './store.js';
import {
  EventType,
  eventTypeName,
  isTerminal,
  type FailureDetailsWire,
  type HistoryEvent,
  type InboxMessage,
  type InstanceDoc,
  type InstanceStatusJson,
  type MessageBody,
  type OutboxEntry,
  type ParentRef,
  type RuntimeStatus,
  type TimelineEntry,
  type WorkItem,
} from './types.js';
import { messageOf } from '../../../shared/errors.js';

export interface DurableEngineOptions {
  store: DurableStore;
  clock: HostClock;
  log: HostLogger;
  findFunction(
    name: string,
    triggerType: 'orchestrationTrigger' | 'activityTrigger',
  ): FunctionRegistration | undefined;
  /** Runs a registration through the host's invocation pipeline (hooks, output bindings). */
  invoke(registration: FunctionRegistration, triggerInput: unknown): Promise<InvocationOutcome>;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  /** Binding values the extension sends; the library splits longer timers (schema V3). */
  maximumShortTimerDuration: string;
  longRunningTimerIntervalDuration: string;
  timelineCapacity?: number;
  /**
   * Test-time check (off by default, as in Azure): fail an orchestration whose payload repeats an
   * action, i.e. that yielded an already-scheduled task inside a new Task.any / Task.all. The
   * extension would schedule it again with a new sequence number (durable-js#574).
   */
  rejectRepeatedTasks?: boolean;
}

export type StartResult =
  { ok: true; instanceId: string } | { ok: false; status: 400 | 409; message: string };

export type InstanceOperationResult = 'accepted' | 'notFound' | 'gone';

export interface StatusQuery {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

export interface InstanceFilter {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: number;
  createdTimeTo?: number;
  instanceIdPrefix?: string;
}

/** Instance ids as the Durable extension accepts them. Returns the reason an id is refused. */
export function instanceIdProblem(instanceId: string): string | undefined {
  if (instanceId.length === 0) return 'The instance id must not be empty.';
  if (instanceId.length > 256) return 'The instance id must be at most 256 characters long.';
  if (/[/\\#?]/.test(instanceId)) return 'The instance id must not contain /, \\, # or ?.';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(instanceId)) return 'The instance id must not contain control characters.';
  if (instanceId.startsWith('@')) return 'Instance ids starting with @ are reserved for entities.';
  return undefined;
}

const LAST_CONSUMED_KEY = 'lastConsumed';
const EXECUTION_IDS_KEY = 'executionIds';
const EXECUTION_IDS_KEPT = 64;

interface DocExtras {
  [LAST_CONSUMED_KEY]?: string[];
  [EXECUTION_IDS_KEY]?: string[];
}

type ReplayOutcome =
  | {
      kind: 'ok';
      state: OrchestratorStateLike;
      executor: ExecutorLike | undefined;
      /** Flattened in scheduling order, repeats included. */
      actions: ActionLike[];
    }
  | {
      kind: 'failed';
      message: string;
      stack?: string;
      customStatus?: unknown;
      failureDetails?: FailureDetailsWire;
      /** The actions the library returned with the failure (the extension replays them first). */
      actionsPayload?: unknown;
      /** No OrchestratorState at all: the function itself failed (not registered, threw outside). */
      bare?: boolean;
    };

interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

type Completion =
  | { status: 'Running' }
  | { status: 'Completed'; output: string }
  | { status: 'Failed'; message: string; details: string; failureDetails?: FailureDetailsWire }
  | { status: 'ContinueAsNew'; input: string | undefined };

interface SchedulingPlan {
  events: HistoryEvent[];
  outbox: OutboxEntry[];
  cancelTimerKeys: string[];
  problem?: string;
}

const completionEventTypes: ReadonlySet<number> = new Set([
  EventType.TaskCompleted,
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceCompleted,
  EventType.SubOrchestrationInstanceFailed,
]);

/**
 * The Durable Task side of the local host: instances, their inboxes, activity work items and timers.
 * Orchestrators are replayed by durable-functions' own code through the registered handler; this
 * engine only turns the state the library returns into history and work, as the extension does.
 *
 * Crash safety (storage mode): an episode saves the instance document (history, status and an outbox
 * of the messages and work items it produced) in one write, then dispatches the outbox, then deletes
 * the inbox messages it consumed. A restart deletes messages the saved document already consumed and
 * re-dispatches outboxes, skipping entries whose effect is already visible (a work item whose result
 * exists, a start for an execution that already ran). An activity's result is written to the inbox
 * before its work item is deleted, so a completed activity is never run again.
 */
export class DurableEngine {
  readonly #options: DurableEngineOptions;
  readonly #instances = new Map<string, InstanceDoc>();
  readonly #inbox = new Map<string, Map<string, InboxMessage>>();
  readonly #workItems = new Map<string, WorkItem>();
  readonly #activityQueue: string[] = [];
  readonly #runnable = new Set<string>();
  readonly #runningInstances = new Set<string>();
  readonly #timerCancels = new Map<string, () => void>();
  readonly #events = new EventEmitter();
  #runningActivities = 0;
  #busy = 0;
  #seq = 0;
  #pumpScheduled = false;
  #stopped = false;

  constructor(options: DurableEngineOptions) {
    this.#options = options;
    this.#events.setMaxListeners(0);
  }

  get storeKind(): DurableStore['kind'] {
    return this.#options.store.kind;
  }

  /** Loads persisted state and recovers from a crash (see class comment). */
  async start(): Promise<void> {
    const snapshot = await this.#options.store.loadAll();
    for (const doc of snapshot.instances) this.#instances.set(doc.instanceId, doc);
    for (const message of snapshot.messages) {
      this.#inboxOf(message.instanceId).set(message.key, message);
      this.#seq = Math.max(this.#seq, message.seq + 1);
    }
    for (const item of snapshot.workItems) this.#workItems.set(item.key, item);

    for (const doc of this.#instances.values()) {
      const inbox = this.#inboxOf(doc.instanceId);
      for (const key of extras(doc)[LAST_CONSUMED_KEY] ?? []) {
        if (inbox.has(key)) await this.#deleteMessage(doc.instanceId, key);
      }
    }
    for (const doc of this.#instances.values()) {
      await this.#dispatchOutbox(doc, true);
      if (doc.runtimeStatus === 'Pending' && ![...this.#inboxOf(doc.instanceId).values()].some(isStart)) {
        await this.#putMessage(
          this.#startMessage(doc.instanceId, doc.executionId, doc.name, doc.input, doc.parent),
        );
      }
    }
    for (const item of [...this.#workItems.values()]) {
      if (this.#workItemAlreadyDone(item)) await this.#removeWorkItem(item.key);
      else this.#activityQueue.push(item.key);
    }
    const now = this.#options.clock.now();
    for (const [instanceId, inbox] of this.#inbox) {
      for (const message of inbox.values()) {
        if (message.visibleAt <= now) this.#runnable.add(instanceId);
        else this.#armTimer(message);
      }
    }
    this.#log('information', `Durable engine started with ${this.#instances.size} instance(s).`);
    this.#schedulePump();
  }

  /** Abandons in-flight work like a killed process: nothing more is written. */
  stop(): void {
    this.#stopped = true;
    for (const cancel of this.#timerCancels.values()) cancel();
    this.#timerCancels.clear();
    this.#events.emit('change');
  }

  // ---------------------------------------------------------------- client operations

  async startNew(
    name: string,
    instanceId: string | undefined,
    input: string | undefined,
  ): Promise<StartResult> {
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    const problem = instanceIdProblem(id);
    if (problem) return { ok: false, status: 400, message: problem };
    if (!this.#options.findFunction(name, 'orchestrationTrigger')) {
      return {
        ok: false,
        status: 400,
        message: `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      };
    }
    const existing = this.#instances.get(id);
    if (existing && !isTerminal(existing.runtimeStatus)) {
      return {
        ok: false,
        status: 409,
        message: `An instance with ID '${id}' already exists and is ${existing.runtimeStatus.toLowerCase()}.`,
      };
    }
    return this.#tracked(async () => {
      const now = this.#options.clock.now();
      const executionId = randomUUID();
      const doc: InstanceDoc = {
        instanceId: id,
        name,
        executionId,
        generation: existing ? existing.generation + 1 : 0,
        runtimeStatus: 'Pending',
        input,
        createdTime: now,
        lastUpdatedTime: now,
        history: [],
        outbox: [],
        recentConsumed: [],
        timeline: existing?.timeline ?? [],
        timelineDropped: existing?.timelineDropped ?? 0,
      };
      (doc as DocExtras)[EXECUTION_IDS_KEY] = extras(existing)[EXECUTION_IDS_KEY] ?? [];
      if (existing) {
        // A restart: messages of the finished execution must not leak into the new one.
        for (const key of [...this.#inboxOf(id).keys()]) await this.#deleteMessage(id, key);
      }
      this.#instances.set(id, doc);
      await this.#options.store.saveInstance(doc);
      await this.#putMessage(this.#startMessage(id, executionId, name, input, undefined));
      this.#changed(id);
      return { ok: true as const, instanceId: id };
    });
  }

  async raiseEvent(
    instanceId: string,
    eventName: string,
    input: string | undefined,
  ): Promise<InstanceOperationResult> {
    const doc = this.#instances.get(instanceId);
    if (!doc) return 'notFound';
    if (isTerminal(doc.runtimeStatus)) return 'gone';
    await this.#tracked(() =>
      this.#putMessage(
        this.#message(instanceId, `event:${randomUUID()}`, undefined, {
          kind: 'event',
          event: { ...this.#event(EventType.EventRaised), Name: eventName, Input: input },
        }),
      ),
    );
    return 'accepted';
  }

  async terminate(instanceId: string, reason: string): Promise<InstanceOperationResult> {
    const doc = this.#instances.get(instanceId);
    if (!doc) return 'notFound';
    if (isTerminal(doc.runtimeStatus)) return 'gone';
    await this.#tracked(() =>
      this.#putMessage(
        this.#message(instanceId, `terminate:${randomUUID()}`, undefined, { kind: 'terminate', reason }),
      ),
    );
    return 'accepted';
  }

  /** Deletes a finished instance and everything kept about it. Returns the number deleted (0 or 1). */
  async purge(instanceId: string): Promise<number> {
    const doc = this.#instances.get(instanceId);
    if (!doc || !isTerminal(doc.runtimeStatus) || this.#runningInstances.has(instanceId)) return 0;
    await this.#tracked(async () => {
      this.#instances.delete(instanceId);
      for (const key of [...this.#inboxOf(instanceId).keys()]) this.#forgetMessage(instanceId, key);
      this.#inbox.delete(instanceId);
      await this.#options.store.deleteInstance(instanceId);
    });
    this.#changed(instanceId);
    return 1;
  }

  async purgeBy(filter: InstanceFilter): Promise<number> {
    let deleted = 0;
    for (const doc of this.#matching(filter)) deleted += await this.purge(doc.instanceId);
    return deleted;
  }

  getStatus(instanceId: string, query: StatusQuery = {}): InstanceStatusJson | undefined {
    const doc = this.#instances.get(instanceId);
    return doc ? statusJson(doc, query) : undefined;
  }

  listStatuses(filter: InstanceFilter, query: StatusQuery = {}): InstanceStatusJson[] {
    return this.#matching(filter).map((doc) => statusJson(doc, query));
  }

  /** Every history event of the instance with its time, across continueAsNew generations (bounded). */
  timeline(
    instanceId: string,
  ): { instanceId: string; dropped: number; entries: TimelineEntry[] } | undefined {
    const doc = this.#instances.get(instanceId);
    if (!doc) return undefined;
    return { instanceId, dropped: doc.timelineDropped, entries: [...doc.timeline] };
  }

  /** History of the current execution, as the library receives it. */
  history(instanceId: string): HistoryEvent[] | undefined {
    const doc = this.#instances.get(instanceId);
    return doc ? doc.history.map((event) => ({ ...event })) : undefined;
  }

  isIdle(): boolean {
    return (
      this.#stopped ||
      (this.#runnable.size === 0 &&
        this.#runningInstances.size === 0 &&
        this.#runningActivities === 0 &&
        this.#activityQueue.length === 0 &&
        this.#busy === 0 &&
        !this.#pumpScheduled)
    );
  }

  /** Resolves once nothing is runnable or running (timers may be pending). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.isIdle()) {
          this.#events.off('change', check);
          resolve();
        }
      };
      this.#events.on('change', check);
    });
  }

  /** Resolves with the status once the instance reaches Completed, Failed or Terminated. */
  waitForInstance(instanceId: string, timeoutMs: number): Promise<InstanceStatusJson> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const doc = this.#instances.get(instanceId);
        if (doc && isTerminal(doc.runtimeStatus)) {
          cleanup();
          resolve(statusJson(doc, {}));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const doc = this.#instances.get(instanceId);
        reject(
          new Error(
            `Instance "${instanceId}" did not finish within ${timeoutMs} ms (status: ${doc?.runtimeStatus ?? 'not found'}).`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#events.off('change', check);
      };
      this.#events.on('change', check);
      check();
    });
  }

  // ---------------------------------------------------------------- scheduling loop

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#stopped) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#stopped) return;
    for (const instanceId of [...this.#runnable]) {
      if (this.#runningInstances.size >= this.#options.maxConcurrentOrchestrations) break;
      if (this.#runningInstances.has(instanceId)) continue;
      this.#runnable.delete(instanceId);
      this.#runningInstances.add(instanceId);
      void this.#processInstance(instanceId)
        .catch((error: unknown) =>
          this.#log('error', `Episode of "${instanceId}" failed: ${describe(error)}`),
        )
        .finally(() => {
          this.#runningInstances.delete(instanceId);
          if (this.#hasVisibleMessages(instanceId)) this.#runnable.add(instanceId);
          this.#schedulePump();
          this.#events.emit('change');
        });
    }
    while (
      this.#runningActivities < this.#options.maxConcurrentActivities &&
      this.#activityQueue.length > 0
    ) {
      const key = this.#activityQueue.shift()!;
      const item = this.#workItems.get(key);
      if (!item) continue;
      this.#runningActivities++;
      void this.#runActivity(item)
        .catch((error: unknown) =>
          this.#log('error', `Activity "${item.name}" work item failed: ${describe(error)}`),
        )
        .finally(() => {
          this.#runningActivities--;
          this.#schedulePump();
          this.#events.emit('change');
        });
    }
    this.#events.emit('change');
  }

  #hasVisibleMessages(instanceId: string): boolean {
    const now = this.#options.clock.now();
    for (const message of this.#inboxOf(instanceId).values()) if (message.visibleAt <= now) return true;
    return false;
  }

  // ---------------------------------------------------------------- episodes

  async #processInstance(instanceId: string): Promise<void> {
    const now = this.#options.clock.now();
    const batch = [...this.#inboxOf(instanceId).values()]
      .filter((message) => message.visibleAt <= now)
      .sort((a, b) => a.seq - b.seq);
    if (batch.length === 0) return;
    let doc = this.#instances.get(instanceId);

    let fresh = false;
    let startIndex = -1;
    for (let i = batch.length - 1; i >= 0; i--) {
      const body = batch[i]!.body;
      if (body.kind === 'start' && !(extras(doc)[EXECUTION_IDS_KEY] ?? []).includes(body.executionId)) {
        startIndex = i;
        break;
      }
    }
    if (startIndex >= 0) {
      const start = batch[startIndex]!.body as Extract<MessageBody, { kind: 'start' }>;
      const busyElsewhere =
        doc !== undefined &&
        !isTerminal(doc.runtimeStatus) &&
        doc.executionId !== start.executionId &&
        doc.history.length > 0;
      if (busyElsewhere) {
        if (start.parent) {
          await this.#sendToParent(start.parent, {
            ...this.#event(EventType.SubOrchestrationInstanceFailed),
            TaskScheduledId: start.parent.taskScheduledId,
            Reason: `An orchestration with instance ID '${instanceId}' is already running.`,
            Details: '{}',
          });
        }
      } else {
        doc = this.#beginExecution(doc, instanceId, start, now);
        fresh = true;
      }
    }
    if (!doc) {
      await this.#consume(instanceId, batch);
      return;
    }
    if (isTerminal(doc.runtimeStatus) && !fresh) {
      await this.#consume(instanceId, batch);
      return;
    }

    const incoming: HistoryEvent[] = [];
    if (fresh) {
      incoming.push({
        ...this.#event(EventType.ExecutionStarted, now),
        Name: doc.name,
        Input: doc.input,
      });
    }
    let terminateReason: string | undefined;
    const seenCompletions = completionKeys(doc.history);
    for (const message of batch) {
      const body = message.body;
      if (body.kind === 'terminate') {
        terminateReason ??= body.reason;
        continue;
      }
      if (body.kind !== 'event') continue;
      if (message.executionId !== undefined && message.executionId !== doc.executionId) continue;
      const completionKey = completionKeyOf(body.event);
      if (completionKey !== undefined) {
        if (seenCompletions.has(completionKey)) continue;
        seenCompletions.add(completionKey);
      }
      incoming.push({ ...body.event, Timestamp: iso(now), IsPlayed: false });
    }

    if (terminateReason !== undefined) {
      await this.#terminateEpisode(doc, batch, incoming, terminateReason, now);
      return;
    }
    if (incoming.length === 0) {
      await this.#consume(instanceId, batch);
      return;
    }
    await this.#orchestrateEpisode(doc, batch, incoming, now);
  }

  #beginExecution(
    previous: InstanceDoc | undefined,
    instanceId: string,
    start: Extract<MessageBody, { kind: 'start' }>,
    now: number,
  ): InstanceDoc {
    const samePending = previous?.runtimeStatus === 'Pending' && previous.executionId === start.executionId;
    const doc: InstanceDoc = {
      instanceId,
      name: start.name,
      executionId: start.executionId,
      generation: previous ? (samePending ? previous.generation : previous.generation + 1) : 0,
      runtimeStatus: 'Running',
      input: start.input,
      customStatus: previous && !isTerminal(previous.runtimeStatus) ? previous.customStatus : undefined,
      createdTime: previous && !isTerminal(previous.runtimeStatus) ? previous.createdTime : now,
      lastUpdatedTime: now,
      parent: start.parent,
      history: [],
      outbox: [],
      recentConsumed: [],
      timeline: previous?.timeline ?? [],
      timelineDropped: previous?.timelineDropped ?? 0,
    };
    const executionIds = [...(extras(previous)[EXECUTION_IDS_KEY] ?? []), start.executionId];
    (doc as DocExtras)[EXECUTION_IDS_KEY] = executionIds.slice(-EXECUTION_IDS_KEPT);
    this.#instances.set(instanceId, doc);
    return doc;
  }

  async #orchestrateEpisode(
    doc: InstanceDoc,
    batch: InboxMessage[],
    incoming: HistoryEvent[],
    now: number,
  ): Promise<void> {
    const previous = doc.history;
    const full = [...previous, this.#event(EventType.OrchestratorStarted, now), ...incoming];
    const replay = await this.#replay(doc, full, previous.length);
    if (this.#stopped) return;

    const decided = this.#decide(doc, full, replay, now);
    const completion = decided.completion;
    const plan = decided.plan;
    const customStatus = replay.kind === 'failed' ? replay.customStatus : replay.state.customStatus;

    const closing: HistoryEvent[] = [...plan.events, this.#event(EventType.OrchestratorCompleted, now)];
    switch (completion.status) {
      case 'Completed':
        closing.push({
          ...this.#event(EventType.ExecutionCompleted, now),
          OrchestrationStatus: 'Completed',
          Result: completion.output,
        });
        break;
      case 'Failed':
        closing.push({
          ...this.#event(EventType.ExecutionCompleted, now),
          OrchestrationStatus: 'Failed',
          Result: JSON.stringify(completion.message),
          ...(completion.failureDetails ? { FailureDetails: completion.failureDetails } : {}),
        });
        break;
      case 'ContinueAsNew':
        closing.push({
          ...this.#event(EventType.ContinueAsNew, now),
          Input: completion.input,
        });
        break;
      default:
        break;
    }

    const appended = [...full.slice(previous.length), ...closing];
    this.#appendTimeline(doc, appended);
    doc.history = [...full, ...closing];
    doc.customStatus = customStatus === undefined ? undefined : JSON.stringify(customStatus);
    doc.lastUpdatedTime = now;
    doc.outbox = plan.outbox;

    switch (completion.status) {
      case 'Completed':
        doc.runtimeStatus = 'Completed';
        doc.output = completion.output;
        if (doc.parent) {
          doc.outbox.push(
            this.#parentMessage(doc.parent, {
              ...this.#event(EventType.SubOrchestrationInstanceCompleted),
              TaskScheduledId: doc.parent.taskScheduledId,
              Result: completion.output,
            }),
          );
        }
        break;
      case 'Failed':
        doc.runtimeStatus = 'Failed';
        doc.output = JSON.stringify(completion.message);
        if (doc.parent) {
          doc.outbox.push(
            this.#parentMessage(doc.parent, {
              ...this.#event(EventType.SubOrchestrationInstanceFailed),
              TaskScheduledId: doc.parent.taskScheduledId,
              Reason: completion.message,
              Details: completion.details,
              ...(completion.failureDetails ? { FailureDetails: completion.failureDetails } : {}),
            }),
          );
        }
        break;
      case 'ContinueAsNew': {
        // History restarts now: results of the old execution no longer match the execution id, and
        // events that arrive from now on belong to the new generation.
        const executionId = randomUUID();
        doc.outbox.push({
          type: 'message',
          message: this.#startMessage(doc.instanceId, executionId, doc.name, completion.input, doc.parent),
        });
        doc.executionId = executionId;
        doc.input = completion.input;
        doc.history = [];
        doc.runtimeStatus = 'Running';
        break;
      }
      default:
        doc.runtimeStatus = 'Running';
    }

    await this.#commit(doc, batch, plan.cancelTimerKeys);
  }

  /**
   * What the extension makes of the replay: the shim replays the returned actions into DTFx (see
   * extensionReplay.ts), DTFx writes a scheduling event for every task it created that the history
   * does not have yet, and the instance completes, fails or continues as new only once the shim has
   * awaited every action and no task is open (TaskOrchestrationExecutor.ExecuteCore).
   */
  #decide(
    doc: InstanceDoc,
    full: HistoryEvent[],
    replay: ReplayOutcome,
    now: number,
  ): { completion: Completion; plan: SchedulingPlan } {
    const none: SchedulingPlan = { events: [], outbox: [], cancelTimerKeys: [] };
    const failed = (message: string): { completion: Completion; plan: SchedulingPlan } => ({
      completion: { status: 'Failed', message, details: '{}' },
      plan: none,
    });
    if (replay.kind === 'failed' && replay.bare) {
      return {
        completion: {
          status: 'Failed',
          message: `Orchestrator function '${doc.name}' failed: ${replay.message}`,
          details: JSON.stringify({ message: replay.message, stack: replay.stack }),
          failureDetails: replay.failureDetails,
        },
        plan: none,
      };
    }
    const payload = replay.kind === 'ok' ? replay.state.actions : replay.actionsPayload;
    const actions = flattenActions(payload);
    const unsupported = actions.filter((action) => !supportedActionTypes.has(action.actionType));
    if (unsupported.length > 0) {
      return failed(
        `Orchestration "${doc.name}" used ${unsupported.map((a) => actionTypeName(a.actionType)).join(', ')}, ` +
          'which the local host does not support (entities and durable HTTP are not implemented).',
      );
    }
    for (const action of actions) {
      const problem = action.retryOptions ? retryOptionsProblem(action.retryOptions) : undefined;
      if (problem) return failed(problem);
    }
    if (this.#options.rejectRepeatedTasks) {
      const repeated = repeatedTaskProblem(doc.name, payload);
      if (repeated) {
        this.#log('error', repeated);
        return failed(repeated);
      }
    }
    const extension = replayLikeExtension(full, payload, {
      maximumShortTimerMs: parseTimeSpan(this.#options.maximumShortTimerDuration),
      longRunningTimerIntervalMs: parseTimeSpan(this.#options.longRunningTimerIntervalDuration),
    });
    if (extension.problem) {
      const message = `Non-deterministic orchestration "${doc.name}": ${extension.problem}`;
      this.#log('error', message);
      return failed(message);
    }
    this.#warnIfNumberingDiverged(doc, replay, extension);
    const plan = this.#planScheduling(doc, full, extension.tasks, now);
    if (plan.problem) return failed(plan.problem);

    const functionDone = replay.kind === 'failed' || replay.state.isDone;
    if (!extension.actionsReplayed || !functionDone || extension.openTasks > 0) {
      return { completion: { status: 'Running' }, plan };
    }
    if (replay.kind === 'failed') {
      return {
        completion: {
          status: 'Failed',
          message: `Orchestrator function '${doc.name}' failed: ${replay.message}`,
          details: JSON.stringify({ message: replay.message, stack: replay.stack }),
          failureDetails: replay.failureDetails,
        },
        plan,
      };
    }
    const continueAsNew = actions.find((action) => action.actionType === ActionTypeValue.ContinueAsNew);
    if (continueAsNew) {
      return {
        completion: { status: 'ContinueAsNew', input: serializeProcessedInput(continueAsNew.input) },
        plan,
      };
    }
    return { completion: { status: 'Completed', output: JSON.stringify(replay.state.output ?? null) }, plan };
  }

  /**
   * The library numbers tasks once each; the extension numbers every action it is sent. When they
   * disagree, results land on the wrong tasks in Azure (and here): say so in the log.
   */
  #warnIfNumberingDiverged(doc: InstanceDoc, replay: ReplayOutcome, extension: ExtensionReplayResult): void {
    if (replay.kind !== 'ok' || !replay.executor) return;
    const library = replay.executor.sequenceNumber;
    if (extension.actionsReplayed && library !== extension.sequenceNumbers) {
      this.#log(
        'warning',
        `Orchestration "${doc.instanceId}": durable-functions numbered ${library} task(s), the extension ` +
          `${extension.sequenceNumbers}; results may reach the wrong tasks (durable-js#574).`,
      );
    }
  }

  async #terminateEpisode(
    doc: InstanceDoc,
    batch: InboxMessage[],
    incoming: HistoryEvent[],
    reason: string,
    now: number,
  ): Promise<void> {
    const reasonJson = JSON.stringify(reason);
    const appended: HistoryEvent[] = [
      this.#event(EventType.OrchestratorStarted, now),
      ...incoming,
      { ...this.#event(EventType.ExecutionTerminated, now), Input: reasonJson },
      this.#event(EventType.OrchestratorCompleted, now),
      {
        ...this.#event(EventType.ExecutionCompleted, now),
        OrchestrationStatus: 'Terminated',
        Result: reasonJson,
      },
    ];
    this.#appendTimeline(doc, appended);
    doc.history = [...doc.history, ...appended];
    doc.runtimeStatus = 'Terminated';
    doc.output = reasonJson;
    doc.lastUpdatedTime = now;
    doc.outbox = [];
    if (doc.parent) {
      doc.outbox.push(
        this.#parentMessage(doc.parent, {
          ...this.#event(EventType.SubOrchestrationInstanceFailed),
          TaskScheduledId: doc.parent.taskScheduledId,
          Reason: `Sub-orchestration '${doc.instanceId}' was terminated: ${reason}`,
          Details: '{}',
        }),
      );
    }
    const timers = [...this.#inboxOf(doc.instanceId).values()]
      .filter((message) => message.visibleAt > now)
      .map((message) => message.key);
    await this.#commit(doc, batch, timers);
  }

  /** Saves the document, then dispatches its outbox, then deletes what it consumed (in that order). */
  async #commit(doc: InstanceDoc, batch: InboxMessage[], cancelTimerKeys: string[]): Promise<void> {
    const consumed = batch.map((message) => message.key);
    (doc as DocExtras)[LAST_CONSUMED_KEY] = consumed;
    if (this.#stopped) return;
    await this.#options.store.saveInstance(doc);
    if (this.#stopped) return;
    this.#changed(doc.instanceId);
    for (const key of cancelTimerKeys) await this.#deleteMessage(doc.instanceId, key);
    await this.#dispatchOutbox(doc, false);
    for (const key of consumed) await this.#deleteMessage(doc.instanceId, key);
  }

  async #consume(instanceId: string, batch: InboxMessage[]): Promise<void> {
    for (const message of batch) await this.#deleteMessage(instanceId, message.key);
  }

  async #replay(doc: InstanceDoc, full: HistoryEvent[], firstNew: number): Promise<ReplayOutcome> {
    const registration = this.#options.findFunction(doc.name, 'orchestrationTrigger');
    if (!registration) {
      return {
        kind: 'failed',
        bare: true,
        message: `The function '${doc.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      };
    }
    // The DurableOrchestrationBindingInfo the extension sends; fresh copies because the library
    // rewrites Timestamp fields in place.
    const binding = {
      history: full.map((event, index) => ({ ...event, IsPlayed: index < firstNew })),
      input: parseJson(doc.input),
      instanceId: doc.instanceId,
      isReplaying: firstNew > 0,
      parentInstanceId: doc.parent?.instanceId,
      upperSchemaVersion: REPLAY_SCHEMA_V3,
      maximumShortTimerDuration: this.#options.maximumShortTimerDuration,
      longRunningTimerIntervalDuration: this.#options.longRunningTimerIntervalDuration,
      defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
    };
    try {
      const outcome = await this.#options.invoke(registration, binding);
      const state = outcome.result as OrchestratorStateLike;
      return {
        kind: 'ok',
        state,
        executor: executorOf(outcome.context),
        actions: flattenActions(state.actions),
      };
    } catch (error) {
      const message = messageOf(error);
      const stack = error instanceof Error ? error.stack : undefined;
      const at = message.indexOf(OUT_OF_PROC_DATA_LABEL);
      if (at < 0) return { kind: 'failed', bare: true, message, stack };
      const state = parseJson(message.slice(at + OUT_OF_PROC_DATA_LABEL.length)) as
        | { customStatus?: unknown; failureDetails?: FailureDetailsWire; error?: string; actions?: unknown }
        | undefined;
      // durable-functions 3.5.0 builds OrchestrationFailureError from `orchestratorReturned` (a
      // boolean), so the text before the label reads "false"; the real message is state.error.
      return {
        kind: 'failed',
        message: state?.error ?? message.slice(0, at),
        stack: state?.failureDetails?.StackTrace,
        customStatus: state?.customStatus,
        failureDetails: state?.failureDetails,
        actionsPayload: state?.actions,
      };
    }
  }

  /**
   * Writes the history the extension would write: a scheduling event (and its work item, timer
   * message or sub-orchestration start) for every task DTFx created that the history does not have,
   * with DTFx's sequence number; pending timer messages of timers cancelled since are dropped.
   */
  #planScheduling(doc: InstanceDoc, full: HistoryEvent[], tasks: DtfxTask[], now: number): SchedulingPlan {
    const plan: SchedulingPlan = { events: [], outbox: [], cancelTimerKeys: [] };
    const fired = new Set<number>();
    for (const event of full) {
      if (event.EventType === EventType.TimerFired && event.TimerId !== undefined) fired.add(event.TimerId);
    }
    const timestamp = iso(now);
    for (const task of tasks) {
      if (task.inHistory) {
        if (task.kind === 'timer' && task.cancelled && !fired.has(task.id)) {
          plan.cancelTimerKeys.push(timerKey(doc.executionId, task.id));
        }
        continue;
      }
      const base = { EventId: task.id, IsPlayed: false, Timestamp: timestamp };
      if (task.kind === 'timer') {
        const fireAt = task.fireAt ?? new Date(now);
        plan.events.push({
          ...base,
          EventType: EventType.TimerCreated,
          FireAt: fireAt.toISOString(),
          ...(task.origin ? { HostOrigin: task.origin } : {}),
        });
        // A timer cancelled as it was created never fires here (in Azure its message still fires
        // and adds a TimerFired nobody waits for; see README).
        if (!task.cancelled)
          plan.outbox.push({ type: 'message', message: this.#timerMessage(doc, task.id, fireAt) });
        continue;
      }
      const action = task.action;
      if (!action) {
        plan.problem = `Task ${task.id} of "${doc.name}" has no action the host can run.`;
        return plan;
      }
      const problem = this.#scheduleAction(
        doc,
        action,
        task.id,
        base,
        plan,
        task.origin === 'retry' ? 'retry' : undefined,
      );
      if (problem) {
        plan.problem = problem;
        return plan;
      }
    }
    return plan;
  }

  #scheduleAction(
    doc: InstanceDoc,
    action: ActionLike,
    id: number,
    base: { EventId: number; IsPlayed: boolean; Timestamp: string },
    plan: SchedulingPlan,
    origin: 'retry' | undefined,
  ): string | undefined {
    const originField = origin ? { HostOrigin: origin } : {};
    switch (action.actionType) {
      case ActionTypeValue.CallActivity:
      case ActionTypeValue.CallActivityWithRetry: {
        if (action.retryOptions) {
          const problem = retryOptionsProblem(action.retryOptions);
          if (problem) return problem;
        }
        const input = serializeProcessedInput(action.input);
        const name = action.functionName ?? '';
        plan.events.push({
          ...base,
          EventType: EventType.TaskScheduled,
          Name: name,
          Input: input,
          ...originField,
        });
        plan.outbox.push({
          type: 'workItem',
          item: {
            key: workItemKey(doc.instanceId, doc.executionId, id),
            instanceId: doc.instanceId,
            executionId: doc.executionId,
            taskScheduledId: id,
            name,
            input,
            enqueuedAt: this.#options.clock.now(),
          },
        });
        return undefined;
      }
      case ActionTypeValue.CallSubOrchestrator:
      case ActionTypeValue.CallSubOrchestratorWithRetry: {
        if (action.retryOptions) {
          const problem = retryOptionsProblem(action.retryOptions);
          if (problem) return problem;
        }
        const childId = action.instanceId || `${doc.instanceId}:${id}`;
        const problem = instanceIdProblem(childId);
        if (problem) return `Sub-orchestration instance id "${childId}": ${problem}`;
        const input = action.input === undefined ? undefined : JSON.stringify(action.input);
        const name = action.functionName ?? '';
        plan.events.push({
          ...base,
          EventType: EventType.SubOrchestrationInstanceCreated,
          Name: name,
          InstanceId: childId,
          Input: input,
          ...originField,
        });
        plan.outbox.push({
          type: 'message',
          message: this.#startMessage(childId, randomUUID(), name, input, {
            instanceId: doc.instanceId,
            executionId: doc.executionId,
            taskScheduledId: id,
          }),
        });
        return undefined;
      }
      default:
        return `Orchestration "${doc.name}" used ${actionTypeName(action.actionType)}, which the local host does not support.`;
    }
  }

  // ---------------------------------------------------------------- activities

  async #runActivity(item: WorkItem): Promise<void> {
    const doc = this.#instances.get(item.instanceId);
    if (!doc || doc.executionId !== item.executionId || isTerminal(doc.runtimeStatus)) {
      await this.#removeWorkItem(item.key);
      return;
    }
    const registration = this.#options.findFunction(item.name, 'activityTrigger');
    const base = { ...this.#event(EventType.TaskCompleted), TaskScheduledId: item.taskScheduledId };
    let event: HistoryEvent;
    if (!registration) {
      event = {
        ...base,
        EventType: EventType.TaskFailed,
        Reason: `The function '${item.name}' doesn't exist, is disabled, or is not an activity function.`,
        Details: '{}',
      };
    } else {
      try {
        const outcome = await this.#options.invoke(registration, parseJson(item.input));
        event = { ...base, Result: JSON.stringify(outcome.result ?? null) };
      } catch (error) {
        event = { ...base, EventType: EventType.TaskFailed, ...activityFailure(item.name, error) };
      }
    }
    if (this.#stopped) return;
    await this.#putMessage(
      this.#message(item.instanceId, resultKey(item.executionId, item.taskScheduledId), item.executionId, {
        kind: 'event',
        event,
      }),
    );
    await this.#removeWorkItem(item.key);
  }

  #workItemAlreadyDone(item: WorkItem): boolean {
    const doc = this.#instances.get(item.instanceId);
    if (!doc || doc.executionId !== item.executionId || isTerminal(doc.runtimeStatus)) return true;
    if (this.#inboxOf(item.instanceId).has(resultKey(item.executionId, item.taskScheduledId))) return true;
    return completionKeys(doc.history).has(`task:${item.taskScheduledId}`);
  }

  async #removeWorkItem(key: string): Promise<void> {
    this.#workItems.delete(key);
    if (this.#stopped) return;
    await this.#options.store.deleteWorkItem(key);
  }

  // ---------------------------------------------------------------- messages

  async #dispatchOutbox(doc: InstanceDoc, recovering: boolean): Promise<void> {
    for (const entry of doc.outbox) {
      if (this.#stopped) return;
      if (entry.type === 'workItem') {
        const item = entry.item;
        if (recovering && (this.#workItems.has(item.key) || this.#workItemAlreadyDone(item))) continue;
        this.#workItems.set(item.key, item);
        await this.#options.store.putWorkItem(item);
        if (!recovering) this.#activityQueue.push(item.key);
        continue;
      }
      const message = entry.message;
      if (recovering && this.#alreadyDelivered(message)) continue;
      await this.#putMessage(message);
    }
    this.#schedulePump();
  }

  #alreadyDelivered(message: InboxMessage): boolean {
    if (this.#inboxOf(message.instanceId).has(message.key)) return true;
    const target = this.#instances.get(message.instanceId);
    if (!target) return false;
    if (message.body.kind === 'start') {
      return (extras(target)[EXECUTION_IDS_KEY] ?? []).includes(message.body.executionId);
    }
    if (message.executionId !== undefined && message.executionId !== target.executionId) return true;
    if (message.body.kind === 'event') {
      const key = completionKeyOf(message.body.event);
      if (key !== undefined) return completionKeys(target.history).has(key);
    }
    return (extras(target)[LAST_CONSUMED_KEY] ?? []).includes(message.key);
  }

  async #putMessage(message: InboxMessage): Promise<void> {
    if (this.#stopped) return;
    this.#inboxOf(message.instanceId).set(message.key, message);
    await this.#options.store.putMessage(message);
    if (message.visibleAt <= this.#options.clock.now()) {
      this.#runnable.add(message.instanceId);
      this.#schedulePump();
    } else {
      this.#armTimer(message);
    }
  }

  async #deleteMessage(instanceId: string, key: string): Promise<void> {
    this.#forgetMessage(instanceId, key);
    if (this.#stopped) return;
    await this.#options.store.deleteMessage(instanceId, key);
  }

  #forgetMessage(instanceId: string, key: string): void {
    this.#inboxOf(instanceId).delete(key);
    const timerId = `${instanceId}\u0000${key}`;
    this.#timerCancels.get(timerId)?.();
    this.#timerCancels.delete(timerId);
  }

  #armTimer(message: InboxMessage): void {
    const timerId = `${message.instanceId}\u0000${message.key}`;
    this.#timerCancels.get(timerId)?.();
    const cancel = this.#options.clock.schedule(message.visibleAt, () => {
      this.#timerCancels.delete(timerId);
      if (this.#stopped) return;
      if (!this.#inboxOf(message.instanceId).has(message.key)) return;
      this.#runnable.add(message.instanceId);
      this.#schedulePump();
    });
    this.#timerCancels.set(timerId, cancel);
  }

  async #sendToParent(parent: ParentRef, event: HistoryEvent): Promise<void> {
    const entry = this.#parentMessage(parent, event);
    if (entry.type === 'message') await this.#putMessage(entry.message);
  }

  #parentMessage(parent: ParentRef, event: HistoryEvent): OutboxEntry {
    return {
      type: 'message',
      message: this.#message(
        parent.instanceId,
        `sub:${parent.executionId}:${parent.taskScheduledId}`,
        parent.executionId,
        { kind: 'event', event },
      ),
    };
  }

  #startMessage(
    instanceId: string,
    executionId: string,
    name: string,
    input: string | undefined,
    parent: ParentRef | undefined,
  ): InboxMessage {
    return this.#message(instanceId, `start:${executionId}`, undefined, {
      kind: 'start',
      executionId,
      name,
      input,
      ...(parent ? { parent } : {}),
    });
  }

  #timerMessage(doc: InstanceDoc, timerId: number, fireAt: Date): InboxMessage {
    return {
      ...this.#message(doc.instanceId, timerKey(doc.executionId, timerId), doc.executionId, {
        kind: 'event',
        event: { ...this.#event(EventType.TimerFired), TimerId: timerId, FireAt: fireAt.toISOString() },
      }),
      visibleAt: fireAt.getTime(),
    };
  }

  #message(
    instanceId: string,
    key: string,
    executionId: string | undefined,
    body: MessageBody,
  ): InboxMessage {
    const now = this.#options.clock.now();
    return {
      key,
      instanceId,
      ...(executionId !== undefined ? { executionId } : {}),
      seq: this.#seq++,
      enqueuedAt: now,
      visibleAt: now,
      body,
    };
  }

  #event(type: HistoryEvent['EventType'], at?: number): HistoryEvent {
    return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: iso(at ?? this.#options.clock.now()) };
  }

  #inboxOf(instanceId: string): Map<string, InboxMessage> {
    let inbox = this.#inbox.get(instanceId);
    if (!inbox) {
      inbox = new Map();
      this.#inbox.set(instanceId, inbox);
    }
    return inbox;
  }

  #matching(filter: InstanceFilter): InstanceDoc[] {
    return [...this.#instances.values()].filter(
      (doc) =>
        (!filter.runtimeStatus?.length || filter.runtimeStatus.includes(doc.runtimeStatus)) &&
        (filter.createdTimeFrom === undefined || doc.createdTime >= filter.createdTimeFrom) &&
        (filter.createdTimeTo === undefined || doc.createdTime <= filter.createdTimeTo) &&
        (filter.instanceIdPrefix === undefined || doc.instanceId.startsWith(filter.instanceIdPrefix)),
    );
  }

  #appendTimeline(doc: InstanceDoc, events: HistoryEvent[]): void {
    for (const event of events) {
      doc.timeline.push(timelineEntry(doc, event));
    }
    const capacity = this.#options.timelineCapacity ?? 5000;
    if (doc.timeline.length > capacity) {
      const drop = doc.timeline.length - capacity;
      doc.timeline.splice(0, drop);
      doc.timelineDropped += drop;
    }
  }

  async #tracked<T>(work: () => Promise<T>): Promise<T> {
    this.#busy++;
    try {
      return await work();
    } finally {
      this.#busy--;
      this.#events.emit('change');
    }
  }

  #changed(instanceId: string): void {
    this.#events.emit('change', instanceId);
  }

  #log(level: HostLogLevel, message: string): void {
    this.#options.log({ time: iso(this.#options.clock.now()), level, category: 'durable', message });
  }
}

const supportedActionTypes: ReadonlySet<number> = new Set([
  ActionTypeValue.CallActivity,
  ActionTypeValue.CallActivityWithRetry,
  ActionTypeValue.CallSubOrchestrator,
  ActionTypeValue.CallSubOrchestratorWithRetry,
  ActionTypeValue.ContinueAsNew,
  ActionTypeValue.CreateTimer,
  ActionTypeValue.WaitForExternalEvent,
]);

/**
 * The test-time check behind `rejectRepeatedTasks`: an action object that occurs twice in the
 * payload is a task the orchestrator yielded again inside a newly built composite (or twice in one
 * composite). durable-functions 3.5.0 re-sends it and the extension schedules it once more with a
 * new sequence number, so results reach the wrong tasks in Azure (durable-js#574).
 */
export function repeatedTaskProblem(name: string, payload: unknown): string | undefined {
  const repeats = repeatedActions(payload);
  if (repeats.length === 0) return undefined;
  const first = repeats[0]!;
  const what = first.action.functionName
    ? `${actionTypeName(first.action.actionType)} "${first.action.functionName}"`
    : actionTypeName(first.action.actionType);
  return (
    `Orchestration "${name}" yielded an already-scheduled task (${what}) inside a new ` +
    `${first.composite ? `Task.${first.composite === ActionTypeValue.WhenAny ? 'any' : 'all'}` : 'composite'}: ` +
    'durable-functions 3.5.0 sends its action again and the Durable extension schedules it a second ' +
    'time with a new sequence number (durable-js#574). Build each Task.any / Task.all from tasks not ' +
    `yielded before (${repeats.length} repeated action(s)).`
  );
}

function retryOptionsProblem(options: RetryOptionsLike): string | undefined {
  if (options.retryTimeoutInMilliseconds !== undefined && options.retryTimeoutInMilliseconds > 0) {
    return (
      'RetryOptions.retryTimeoutInMilliseconds is not supported: once the timeout passes the extension ' +
      'stops creating retry timers while durable-functions 3.5.0 keeps waiting for one, so the ' +
      'orchestration hangs. Bound retries with maxNumberOfAttempts instead.'
    );
  }
  return undefined;
}

/**
 * The library pre-serialises string inputs of activities and continueAsNew (Utils.processInput) so
 * the extension parses them back; other values are sent as JSON.
 */
function serializeProcessedInput(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

/**
 * How a thrown activity error reaches the orchestrator. With an exception properties provider
 * registered, wrapActivityHandler puts failure-details JSON in the message and the extension turns
 * it into FailureDetails (the orchestrator sees a TaskFailedError "<type>: <message>"). Otherwise the
 * extension sends Reason and Details, and the orchestrator sees Error("<Reason> \n <Details>").
 */
function activityFailure(
  name: string,
  error: unknown,
): Pick<HistoryEvent, 'Reason' | 'Details' | 'FailureDetails'> {
  const message = messageOf(error);
  const details = parseJson(message) as
    | {
        errorType?: string;
        errorMessage?: string;
        stackTrace?: string;
        isNonRetriable?: boolean;
        properties?: Record<string, unknown>;
      }
    | undefined;
  if (
    details &&
    typeof details === 'object' &&
    typeof details.errorMessage === 'string' &&
    details.properties
  ) {
    return {
      Reason: `Activity function '${name}' failed: ${details.errorMessage}`,
      FailureDetails: {
        ErrorType: details.errorType ?? 'Error',
        ErrorMessage: details.errorMessage,
        StackTrace: details.stackTrace,
        IsNonRetriable: details.isNonRetriable ?? false,
        Properties: details.properties,
      },
    };
  }
  return {
    Reason: `Activity function '${name}' failed: ${message}`,
    Details: JSON.stringify({
      Message: message,
      ClassName: error instanceof Error ? error.name : typeof error,
      StackTraceString: error instanceof Error ? (error.stack ?? null) : null,
    }),
  };
}

function completionKeyOf(event: HistoryEvent): string | undefined {
  if (completionEventTypes.has(event.EventType) && event.TaskScheduledId !== undefined) {
    return `task:${event.TaskScheduledId}`;
  }
  if (event.EventType === EventType.TimerFired && event.TimerId !== undefined)
    return `timer:${event.TimerId}`;
  return undefined;
}

function completionKeys(history: HistoryEvent[]): Set<string> {
  const keys = new Set<string>();
  for (const event of history) {
    const key = completionKeyOf(event);
    if (key !== undefined) keys.add(key);
  }
  return keys;
}

function statusJson(doc: InstanceDoc, query: StatusQuery): InstanceStatusJson {
  const status: InstanceStatusJson = {
    name: doc.name,
    instanceId: doc.instanceId,
    runtimeStatus: doc.runtimeStatus,
    input: query.showInput === false ? null : (parseJson(doc.input) ?? null),
    customStatus: parseJson(doc.customStatus) ?? null,
    output: parseJson(doc.output) ?? null,
    createdTime: isoSeconds(doc.createdTime),
    lastUpdatedTime: isoSeconds(doc.lastUpdatedTime),
  };
  if (query.showHistory) {
    status.historyEvents = doc.history
      .filter((event) => event.EventType !== EventType.OrchestratorStarted)
      .filter((event) => event.EventType !== EventType.OrchestratorCompleted)
      .map((event) => historyJson(event, query.showHistoryOutput === true));
  }
  return status;
}

function historyJson(event: HistoryEvent, withOutput: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    EventType: eventTypeName(event.EventType),
    Timestamp: event.Timestamp,
  };
  if (event.EventId >= 0) json['EventId'] = event.EventId;
  if (event.Name !== undefined) json['Name'] = event.Name;
  if (event.InstanceId !== undefined) json['InstanceId'] = event.InstanceId;
  if (event.TaskScheduledId !== undefined) json['TaskScheduledId'] = event.TaskScheduledId;
  if (event.TimerId !== undefined) json['TimerId'] = event.TimerId;
  if (event.FireAt !== undefined) json['FireAt'] = event.FireAt;
  if (event.Reason !== undefined) json['Reason'] = event.Reason;
  if (event.OrchestrationStatus !== undefined) json['OrchestrationStatus'] = event.OrchestrationStatus;
  if (withOutput) {
    if (event.Input !== undefined) json['Input'] = parseJson(event.Input);
    if (event.Result !== undefined) json['Result'] = parseJson(event.Result);
  }
  return json;
}

function timelineEntry(doc: InstanceDoc, event: HistoryEvent): TimelineEntry {
  const entry: TimelineEntry = {
    time: event.Timestamp,
    generation: doc.generation,
    executionId: doc.executionId,
    eventType: eventTypeName(event.EventType),
    eventId: event.EventId,
  };
  if (event.Name !== undefined) entry.name = event.Name;
  if (event.TaskScheduledId !== undefined) entry.taskScheduledId = event.TaskScheduledId;
  if (event.TimerId !== undefined) entry.timerId = event.TimerId;
  if (event.FireAt !== undefined) entry.fireAt = event.FireAt;
  if (event.InstanceId !== undefined) entry.instanceId = event.InstanceId;
  if (event.HostOrigin !== undefined) entry.origin = event.HostOrigin;
  const detail = event.Reason ?? event.OrchestrationStatus;
  if (detail !== undefined) entry.detail = detail.slice(0, 500);
  return entry;
}

function extras(doc: InstanceDoc | undefined): DocExtras {
  return (doc ?? {}) as DocExtras;
}

function isStart(message: InboxMessage): boolean {
  return message.body.kind === 'start';
}

function timerKey(executionId: string, timerId: number): string {
  return `timer:${executionId}:${timerId}`;
}

function resultKey(executionId: string, taskScheduledId: number): string {
  return `result:${executionId}:${taskScheduledId}`;
}

function workItemKey(instanceId: string, executionId: string, taskScheduledId: number): string {
  return `${instanceId}|${executionId}|${taskScheduledId}`;
}

export function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
