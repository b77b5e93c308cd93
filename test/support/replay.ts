/**
 * Orchestrations tested without the world: drives an orchestration handler through
 * durable-functions' own replay (the library's Orchestrator, as `df.app.orchestration` wraps it,
 * with the binding the Durable extension sends) against scripted activity results, scripted
 * sub-orchestrations and scripted external events, on a virtual clock. No host, no storage, no
 * simulator: one run takes milliseconds.
 *
 * The loop is the one durable-js's own tests write by hand as synthetic histories: call the
 * orchestrator with the history so far, read the actions it returns, append what the extension
 * would append, repeat. What the extension appends comes from the local host's model of it
 * (sandbox/host/durable/extensionReplay.ts, the DTFx replay that numbers tasks, runs
 * callActivityWithRetry as retry timer + re-schedule, splits long timers, cancels timers and checks
 * determinism) and the tests' host's refusal of a task yielded twice (durable-js#574), so the
 * histories here are the ones the local host (and Azure) writes:
 * OrchestratorStarted at the episode's time, TaskScheduled / TaskCompleted / TaskFailed,
 * TimerCreated / TimerFired, SubOrchestrationInstanceCreated / Completed / Failed, EventRaised.
 *
 * Each episode delivers one thing: the earliest of an activity's result (an activity finishes
 * `activityMs` after it was scheduled, default 0), a sub-orchestration's result, an open timer's
 * firing, or a scripted event; ties go in that order, then by sequence number.
 */
import { createRequire } from 'node:module';
import { DummyOrchestrationContext } from 'durable-functions';
import type { OrchestrationHandler } from 'durable-functions';
import { replayLikeExtension, type DtfxTask } from '../../sandbox/host/durable/extensionReplay.js';
import {
  ActionTypeValue,
  OUT_OF_PROC_DATA_LABEL,
  REPLAY_SCHEMA_V3,
  flattenActions,
  type ActionLike,
} from '../../sandbox/host/durable/internals.js';
import { repeatedTaskProblem } from '../../sandbox/host/durable/engine.js';
import { EventType, type HistoryEvent } from '../../sandbox/host/durable/types.js';
import { messageOf } from '../../shared/errors.js';

const require = createRequire(import.meta.url);

/** durable-js's own test helper: the function `df.app.orchestration` registers for a handler. */
const { createOrchestrator } = require('durable-functions/lib/src/util/testingUtils.js') as {
  createOrchestrator: (
    fn: OrchestrationHandler,
  ) => (trigger: unknown, context: DummyOrchestrationContext) => Promise<OrchestratorStateLike>;
};

interface OrchestratorStateLike {
  isDone: boolean;
  actions: unknown;
  output?: unknown;
  customStatus?: unknown;
  error?: string;
}

const MAXIMUM_SHORT_TIMER = '6.00:00:00';
const LONG_TIMER_INTERVAL = '3.00:00:00';
const DAY = 24 * 3600_000;

/** What a scripted activity or sub-orchestration learns about the call. */
export interface CallInfo {
  /**
   * 1, then 2, 3, ... while earlier calls of this name threw (a retry, by the extension or by the
   * orchestration's own timer); back to 1 after a call that returned.
   */
  attempt: number;
  /** 1 for the first call of this activity name in the run, whatever the input. */
  call: number;
  /** The virtual time the call was scheduled (ISO). */
  now: string;
  /** Scheduled by the extension's retry of a callActivityWithRetry (not by the orchestrator). */
  retry: boolean;
  /** The sub-orchestration's instance id (sub-orchestrations only). */
  instanceId?: string;
}

/**
 * Returns the activity's result, or throws to fail it (TaskFailed, as the extension reports an
 * activity that threw). `input` is typed by the script: annotate the parameter.
 */
export type ActivityScript = (input: never, call: CallInfo) => unknown;

export interface ScriptedEvent {
  name: string;
  /** Milliseconds after the run's start. */
  afterMs: number;
  data?: unknown;
}

export interface Script {
  activities?: Record<string, ActivityScript>;
  /** By orchestration name; see `runsNested` to run the real one under its own script. */
  subOrchestrations?: Record<string, ActivityScript>;
  events?: ScriptedEvent[];
}

