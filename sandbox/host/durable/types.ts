/**
 * History events in the shape durable-functions' replay code reads (PascalCase, as the Durable
 * extension sends them). Timestamps are ISO strings; the library turns them into Dates itself.
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export type EventTypeName = keyof typeof EventType;
export type EventTypeValue = (typeof EventType)[EventTypeName];

const eventTypeNames = new Map<number, EventTypeName>(
  Object.entries(EventType).map(([name, value]) => [value, name as EventTypeName]),
);

export function eventTypeName(value: number): string {
  return eventTypeNames.get(value) ?? `Unknown(${value})`;
}

/** The wire shape of failure details (durable-functions' FailureDetailsPayload). */
export interface FailureDetailsWire {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
}

export interface HistoryEvent {
  EventType: EventTypeValue;
  /** Sequence number for scheduling events (TaskScheduled, TimerCreated, ...); -1 otherwise. */
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  Version?: string;
  InstanceId?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetailsWire;
  OrchestrationStatus?: RuntimeStatus;
  /**
   * Host bookkeeping, ignored by the library: a scheduling event the extension creates without an
   * action of its own (retry delay timers and re-schedules, later segments of a long timer).
   */
  HostOrigin?: 'retry' | 'longTimer';
}

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated';

export const terminalStatuses: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

export function isTerminal(status: RuntimeStatus): boolean {
  return terminalStatuses.has(status);
}

export interface ParentRef {
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
}

export type MessageBody =
  | { kind: 'start'; executionId: string; name: string; input?: string; parent?: ParentRef }
  | { kind: 'event'; event: HistoryEvent }
  | { kind: 'terminate'; reason: string };

/** A message in an instance's inbox (the control queue of the Durable Task Framework). */
export interface InboxMessage {
  /** Unique per instance and deterministic where it can be, so re-sending after a crash is idempotent. */
  key: string;
  instanceId: string;
  /** Set for events that belong to one execution (task results, timers); others follow the instance. */
  executionId?: string;
  seq: number;
  enqueuedAt: number;
  /** Timers stay invisible until their fire time. */
  visibleAt: number;
  body: MessageBody;
}

/** An activity invocation waiting to run (the work-item queue). */
export interface WorkItem {
  key: string;
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
  input?: string;
  enqueuedAt: number;
}

/** Messages and work items an episode produced, dispatched after its history is saved. */
export type OutboxEntry = { type: 'message'; message: InboxMessage } | { type: 'workItem'; item: WorkItem };

export interface TimelineEntry {
  time: string;
  generation: number;
  executionId: string;
  eventType: string;
  eventId: number;
  name?: string;
  taskScheduledId?: number;
  timerId?: number;
  fireAt?: string;
  instanceId?: string;
  origin?: string;
  detail?: string;
}

/** Everything the host keeps about one orchestration instance. */
export interface InstanceDoc {
  instanceId: string;
  name: string;
  executionId: string;
  /** 0 for the first execution, +1 per continueAsNew or restart. */
  generation: number;
  runtimeStatus: RuntimeStatus;
  input?: string;
  output?: string;
  customStatus?: string;
  createdTime: number;
  lastUpdatedTime: number;
  parent?: ParentRef;
  /** History of the current execution only (continueAsNew resets it). */
  history: HistoryEvent[];
  outbox: OutboxEntry[];
  /** Keys of the most recently consumed inbox messages, to drop redeliveries after a crash. */
  recentConsumed: string[];
  timeline: TimelineEntry[];
  timelineDropped: number;
}

/** The status document the management API returns (the extension's JSON). */
export interface InstanceStatusJson {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: unknown[];
}
