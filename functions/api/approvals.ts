import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { createLogger } from '../../shared/logger.js';
import { REQUEST_ID_PATTERN } from '../../shared/requests/lifecycleRequest.js';
import type { ButtonAction } from '../../shared/storage/nonceStore.js';
import { approverRefusal, operatorActor } from '../../shared/approvals/operatorIdentity.js';
import { approvalService } from '../approvalServices.js';
import { services } from '../services.js';
import { callerOf } from './caller.js';
import { json, problem, withProblems } from './problem.js';

/**
 * POST /api/requests/{requestId}/approve and /reject: an operator's decision on a request that
 * awaits approval, with the same checks as a button press (pending, not past the deadline, the
 * requester not approving their own where forbidden, no approver counted twice) and the same
 * audit. The operator is who the platform says (shared/approvals/operatorIdentity.ts): the Easy
 * Auth principal, or the identity configured for the function key; never a header the caller
 * wrote. Only operators in OPERATOR_APPROVER_IDS / OPERATOR_APPROVER_GROUP_IDS decide.
 *
 * Answers 200 with the decision when it is final, 202 when the vote counted and more approvers
 * are needed; 404 `NotFound` (no such request), 409 `ApprovalNotPending` (not awaiting approval,
 * decided, expired), 403 `ApprovalForbidden` (not an approver, the requester, or an approver
 * voting twice), 401 `Unauthenticated` (Easy Auth configured but no principal).
 */
export function decisionHandler(action: ButtonAction) {
  return withProblems('approval decision failed', async (request, context) => {
    const log = createLogger(context);
    const requestId = request.params['requestId'] ?? '';
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      return problem(ErrorCodes.BadRequest, `"${requestId.slice(0, 80)}" is not a valid requestId`);
    }
    const s = services();
    const caller = callerOf(request, s.config.operators);
    if (!caller.ok) return caller.response;
    const operator = caller.operator;
    const refused = (reason: string) =>
      s.audit.add({
        channel: 'api',
        actor: `operator:${operator.id}`,
        action,
        outcome: 'refused',
        requestId,
        reason,
      });
    const notApprover = approverRefusal(operator, s.config.operators);
    if (notApprover) {
      await refused(notApprover);
      return problem(ErrorCodes.ApprovalForbidden, notApprover, {}, 403);
    }
    // A fleet wave's approval (`wave:<waveId>`) has no lifecycle request of its own: its approval record stands for it.
    if (!(await s.requests.get(requestId)) && !(await s.approvals.get(requestId))) {
      await refused(`no request with id ${requestId}`);
      return problem(ErrorCodes.NotFound, `no request with id ${requestId}`);
    }
    const result = await approvalService(log, df.getClient(context)).decide({
      requestId,
      actor: operatorActor(operator),
      action,
      via: 'api',
    });
    if (result.kind === 'refused') {
      return result.refusal === 'forbidden'
        ? problem(ErrorCodes.ApprovalForbidden, result.reason, {}, 403)
        : problem(ErrorCodes.ApprovalNotPending, result.reason, {}, 409);
    }
    const record = result.record;
    return json(result.final ? 200 : 202, {
      requestId,
      approval: record.status,
      approvals: record.approvals.length,
      approversNeeded: record.policy.approvers,
      decidedBy: record.decidedBy,
      decidedAt: record.decidedAt,
      summary: result.summary,
    });
  });
}

app.http(Functions.approveRequest, {
  route: 'requests/{requestId}/approve',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: decisionHandler('approve'),
});

app.http(Functions.rejectRequest, {
  route: 'requests/{requestId}/reject',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: decisionHandler('reject'),
});