export interface ReplayOptions {
  instanceId?: string;
  parentInstanceId?: string;
  /** The run's start (default 2026-11-22T08:00:00Z). */
  startAt?: string | Date;
  /** How long every activity takes (default 0). */
  activityMs?: number;
  /** How late every durable timer fires after its fireAt (default 0: on time). */
  timerLateMs?: number;
  /** Guard against an orchestration that never stops (default 5000 episodes). */
  maxEpisodes?: number;
}

export interface ActivityCall {
  name: string;
  input: unknown;
  attempt: number;
  call: number;
  retry: boolean;
  /** Scheduled at (ISO). */
  at: string;
  outcome: { ok: true; result: unknown } | { ok: false; error: string };
}

export interface TimerRecord {
  id: number;
  createdAt: string;
  fireAt: string;
  /** Created by the extension for a callActivityWithRetry (a retry delay), not by the orchestrator. */
  retry: boolean;
  firedAt?: string;
  cancelled: boolean;
}

export interface SubOrchestrationCall {
  name: string;
  instanceId: string;
  input: unknown;
  at: string;
  outcome: { ok: true; result: unknown } | { ok: false; error: string };
}

export interface ReplayRun {
  /** Running: nothing left to deliver (waiting for an event no script raises). */
  status: 'Completed' | 'Failed' | 'ContinuedAsNew' | 'Running';
  output?: unknown;
  /** The orchestration's failure message (what it threw). */
  error?: string;
  /** The input given to continueAsNew. */
  continuedAsNewWith?: unknown;
  /** Every distinct custom status, in order. */
  customStatuses: unknown[];
  customStatus: unknown;
  calls: ActivityCall[];
  timers: TimerRecord[];
  subOrchestrations: SubOrchestrationCall[];
  /** Events delivered, with their time. */
  events: { name: string; at: string; data: unknown }[];
  history: HistoryEvent[];
  episodes: number;
  startedAt: string;
  endedAt: string;
  /** Activity names in the order they were scheduled. */
  names(): string[];
  callsOf(name: string): ActivityCall[];
  inputsOf<T>(name: string): T[];
}

type Outcome = { ok: true; result: unknown } | { ok: false; error: string; reason: string; details: string };

interface Delivery {
  time: number;
  order: number;
  id: number;
  event: () => HistoryEvent;
}

