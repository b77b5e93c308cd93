import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { registeredFunctions } from '../../sandbox/host/index.js';
import { InvocationContext } from '../../sandbox/host/azureFunctions.js';
import {
  ActionTypeValue,
  OUT_OF_PROC_DATA_LABEL,
  PINNED_DURABLE_FUNCTIONS_VERSION,
  REPLAY_SCHEMA_V3,
  executorOf,
  isLongTimerTask,
  isNoOpTask,
  isRetryableTask,
  isTimerTask,
} from '../../sandbox/host/durable/internals.js';
import { EventType } from '../../sandbox/host/durable/types.js';

const require = createRequire(import.meta.url);

function orchestrationHandler(name: string): (input: unknown, context: unknown) => Promise<unknown> {
  const registration = registeredFunctions().get(name);
  if (!registration) throw new Error(`${name} was not registered`);
  return registration.handler as (input: unknown, context: unknown) => Promise<unknown>;
}

function binding(history: object[]) {
  return {
    history,
    input: null,
    instanceId: 'probe',
    isReplaying: false,
    upperSchemaVersion: REPLAY_SCHEMA_V3,
    maximumShortTimerDuration: '6.00:00:00',
    longRunningTimerIntervalDuration: '3.00:00:00',
  };
}

const startedAt = '2026-01-01T00:00:00.000Z';
const opening = [
  { EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: startedAt },
  {
    EventType: EventType.ExecutionStarted,
    EventId: -1,
    IsPlayed: false,
    Timestamp: startedAt,
    Name: 'probe',
  },
];

describe('the durable-functions internals the local host relies on', () => {
  beforeAll(async () => {
    await import('./apps/pinProbe.js');
  });

  it('is durable-functions exactly 3.5.0, pinned exactly in package.json', () => {
    const installed = require('durable-functions/package.json') as { version: string };
    expect(installed.version).toBe(PINNED_DURABLE_FUNCTIONS_VERSION);
    const project = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(project.dependencies['durable-functions']).toBe(PINNED_DURABLE_FUNCTIONS_VERSION);
  });

  it('numbers history events, actions and replay schemas as the host does', () => {
    const { HistoryEventType } = require('durable-functions/lib/src/history/HistoryEventType.js') as {
      HistoryEventType: Record<string, number>;
    };
    for (const [name, value] of Object.entries(EventType)) expect(HistoryEventType[name], name).toBe(value);
    const { ActionType } = require('durable-functions/lib/src/actions/ActionType.js') as {
      ActionType: Record<string, number>;
    };
    for (const [name, value] of Object.entries(ActionTypeValue)) expect(ActionType[name], name).toBe(value);
    const { ReplaySchema } = require('durable-functions/lib/src/orchestrations/ReplaySchema.js') as {
      ReplaySchema: Record<string, number>;
    };
    expect(ReplaySchema['V3']).toBe(REPLAY_SCHEMA_V3);
  });

  it('requires the binding fields the host sends', () => {
    const { DurableOrchestrationBindingInfoReqFields } =
      require('durable-functions/lib/src/orchestrations/DurableOrchestrationBindingInfo.js') as {
        DurableOrchestrationBindingInfoReqFields: new () => object;
      };
    expect(Object.keys(new DurableOrchestrationBindingInfoReqFields()).sort()).toEqual(
      ['history', 'instanceId', 'isReplaying', 'upperSchemaVersion'].sort(),
    );
  });

  it('exposes the executor, its open tasks and sequence numbers on context.df after a replay', async () => {
    const context = new InvocationContext({ functionName: 'probeRetryAndLongTimer' });
    const state = (await orchestrationHandler('probeRetryAndLongTimer')(binding(opening), context)) as {
      isDone: boolean;
      actions: unknown[][];
    };
    expect(state.isDone).toBe(false);
    const executor = executorOf(context);
    expect(executor).toBeDefined();
    expect(executor!.sequenceNumber).toBe(2);
    const timer = executor!.openTasks['0']!;
    const activity = executor!.openTasks['1']!;
    expect(isTimerTask(timer)).toBe(true);
    expect(isLongTimerTask(timer.parent)).toBe(true);
    expect(isRetryableTask(activity.parent)).toBe(true);
    const retryable = activity.parent as unknown as Record<string, unknown>;
    expect(retryable['isWaitingOnTimer']).toBe(false);
    expect(retryable['attemptNumber']).toBe(1);
    expect(retryable['retryOptions']).toMatchObject({
      firstRetryIntervalInMilliseconds: 1000,
      maxNumberOfAttempts: 2,
    });
  });

  it('asks for a retry timer as an open NoOpTask after a failed attempt', async () => {
    const history = [
      ...opening,
      {
        EventType: EventType.TimerCreated,
        EventId: 0,
        IsPlayed: false,
        Timestamp: startedAt,
        FireAt: startedAt,
      },
      {
        EventType: EventType.TaskScheduled,
        EventId: 1,
        IsPlayed: false,
        Timestamp: startedAt,
        Name: 'probeActivity',
      },
      { EventType: EventType.OrchestratorCompleted, EventId: -1, IsPlayed: false, Timestamp: startedAt },
      { EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: startedAt },
      {
        EventType: EventType.TaskFailed,
        EventId: -1,
        IsPlayed: false,
        Timestamp: startedAt,
        TaskScheduledId: 1,
        Reason: 'boom',
        Details: '{}',
      },
    ];
    const context = new InvocationContext({ functionName: 'probeRetryAndLongTimer' });
    await orchestrationHandler('probeRetryAndLongTimer')(binding(history), context);
    const executor = executorOf(context)!;
    const retryTimer = executor.openTasks['2']!;
    expect(isNoOpTask(retryTimer)).toBe(true);
    expect(isRetryableTask(retryTimer.parent)).toBe(true);
    expect((retryTimer.parent as unknown as { isWaitingOnTimer: boolean }).isWaitingOnTimer).toBe(true);
  });

  it('reports an orchestrator error in the out-of-proc state, not in the message prefix', async () => {
    const history = [
      ...opening,
      {
        EventType: EventType.TaskScheduled,
        EventId: 0,
        IsPlayed: false,
        Timestamp: startedAt,
        Name: 'probeActivity',
      },
      {
        EventType: EventType.TaskCompleted,
        EventId: -1,
        IsPlayed: false,
        Timestamp: startedAt,
        TaskScheduledId: 0,
        Result: 'null',
      },
    ];
    const context = new InvocationContext({ functionName: 'probeFailure' });
    const error = await orchestrationHandler('probeFailure')(binding(history), context).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(Error);
    const at = error!.message.indexOf(OUT_OF_PROC_DATA_LABEL);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(error!.message.slice(0, at)).toBe('false');
    const state = JSON.parse(error!.message.slice(at + OUT_OF_PROC_DATA_LABEL.length)) as { error: string };
    expect(state.error).toBe('probe failure message');
  });
});
