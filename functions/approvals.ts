import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import type {
  ApprovalDecision,
  ConfirmDecisionInput,
  ConfirmedDecision,
  ExpireApprovalInput,
  OpenApprovalInput,
  OpenedApproval,
} from '../shared/approvals/contracts.js';
import { ApprovalActivities, Orchestrations } from '../shared/functionNames.js';
import { createLogger } from '../shared/logger.js';
import { approvalOrchestration } from '../orchestrations/approval.js';
import { approvalService } from './approvalServices.js';

df.app.orchestration(Orchestrations.approval, approvalOrchestration);

/**
 * Records the approval and posts the admin chat message. Safe to run twice: the record is keyed by
 * request id and the message is sent only while the record has none.
 */
df.app.activity(ApprovalActivities.open, {
  handler: async (input: OpenApprovalInput, context: InvocationContext): Promise<OpenedApproval> =>
    approvalService(createLogger(context, { requestId: input.requestId })).open(input),
});

/**
 * Expires a still-pending approval as of the deadline and edits the message to say so; returns the
 * decision that stands. Safe to run twice: the write is conditional on the record being pending.
 */
df.app.activity(ApprovalActivities.expire, {
  handler: async (input: ExpireApprovalInput, context: InvocationContext): Promise<ApprovalDecision> =>
    approvalService(createLogger(context, { requestId: input.requestId })).expire(input),
});

/**
 * Reads the approval record when a decision event arrived and returns the decision it holds, if
 * any. Read-only, so safe to run twice.
 */
df.app.activity(ApprovalActivities.confirm, {
  handler: async (input: ConfirmDecisionInput, context: InvocationContext): Promise<ConfirmedDecision> =>
    approvalService(createLogger(context, { requestId: input.requestId })).confirm(input),
});