/** Runs `handler` with `input` against `script` until it completes, fails, continues as new or waits. */
export async function replay(
  handler: OrchestrationHandler,
  input: unknown,
  script: Script,
  options: ReplayOptions = {},
): Promise<ReplayRun> {
  const instanceId = options.instanceId ?? 'replay-instance';
  const startedAt = new Date(options.startAt ?? '2026-11-22T08:00:00Z').getTime();
  const activityMs = options.activityMs ?? 0;
  const timerLateMs = options.timerLateMs ?? 0;
  const maxEpisodes = options.maxEpisodes ?? 5000;
  const orchestrator = createOrchestrator(handler);

  let now = startedAt;
  let history: HistoryEvent[] = [];
  let incoming: HistoryEvent[] = [
    { ...stamp(EventType.ExecutionStarted, now), Name: instanceId, Input: JSON.stringify(input ?? null) },
  ];
  const results = new Map<
    number,
    { readyAt: number; order: number; outcome: Outcome; kind: 'activity' | 'sub' }
  >();
  /** Consecutive throws per name. */
  const throws = new Map<string, number>();
  const perName = new Map<string, number>();
  const pendingEvents = [...(script.events ?? [])]
    .map((event, index) => ({ ...event, index }))
    .sort((a, b) => a.afterMs - b.afterMs || a.index - b.index);
  const run: ReplayRun = {
    status: 'Running',
    customStatuses: [],
    customStatus: undefined,
    calls: [],
    timers: [],
    subOrchestrations: [],
    events: [],
    history: [],
    episodes: 0,
    startedAt: iso(startedAt),
    endedAt: iso(startedAt),
    names: () => run.calls.map((call) => call.name),
    callsOf: (name) => run.calls.filter((call) => call.name === name),
    inputsOf: <T>(name: string) => run.callsOf(name).map((call) => call.input as T),
  };
  const timerById = new Map<number, TimerRecord>();

  for (;;) {
    if (++run.episodes > maxEpisodes) {
      throw new Error(
        `replay: still running after ${maxEpisodes} episodes (last custom status ${json(run.customStatus)})`,
      );
    }
    const full = [...history, stamp(EventType.OrchestratorStarted, now), ...incoming];
    const firstNew = history.length;
    const episode = await runEpisode(
      orchestrator,
      instanceId,
      options.parentInstanceId,
      input,
      full,
      firstNew,
    );

    if (episode.customStatus !== undefined && json(episode.customStatus) !== json(run.customStatus)) {
      run.customStatuses.push(episode.customStatus);
    }
    run.customStatus = episode.customStatus;

    // As the tests' host does (durable.rejectRepeatedTasks): a task yielded again inside a new
    // Task.any / Task.all is scheduled twice by the extension (durable-js#574).
    const repeated = repeatedTaskProblem(instanceId, episode.actions);
    if (repeated) throw new Error(`replay: ${repeated}`);
    const extension = replayLikeExtension(full, episode.actions, {
      maximumShortTimerMs: 6 * DAY,
      longRunningTimerIntervalMs: 3 * DAY,
    });
    if (extension.problem) throw new Error(`replay: non-deterministic orchestration: ${extension.problem}`);

    const scheduling: HistoryEvent[] = [];
    for (const task of extension.tasks) {
      if (task.inHistory) continue;
      scheduling.push(await schedule(task));
    }
    for (const task of extension.tasks) {
      const timer = timerById.get(task.id);
      if (timer && task.cancelled && !timer.firedAt) timer.cancelled = true;
    }
    history = [...full, ...scheduling, stamp(EventType.OrchestratorCompleted, now)];

    const functionDone = episode.kind === 'failed' || episode.state.isDone;
    if (functionDone && extension.actionsReplayed && extension.openTasks === 0) {
      if (episode.kind === 'failed') {
        run.status = 'Failed';
        run.error = episode.error;
      } else {
        const continueAsNew = flattenActions(episode.state.actions).find(
          (action) => action.actionType === ActionTypeValue.ContinueAsNew,
        );
        if (continueAsNew) {
          run.status = 'ContinuedAsNew';
          run.continuedAsNewWith = continueAsNew.input;
        } else {
          run.status = 'Completed';
          run.output = episode.state.output;
        }
      }
      break;
    }

    const next = nextDelivery(extension.tasks);
    if (!next) break; // waiting on something no script delivers
    now = Math.max(now, next.time);
    incoming = [next.event()];
  }

  run.history = history;
  run.endedAt = iso(now);
  return run;

  async function schedule(task: DtfxTask): Promise<HistoryEvent> {
    const base = stamp(EventType.TaskScheduled, now);
    base.EventId = task.id;
    if (task.kind === 'timer') {
      const fireAt = task.fireAt ?? new Date(now);
      const record: TimerRecord = {
        id: task.id,
        createdAt: iso(now),
        fireAt: fireAt.toISOString(),
        retry: task.origin === 'retry',
        cancelled: task.cancelled,
      };
      run.timers.push(record);
      timerById.set(task.id, record);
      return { ...base, EventType: EventType.TimerCreated, FireAt: fireAt.toISOString() };
    }
    const action = task.action as ActionLike;
    const name = action.functionName ?? '';
    const value = parseInput(action.input);
    const attempt = (throws.get(name) ?? 0) + 1;
    const call = (perName.get(name) ?? 0) + 1;
    perName.set(name, call);
    const retry = task.origin === 'retry';
    if (task.kind === 'activity') {
      const fn = script.activities?.[name];
      if (!fn) throw new Error(`replay: no script for activity "${name}"`);
      const outcome = await invoke(
        fn,
        value,
        { attempt, call, now: iso(now), retry },
        (message) => `Activity function '${name}' failed: ${message}`,
      );
      throws.set(name, outcome.ok ? 0 : attempt);
      run.calls.push({
        name,
        input: value,
        attempt,
        call,
        retry,
        at: iso(now),
        outcome: publicOutcome(outcome),
      });
      results.set(task.id, { readyAt: now + activityMs, order: 0, outcome, kind: 'activity' });
      return { ...base, Name: name, Input: serialize(action.input) };
    }
    const childId = action.instanceId ?? `${instanceId}:${task.id}`;
    const fn = script.subOrchestrations?.[name];
    if (!fn) throw new Error(`replay: no script for sub-orchestration "${name}"`);
    const outcome = await invoke(
      fn,
      value,
      { attempt, call, now: iso(now), retry, instanceId: childId },
      (message) => `Orchestrator function '${name}' failed: ${message}`,
    );
    throws.set(name, outcome.ok ? 0 : attempt);
    run.subOrchestrations.push({
      name,
      instanceId: childId,
      input: value,
      at: iso(now),
      outcome: publicOutcome(outcome),
    });
    results.set(task.id, { readyAt: now, order: 1, outcome, kind: 'sub' });
    return {
      ...base,
      EventType: EventType.SubOrchestrationInstanceCreated,
      Name: name,
      InstanceId: childId,
      Input: serialize(action.input),
    };
  }

  function nextDelivery(tasks: DtfxTask[]): Delivery | undefined {
    const candidates: Delivery[] = [];
    for (const task of tasks) {
      if (!task.open) continue;
      if (task.kind === 'timer') {
        const fireAt = (task.fireAt ?? new Date(now)).getTime();
        candidates.push({
          time: fireAt + timerLateMs,
          order: 2,
          id: task.id,
          event: () => {
            const timer = timerById.get(task.id);
            if (timer) timer.firedAt = iso(now);
            return { ...stamp(EventType.TimerFired, now), TimerId: task.id, FireAt: iso(fireAt) };
          },
        });
        continue;
      }
      const result = results.get(task.id);
      if (!result) continue;
      candidates.push({
        time: result.readyAt,
        order: result.order,
        id: task.id,
        event: () => completion(task.id, result.kind, result.outcome),
      });
    }
    const event = pendingEvents[0];
    if (event) {
      candidates.push({
        time: startedAt + event.afterMs,
        order: 3,
        id: event.index,
        event: () => {
          pendingEvents.shift();
          run.events.push({ name: event.name, at: iso(now), data: event.data });
          return {
            ...stamp(EventType.EventRaised, now),
            Name: event.name,
            Input: JSON.stringify(event.data ?? null),
          };
        },
      });
    }
    candidates.sort((a, b) => a.time - b.time || a.order - b.order || a.id - b.id);
    return candidates[0];
  }

  function completion(id: number, kind: 'activity' | 'sub', outcome: Outcome): HistoryEvent {
    if (outcome.ok) {
      return {
        ...stamp(
          kind === 'activity' ? EventType.TaskCompleted : EventType.SubOrchestrationInstanceCompleted,
          now,
        ),
        TaskScheduledId: id,
        Result: JSON.stringify(outcome.result ?? null),
      };
    }
    return {
      ...stamp(kind === 'activity' ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed, now),
      TaskScheduledId: id,
      Reason: outcome.reason,
      Details: outcome.details,
    };
  }
}

