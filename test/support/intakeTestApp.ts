/**
 * The broker's app plus test doubles of two operation orchestrations, registered under the real
 * orchestration names the slug runner calls. The doubles publish progress like real operations and
 * hold until the test raises `test-release`, so tests can observe queueing and serialisation.
 * The other operations are the app's own.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { Orchestrations } from '../../shared/functionNames.js';
import type { LifecycleRequest } from '../../shared/requests/lifecycleRequest.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import '../../functions/index.js';

export const TEST_RELEASE_EVENT = 'test-release';
export const TEST_STEP_ACTIVITY = 'testOperationStep';

/** Activity executions, in order, for assertions: `<requestId>:<phase>`. */
export const executions: string[] = [];

df.app.activity(TEST_STEP_ACTIVITY, {
  handler: async (input: { requestId: string; phase: string }) => {
    executions.push(`${input.requestId}:${input.phase}`);
  },
});

const heldOperation: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<LifecycleRequest>();
  context.df.setCustomStatus({ step: 'starting', done: 0, total: 2 });
  yield context.df.callActivity(TEST_STEP_ACTIVITY, { requestId: request.requestId, phase: 'start' });
  context.df.setCustomStatus({ step: 'waiting for release', done: 1, total: 2 });
  const decision = (yield context.df.waitForExternalEvent(TEST_RELEASE_EVENT)) as
    { outcome?: string } | undefined;
  yield context.df.callActivity(TEST_STEP_ACTIVITY, { requestId: request.requestId, phase: 'end' });
  if (decision?.outcome === 'fail') throw new Error(`operation for ${request.slug} failed as the test asked`);
  if (decision?.outcome === 'reject') {
    const rejected: OperationResult = { outcome: 'rejected', reason: 'rejected by the test' };
    return rejected;
  }
  const result: OperationResult = { outcome: 'succeeded', summary: `done for ${request.slug}` };
  return result;
};

df.app.orchestration(Orchestrations.provision, heldOperation);
df.app.orchestration(Orchestrations.renewSas, heldOperation);
