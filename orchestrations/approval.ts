import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { ApprovalActivities, Events, Orchestrations, approvalInstanceId } from '../shared/functionNames.js';
import {
  type ApprovalDecision,
  type ApprovalInput,
  type ApprovalRequest,
  type ConfirmDecisionInput,
  type ExpireApprovalInput,
  type OpenApprovalInput,
} from '../shared/approvals/contracts.js';
import type { OperationProgress } from '../shared/intake/runnerContracts.js';
import { call, later } from './kit.js';

/**
 * The reusable approval (instance `approval:<requestId>`). An activity opens it: records it with
 * the operation's policy and deadline and posts the admin chat message whose Approve / Reject
 * buttons carry single-use nonces. Then it waits for the decision event or the deadline, whichever
 * comes first. A decision cancels the deadline timer (otherwise the instance would stay running
 * until it fired); the deadline expires the approval (rejected, the message says so) unless a
 * decision was recorded just before. Returns the decision (outcome, who, when) to the parent.
 *
 * The decision event comes from the webhook or the operator API after they recorded it in
 * storage, but anyone holding the system key can raise an event too: so the event decides
 * nothing. It only wakes the orchestration, which then reads the approval record in an activity
 * (ApprovalActivities.confirm) and acts on the decision recorded there, checked again against the
 * policy (distinct approvers, the requester's own vote); a record still pending means keep
 * waiting. Nothing secret enters this history: the input is the request's ids and a description,
 * the event carries ids and names.
 */
export const approvalOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<ApprovalInput>();
  const open: OpenApprovalInput = {
    ...input,
    instanceId: context.df.instanceId,
    openedAt: context.df.currentUtcDateTime.toISOString(),
  };
  const opened = yield* call(context, ApprovalActivities.open, open, null);
  const waiting: OperationProgress & { deadline: string } = {
    step: 'awaiting approval',
    done: 0,
    total: 1,
    awaitingApproval: true,
    deadline: opened.deadline,
  };
  context.df.setCustomStatus(waiting);

  const now = context.df.currentUtcDateTime;
  const deadlineAt = later(now, Date.parse(opened.deadline) - now.getTime());
  for (;;) {
    // A fresh event wait and a fresh deadline timer for every wait: a timer already sent must not go
    // into a second Task.any (durable-functions would send it again and the Durable extension would
    // schedule a second timer under a new sequence number, durable-js#574).
    const event = context.df.waitForExternalEvent(Events.approvalDecision);
    const deadline = context.df.createTimer(deadlineAt);
    const winner = (yield context.df.Task.any([event, deadline])) as Task;
    if (winner === deadline) {
      const expire: ExpireApprovalInput = {
        requestId: input.requestId,
        at: context.df.currentUtcDateTime.toISOString(),
      };
      const decision = yield* call(context, ApprovalActivities.expire, expire, null);
      context.df.setCustomStatus({ step: `approval ${decision.outcome}`, done: 1, total: 1 });
      return decision;
    }
    // This wait's timer lost: cancel it, or the instance would stay running until it fired. When
    // the decision and the deadline land in the same episode the timer has fired too, and
    // durable-functions throws on cancelling it (DFTimerTask.cancel).
    if (!deadline.isCompleted) deadline.cancel();
    // The event's payload is not trusted: the approval record is the authority.
    const confirm: ConfirmDecisionInput = { requestId: input.requestId };
    const confirmed = yield* call(context, ApprovalActivities.confirm, confirm, null);
    if (confirmed.decided) {
      const decision = confirmed.decision;
      context.df.setCustomStatus({ step: `approval ${decision.outcome}`, done: 1, total: 1 });
      return decision;
    }
    // The record holds no decision (a forged or stray event): keep waiting, until the same deadline.
  }
};

/**
 * For operation orchestrations: asks for approval as a sub-orchestration, showing
 * `awaitingApproval: true` in the operation's own custom status (what the request status API
 * reads) while it waits. Use with `yield*`.
 */
export function* requireApproval(
  context: OrchestrationContext,
  request: ApprovalRequest,
  progress: OperationProgress,
): Generator<Task, ApprovalDecision, unknown> {
  context.df.setCustomStatus({ ...progress, awaitingApproval: true });
  const input: ApprovalInput = request;
  const decision = (yield context.df.callSubOrchestrator(
    Orchestrations.approval,
    input,
    approvalInstanceId(request.requestId),
  )) as ApprovalDecision;
  context.df.setCustomStatus({ ...progress, awaitingApproval: false });
  return decision;
}

/** The reason an operation reports when its approval did not go through. */
export function approvalRefusalReason(decision: ApprovalDecision): string {
  const who =
    decision.decidedBy.kind === 'telegram'
      ? `${decision.decidedBy.name ?? ''} (telegram ${decision.decidedBy.id})`.trim()
      : decision.decidedBy.kind === 'operator'
        ? (decision.decidedBy.name ?? decision.decidedBy.id)
        : decision.decidedBy.id;
  return decision.outcome === 'expired'
    ? `approval expired at ${decision.decidedAt} with no decision`
    : `rejected by ${who} at ${decision.decidedAt}`;
}