/**
 * A sub-orchestration script that runs the real orchestration under its own script (from the
 * parent's time), returning its output or failing with its error. Its run is pushed to `runs`.
 */
export function runsNested(
  handler: OrchestrationHandler,
  script: Script,
  runs: ReplayRun[] = [],
  options: Omit<ReplayOptions, 'instanceId' | 'startAt'> = {},
): ActivityScript {
  return async (input: unknown, call: CallInfo) => {
    const child = await replay(handler, input, script, {
      ...options,
      instanceId: call.instanceId ?? 'child',
      startAt: call.now,
    });
    runs.push(child);
    if (child.status === 'Failed') throw new Error(child.error);
    if (child.status !== 'Completed') throw new Error(`replay: nested orchestration ended ${child.status}`);
    return child.output;
  };
}

/** A scripted answer sequence: the n-th call gets answers[n-1], later calls the last answer. */
export function inTurn(...answers: ((input: never, call: CallInfo) => unknown)[]): ActivityScript {
  return (input: never, call: CallInfo) => answers[Math.min(call.call, answers.length) - 1]!(input, call);
}

/**
 * Values in what the run carried (activity and sub-orchestration inputs and results, custom
 * statuses, output, error, continue-as-new input, events) that look like secrets: any of `known`,
 * or a shape secrets have (SAS signatures, storage connection strings, bearer tokens, JWTs, PEM
 * blocks, long base64 runs).
 */
