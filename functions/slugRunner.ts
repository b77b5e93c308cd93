import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { createLogger } from '../shared/logger.js';
import { Activities, Orchestrations } from '../shared/functionNames.js';
import type {
  ClaimedRequest,
  ClaimNextRequestInput,
  FinishRequestInput,
  StartRequestInput,
} from '../shared/intake/runnerContracts.js';
import { operationInstanceId } from '../shared/storage/requestStore.js';
import { slugRunnerOrchestration } from '../orchestrations/slugRunner.js';
import { services } from './services.js';

df.app.orchestration(Orchestrations.slugRunner, slugRunnerOrchestration);

/**
 * The head of the slug's queue, or null when it is empty. Safe to run twice: it only reads (and
 * drops queue entries whose request already finished).
 */
df.app.activity(Activities.claimNextRequest, {
  handler: async (input: ClaimNextRequestInput): Promise<ClaimedRequest | null> => {
    const record = await services().requests.head(input.slug);
    if (!record?.request) return null;
    return {
      requestId: record.requestId,
      op: record.op,
      request: record.request,
      instanceId: record.instanceId ?? operationInstanceId(record.requestId),
    };
  },
});

/** Marks the request running and the environment busy with it. Safe to run twice: it sets values. */
df.app.activity(Activities.startRequest, {
  handler: async (input: StartRequestInput): Promise<void> => {
    const { requests, registry } = services();
    await requests.update(input.requestId, {
      status: 'running',
      instanceId: input.instanceId,
      startedAt: input.startedAt,
    });
    const record = await requests.get(input.requestId);
    if (!record) return;
    await registry.update(record.slug, (current) =>
      current
        ? {
            ...current,
            activeRequestId: record.requestId,
            lastOperation: {
              requestId: record.requestId,
              op: record.op,
              outcome: 'running',
              at: input.startedAt,
            },
          }
        : undefined,
    );
  },
});

/**
 * Records the outcome, frees the environment and removes the request from its slug's queue.
 * Safe to run twice: every write sets the same values, and the queue removal tolerates absence.
 */
df.app.activity(Activities.finishRequest, {
  handler: async (input: FinishRequestInput, context: InvocationContext): Promise<void> => {
    const { requests, registry } = services();
    await requests.update(input.requestId, {
      status: input.outcome,
      finishedAt: input.finishedAt,
      summary: input.summary,
      reason: input.reason,
    });
    const record = await requests.get(input.requestId);
    if (!record) return;
    // The workbook's operations and the failed-operation alert read this event (infra/monitoring).
    const log = createLogger(context, { requestId: record.requestId, slug: record.slug, op: record.op });
    if (input.outcome === 'failed')
      log.warn('operation finished', { outcome: input.outcome, reason: input.reason });
    else log.info('operation finished', { outcome: input.outcome });
    await registry.update(record.slug, (current) =>
      current
        ? {
            ...current,
            activeRequestId:
              current.activeRequestId === record.requestId ? undefined : current.activeRequestId,
            currentStep: undefined,
            progress: undefined,
            lastOperation: {
              requestId: record.requestId,
              op: record.op,
              outcome: input.outcome,
              at: input.finishedAt,
              reason: input.reason,
            },
          }
        : undefined,
    );
    await requests.release(record);
  },
});
