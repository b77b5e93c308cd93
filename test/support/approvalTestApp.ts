/**
 * The broker's app plus a test double of an operation that needs approval, registered under the
 * real orchestration names of `teardown` and `upgrade` (the slug runner calls them), so approvals
 * can be exercised end to end before the real operations exist. The double asks for approval
 * through the broker's own approval sub-orchestration (orchestrations/approval.ts) and, only when
 * approved, runs one activity that records that it changed something (`touched`), so tests can
 * prove that rejected and expired requests touched nothing.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { Orchestrations } from '../../shared/functionNames.js';
import type { LifecycleRequest } from '../../shared/requests/lifecycleRequest.js';
import type { OperationResult } from '../../shared/intake/runnerContracts.js';
import { approvalRefusalReason, requireApproval } from '../../orchestrations/approval.js';
import '../../functions/index.js';

export const TEST_TOUCH_ACTIVITY = 'testApprovedChange';

/** Request ids whose operation went past its approval and changed something, in order. */
export const touched: string[] = [];

df.app.activity(TEST_TOUCH_ACTIVITY, {
  handler: async (input: { requestId: string }) => {
    touched.push(input.requestId);
  },
});

const approvalGatedOperation: OrchestrationHandler = function* (context: OrchestrationContext) {
  const request = context.df.getInput<LifecycleRequest>();
  const decision = yield* requireApproval(
    context,
    {
      requestId: request.requestId,
      op: request.op,
      slug: request.slug,
      requestedBy: request.requestedBy,
      changes: [`deletes resource group claw-${request.slug} (test operation)`, 'removes nothing else'],
    },
    { step: 'approval', done: 0, total: 2 },
  );
  if (decision.outcome !== 'approved') {
    const rejected: OperationResult = { outcome: 'rejected', reason: approvalRefusalReason(decision) };
    return rejected;
  }
  context.df.setCustomStatus({ step: 'changing', done: 1, total: 2 });
  yield context.df.callActivity(TEST_TOUCH_ACTIVITY, { requestId: request.requestId });
  const approvers = decision.approvals.map((vote) => vote.by.id).join(', ');
  const result: OperationResult = { outcome: 'succeeded', summary: `approved by ${approvers}` };
  return result;
};

df.app.orchestration(Orchestrations.teardown, approvalGatedOperation);
df.app.orchestration(Orchestrations.upgrade, approvalGatedOperation);