export function secretLikeValues(run: ReplayRun, known: string[] = []): string[] {
  const carried = json([
    run.calls.map((call) => [call.input, call.outcome]),
    run.subOrchestrations.map((call) => [call.input, call.outcome]),
    run.customStatuses,
    run.output,
    run.error,
    run.continuedAsNewWith,
    run.events,
  ]);
  const hits = known.filter((value) => value.length > 0 && carried.includes(value));
  const shapes = [
    /[?&]sig=[^&"\s]+/gi,
    /AccountKey=[^;"\s]+/gi,
    /SharedAccessSignature=[^;"\s]+/gi,
    /Bearer\s+[A-Za-z0-9._~+/-]{10,}/g,
    /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
    /-----BEGIN [A-Z ]+-----/g,
    /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}/g,
  ];
  for (const shape of shapes) hits.push(...(carried.match(shape) ?? []));
  return hits;
}

async function runEpisode(
  orchestrator: ReturnType<typeof createOrchestrator>,
  instanceId: string,
  parentInstanceId: string | undefined,
  input: unknown,
  full: HistoryEvent[],
  firstNew: number,
): Promise<
  | { kind: 'ok'; state: OrchestratorStateLike; actions: unknown; customStatus: unknown }
  | { kind: 'failed'; error: string; actions: unknown; customStatus: unknown }
> {
  // The DurableOrchestrationBindingInfo the extension sends; fresh copies because the library
  // rewrites Timestamp fields in place.
  const binding = {
    history: full.map((event, index) => ({ ...event, IsPlayed: index < firstNew })),
    input: input ?? null,
    instanceId,
    isReplaying: firstNew > 0,
    parentInstanceId,
    upperSchemaVersion: REPLAY_SCHEMA_V3,
    maximumShortTimerDuration: MAXIMUM_SHORT_TIMER,
    longRunningTimerIntervalDuration: LONG_TIMER_INTERVAL,
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  const context = new DummyOrchestrationContext(instanceId, `${instanceId}-${full.length}`, () => {});
  try {
    const state = await orchestrator(binding, context);
    return { kind: 'ok', state, actions: state.actions, customStatus: state.customStatus };
  } catch (error) {
    const message = messageOf(error);
    const at = message.indexOf(OUT_OF_PROC_DATA_LABEL);
    if (at < 0) throw error; // the orchestrator function itself broke (not a failed orchestration)
    const state = JSON.parse(message.slice(at + OUT_OF_PROC_DATA_LABEL.length)) as {
      error?: string;
      actions?: unknown;
      customStatus?: unknown;
    };
    return {
      kind: 'failed',
      error: state.error ?? message.slice(0, at),
      actions: state.actions,
      customStatus: state.customStatus,
    };
  }
}

async function invoke(
  fn: ActivityScript,
  input: unknown,
  call: CallInfo,
  reason: (message: string) => string,
): Promise<Outcome> {
  try {
    const result = await (fn as (input: unknown, call: CallInfo) => unknown)(input, call);
    // Through JSON as the extension carries it.
    return {
      ok: true,
      result: result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown),
    };
  } catch (error) {
    const message = messageOf(error);
    return {
      ok: false,
      error: message,
      reason: reason(message),
      details: JSON.stringify({
        Message: message,
        ClassName: error instanceof Error ? error.name : typeof error,
        StackTraceString: null,
      }),
    };
  }
}

function publicOutcome(outcome: Outcome): ActivityCall['outcome'] {
  return outcome.ok ? outcome : { ok: false, error: outcome.error };
}

function stamp(type: HistoryEvent['EventType'], time: number): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: iso(time) };
}

/** The library pre-serialises string inputs (Utils.processInput); others travel as JSON. */
function serialize(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

/** What the activity receives: the action's input through JSON, as the extension passes it. */
function parseInput(input: unknown): unknown {
  if (input === undefined) return undefined;
  if (typeof input === 'string') {
    try {
      return JSON.parse(input) as unknown;
    } catch {
      return input;
    }
  }
  return JSON.parse(JSON.stringify(input)) as unknown;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function json(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}
