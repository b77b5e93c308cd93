import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { Activities, Events, OPERATION_ORCHESTRATIONS } from '../shared/functionNames.js';
import type {
  ClaimedRequest,
  ClaimNextRequestInput,
  FinishRequestInput,
  OperationResult,
  SlugRunnerInput,
  StartRequestInput,
} from '../shared/intake/runnerContracts.js';

/**
 * One eternal runner per slug (instance `runner:<slug>`) runs that slug's lifecycle requests one at
 * a time, in the order the intake accepted them. The queue itself lives in Table storage; the
 * runner takes its head, runs the operation as a sub-orchestration with the request's deterministic
 * instance id, records the outcome, and continues as new so its history stays small. With nothing
 * queued it waits for a `wake` event. A wake that arrives while it is busy may be dropped by
 * continue-as-new; that is harmless because every generation reads the queue before it waits.
 */
export const slugRunnerOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<SlugRunnerInput>();
  const claim: ClaimNextRequestInput = { slug: input.slug };
  const next = (yield context.df.callActivity(Activities.claimNextRequest, claim)) as ClaimedRequest | null;

  if (!next) {
    context.df.setCustomStatus({ slug: input.slug, idle: true });
    yield context.df.waitForExternalEvent(Events.wake);
    context.df.continueAsNew(input);
    return;
  }

  context.df.setCustomStatus({ slug: input.slug, requestId: next.requestId, op: next.op });
  const start: StartRequestInput = {
    requestId: next.requestId,
    instanceId: next.instanceId,
    startedAt: context.df.currentUtcDateTime.toISOString(),
  };
  yield context.df.callActivity(Activities.startRequest, start);

  let finish: FinishRequestInput;
  try {
    const result = (yield context.df.callSubOrchestrator(
      OPERATION_ORCHESTRATIONS[next.op],
      next.request,
      next.instanceId,
    )) as OperationResult | undefined;
    finish = {
      requestId: next.requestId,
      finishedAt: context.df.currentUtcDateTime.toISOString(),
      outcome: result?.outcome ?? 'succeeded',
      summary: result?.summary,
      reason: result?.reason,
    };
  } catch (error) {
    finish = {
      requestId: next.requestId,
      finishedAt: context.df.currentUtcDateTime.toISOString(),
      outcome: 'failed',
      reason: failureReason(error),
    };
  }
  yield context.df.callActivity(Activities.finishRequest, finish);
  context.df.continueAsNew(input);
};

/**
 * The reason a failed operation reports: the failure's first line. Durable Functions appends the
 * failure details (a JSON payload or a stack trace) after a newline; those stay in the instance's
 * history for diagnosis and out of the request status.
 */
function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || message;
}
