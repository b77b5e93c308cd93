import type { ApprovalRecord } from '../storage/approvalStore.js';
import { describeActor } from './contracts.js';

/**
 * The admin chat's approval message, as plain text (no parse mode, so nothing from a slug or a
 * name can break the markup). The body says what will happen; the footer says where it stands.
 */
export function approvalMessageBody(record: ApprovalRecord): string {
  const policy = record.policy;
  const who = policy.approvers === 1 ? 'one approver' : `${policy.approvers} different approvers`;
  const lines = [
    `Approval needed: ${record.op} of ${record.slug}`,
    `Requested by ${describeActor(record.requestedBy)}${record.requesterDeclared ? ' (as declared by the queue message)' : ''} (request ${record.requestId})`,
    '',
    'What will happen:',
    ...(record.changes.length > 0
      ? record.changes.slice(0, 20).map((change) => `• ${change}`)
      : ['• (nothing listed)']),
    '',
    `Needs ${who}${policy.requesterMayApprove ? '' : ', not the requester'}. Expires ${record.deadline} unless decided.`,
  ];
  return lines.join('\n');
}

/** The message text for the record's current state: waiting, partly approved, or decided. */
export function approvalMessageText(record: ApprovalRecord): string {
  const body = approvalMessageBody(record);
  const votes = record.approvals.map((vote) => `Approved by ${describeActor(vote.by)} at ${vote.at}`);
  switch (record.status) {
    case 'pending':
      return votes.length === 0
        ? body
        : [
            body,
            '',
            ...votes,
            `${record.approvals.length} of ${record.policy.approvers} approvals; waiting for another approver.`,
          ].join('\n');
    case 'approved':
      return [body, '', ...votes, `APPROVED at ${record.decidedAt ?? ''}; the ${record.op} goes ahead.`].join(
        '\n',
      );
    case 'rejected':
      return [
        body,
        '',
        ...votes,
        `REJECTED by ${record.decidedBy ? describeActor(record.decidedBy) : 'an approver'} at ${record.decidedAt ?? ''}; nothing was changed.`,
      ].join('\n');
    case 'expired':
      return [
        body,
        '',
        ...votes,
        `EXPIRED at ${record.decidedAt ?? record.deadline} with no decision: rejected; nothing was changed.`,
      ].join('\n');
  }
}
