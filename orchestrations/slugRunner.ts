import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { Activities, Events, OPERATION_ORCHESTRATIONS } from '../shared/functionNames.js';
import type {
  ClaimNextRequestInput,
  FinishRequestInput,
  OperationResult,
  SlugRunnerInput,
  StartRequestInput,
} from '../shared/intake/runnerContracts.js';
import { call, firstLine, now } from './kit.js';

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
  const next = yield* call(context, Activities.claimNextRequest, claim, null);

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
    startedAt: now(context),
  };
  yield* call(context, Activities.startRequest, start, null);

  let finish: FinishRequestInput;
  try {
    const result = (yield context.df.callSubOrchestrator(
      OPERATION_ORCHESTRATIONS[next.op],
      next.request,
      next.instanceId,
    )) as OperationResult | undefined;
    finish = {
      requestId: next.requestId,
      finishedAt: now(context),
      outcome: result?.outcome ?? 'succeeded',
      summary: result?.summary,
      reason: result?.reason,
    };
  } catch (error) {
    finish = {
      requestId: next.requestId,
      finishedAt: now(context),
      outcome: 'failed',
      reason: firstLine(error),
    };
  }
  yield* call(context, Activities.finishRequest, finish, null);
  context.df.continueAsNew(input);
};
