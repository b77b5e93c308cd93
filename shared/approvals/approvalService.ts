import type { BrokerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { ApprovalRecord, ApprovalStore } from '../storage/approvalStore.js';
import type { AuditTrail } from '../storage/auditTrail.js';
import type { ButtonAction, NonceRecord, NonceStore } from '../storage/nonceStore.js';
import type { TelegramClient } from '../telegram/telegramClient.js';
import {
  decisionProblem,
  describeActor,
  sameIdentity,
  type ApprovalDecision,
  type ConfirmDecisionInput,
  type ConfirmedDecision,
  type ExpireApprovalInput,
  type OpenApprovalInput,
  type OpenedApproval,
} from './contracts.js';
import { approvalMessageText } from './messages.js';
import type { Actor } from '../domain/actor.js';
import { messageOf } from '../errors.js';

export interface ApprovalServiceDeps {
  config: Pick<BrokerConfig, 'approvals' | 'telegram' | 'operators'>;
  approvals: ApprovalStore;
  nonces: NonceStore;
  audit: AuditTrail;
  telegram: TelegramClient;
  /**
   * Whether the request came through the HTTP API (requestedBy is the authenticated caller) or
   * straight from the queue (requestedBy is what the writer declared). Unknown counts as declared.
   */
  requestVia(requestId: string): Promise<'api' | 'queue'>;
  /** Raises the final decision on the waiting sub-orchestration (idempotent: late raises are ignored). */
  raiseDecision(instanceId: string, decision: ApprovalDecision): Promise<void>;
  now(): Date;
  log: Logger;
}

export interface DecideInput {
  requestId: string;
  actor: Actor;
  action: ButtonAction;
  via: 'telegram' | 'api';
  /** For a button press: its nonce as looked up (valid). It is consumed only once the vote is allowed. */
  nonce?: NonceRecord | undefined;
  updateId?: number | undefined;
}

export type DecideRefusal = 'not-found' | 'not-pending' | 'forbidden' | 'stale';

export type DecideResult =
  | { kind: 'refused'; refusal: DecideRefusal; reason: string }
  | { kind: 'recorded'; final: boolean; record: ApprovalRecord; summary: string };

const MAX_ATTEMPTS = 8;

/**
 * Approvals: asking for one, recording decisions (from Telegram buttons and from the operator API,
 * with the same checks), and expiring them. The approval record in Table storage is the authority;
 * every change to it is conditional on its etag. Every outcome, including refusals, goes to the
 * audit trail. Chat messages are edited best-effort: a failed edit never loses a decision.
 */
export class ApprovalService {
  constructor(private readonly deps: ApprovalServiceDeps) {}

  /**
   * Opens the request's approval and posts the admin chat message with Approve / Reject buttons.
   * Safe to run twice: the record is keyed by request id and a message is sent only while the
   * record has none (a crash between sending and recording can leave one extra message, whose
   * buttons are then stale and refused).
   */
  async open(input: OpenApprovalInput): Promise<OpenedApproval> {
    const { config, approvals } = this.deps;
    const policy = config.approvals.policies[input.op];
    const deadline = new Date(Date.parse(input.openedAt) + config.approvals.deadlineMs).toISOString();
    // A timer's request is the broker's own; a person's is known only when the API took it.
    const requesterDeclared =
      input.requestedBy.kind !== 'timer' && (await this.deps.requestVia(input.requestId)) !== 'api';
    let record = await approvals.open({
      requestId: input.requestId,
      instanceId: input.instanceId,
      op: input.op,
      slug: input.slug,
      requestedBy: input.requestedBy,
      ...(requesterDeclared ? { requesterDeclared } : {}),
      changes: input.changes,
      policy,
      openedAt: input.openedAt,
      deadline,
      status: 'pending',
      approvals: [],
    });
    for (let attempt = 1; record.status === 'pending' && record.messageId === undefined; attempt++) {
      const buttons = await this.mintButtons(record);
      const chatId = config.telegram.adminChatId;
      const sent = await this.deps.telegram.sendMessage({
        chatId,
        text: approvalMessageText(record),
        buttons: keyboardOf(buttons),
      });
      const saved = await approvals.save({ ...record, chatId, messageId: sent.messageId, buttons });
      if (saved) {
        await this.deps.audit.add({
          channel: 'system',
          actor: `system:approvals`,
          action: 'open',
          outcome: 'requested',
          requestId: record.requestId,
          slug: record.slug,
          reason: `asked the admin chat to approve ${record.op} of ${record.slug} by ${deadline} (${policy.approvers} approver(s) needed)`,
        });
        // The workbook's "approvals waiting" and the expiry alert read this event (infra/monitoring).
        this.deps.log.info('approval waiting', {
          requestId: record.requestId,
          slug: record.slug,
          op: record.op,
          deadline,
        });
        record = saved;
        break;
      }
      if (attempt >= MAX_ATTEMPTS)
        throw new Error(`approval for ${input.requestId} kept changing while opening`);
      record = (await approvals.get(input.requestId)) ?? record;
    }
    return { deadline: record.deadline, policy: record.policy };
  }

  /**
   * Records a vote. Refused (and audited) when there is no pending approval for the request, the
   * deadline has passed, the button is not the message's current one, the requester approves
   * where the policy forbids it, or the same person approves twice. A rejection decides at once;
   * approvals decide when the policy's count of distinct approvers is reached, and until then the
   * message gets fresh buttons. A final decision is raised on the waiting orchestration.
   */
  async decide(input: DecideInput): Promise<DecideResult> {
    const { approvals } = this.deps;
    let consumed = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const record = await approvals.get(input.requestId);
      const refusal = await this.check(record, input);
      if (refusal) {
        await this.auditDecision(input, record, 'refused', refusal.reason);
        return refusal;
      }
      const current = record!;
      if (input.nonce && !consumed) {
        if (!(await this.deps.nonces.consume(input.nonce, actorKey(input.actor)))) {
          const reason = 'this button was already used';
          await this.auditDecision(input, current, 'refused', reason);
          return { kind: 'refused', refusal: 'stale', reason };
        }
        consumed = true;
      }
      const at = this.deps.now().toISOString();
      const next: ApprovalRecord = { ...current, approvals: [...current.approvals] };
      if (input.action === 'reject') {
        Object.assign(next, {
          status: 'rejected',
          decidedBy: input.actor,
          decidedAt: at,
          buttons: undefined,
        });
      } else {
        next.approvals.push({ by: input.actor, at, via: input.via });
        if (next.approvals.length >= current.policy.approvers) {
          Object.assign(next, {
            status: 'approved',
            decidedBy: input.actor,
            decidedAt: at,
            buttons: undefined,
          });
        } else {
          next.buttons = await this.mintButtons(current);
        }
      }
      const saved = await approvals.save(next);
      if (!saved) continue; // someone else changed it: decide again on what they wrote
      const final = saved.status !== 'pending';
      const summary = final
        ? `${saved.status} by ${describeActor(input.actor)} at ${at}`
        : `approval ${saved.approvals.length} of ${saved.policy.approvers} recorded from ${describeActor(input.actor)}`;
      await this.auditDecision(
        input,
        saved,
        final ? (saved.status as 'approved' | 'rejected') : 'approval-recorded',
        summary,
      );
      if (final) await this.deps.raiseDecision(saved.instanceId, decisionOf(saved));
      await this.showInChat(saved);
      return { kind: 'recorded', final, record: saved, summary };
    }
    throw new Error(`approval for ${input.requestId} kept changing while deciding; try again`);
  }

  /**
   * Expires the approval as of the deadline timer's time, unless a decision got there first; either
   * way returns the decision that stands. Safe to run twice: an expired record stays expired.
   */
  async expire(input: ExpireApprovalInput): Promise<ApprovalDecision> {
    const { approvals } = this.deps;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const record = await approvals.get(input.requestId);
      if (!record) throw new Error(`no approval recorded for request ${input.requestId}`);
      if (record.status !== 'pending') return decisionOf(record);
      const saved = await approvals.save({
        ...record,
        status: 'expired',
        decidedAt: input.at,
        decidedBy: { kind: 'system', id: 'deadline' },
        buttons: undefined,
      });
      if (!saved) continue;
      await this.deps.audit.add({
        channel: 'system',
        actor: 'system:deadline',
        action: 'expire',
        outcome: 'expired',
        requestId: saved.requestId,
        slug: saved.slug,
        reason: `no decision by ${saved.deadline}: rejected`,
      });
      this.deps.log.info('approval decided', {
        requestId: saved.requestId,
        slug: saved.slug,
        op: saved.op,
        outcome: 'expired',
      });
      await this.showInChat(saved);
      return decisionOf(saved);
    }
    throw new Error(`approval for ${input.requestId} kept changing while expiring`);
  }

  /**
   * What the approval record says about the decision, for the orchestration that was woken by a
   * decision event: the event only says "look again", the record decides. A record still pending
   * (a forged or early event) is no decision; a decided one is returned as recorded, unless its
   * votes do not meet its policy (a record written around the service), which is no decision
   * either. Read-only, so safe to run twice.
   */
  async confirm(input: ConfirmDecisionInput): Promise<ConfirmedDecision> {
    const record = await this.deps.approvals.get(input.requestId);
    if (!record) return { decided: false, reason: `no approval recorded for request ${input.requestId}` };
    if (record.status === 'pending')
      return { decided: false, reason: 'the approval record is still pending' };
    this.deps.log.info('approval decided', {
      requestId: record.requestId,
      slug: record.slug,
      op: record.op,
      outcome: record.status,
    });
    const decision = decisionOf(record);
    const problem = decisionProblem(decision, this.deps.config.operators.identityLinks);
    if (problem) {
      this.deps.log.warn('approval record does not meet its policy', {
        requestId: record.requestId,
        problem,
      });
      return { decided: false, reason: `the recorded decision does not hold: ${problem}` };
    }
    return { decided: true, decision };
  }

  /** Why the vote cannot count, or undefined when it can. Read-only. */
  private async check(
    record: ApprovalRecord | undefined,
    input: DecideInput,
  ): Promise<Extract<DecideResult, { kind: 'refused' }> | undefined> {
    if (!record) {
      return {
        kind: 'refused',
        refusal: 'not-found',
        reason: `request ${input.requestId} is not awaiting approval`,
      };
    }
    if (record.status !== 'pending') {
      // The decision may not have reached the orchestration (a crash after the write): raise it again.
      if (record.status !== 'expired') await this.deps.raiseDecision(record.instanceId, decisionOf(record));
      return { kind: 'refused', refusal: 'not-pending', reason: stateOf(record) };
    }
    if (Date.parse(record.deadline) <= this.deps.now().getTime()) {
      return {
        kind: 'refused',
        refusal: 'not-pending',
        reason: `the approval expired at ${record.deadline}`,
      };
    }
    if (
      input.nonce &&
      record.buttons?.approve !== input.nonce.nonce &&
      record.buttons?.reject !== input.nonce.nonce
    ) {
      return { kind: 'refused', refusal: 'stale', reason: 'this button is no longer current' };
    }
    if (input.action === 'approve') {
      const links = this.deps.config.operators.identityLinks;
      if (!record.policy.requesterMayApprove && sameIdentity(input.actor, record.requestedBy, links)) {
        return {
          kind: 'refused',
          refusal: 'forbidden',
          reason: `the requester may not approve their own ${record.op}; another approver must`,
        };
      }
      const earlier = record.approvals.find((vote) => sameIdentity(vote.by, input.actor, links));
      if (earlier) {
        const sameAs =
          earlier.by.kind === input.actor.kind ? '' : ` (the same person as ${describeActor(input.actor)})`;
        return {
          kind: 'refused',
          refusal: 'forbidden',
          reason: `already approved by ${describeActor(earlier.by)}${sameAs}; a different approver is needed`,
        };
      }
    }
    return undefined;
  }

  private async mintButtons(record: ApprovalRecord): Promise<{ approve: string; reject: string }> {
    const target = (action: ButtonAction) => ({
      kind: 'approval' as const,
      requestId: record.requestId,
      action,
    });
    return {
      approve: await this.deps.nonces.mint(target('approve'), record.deadline),
      reject: await this.deps.nonces.mint(target('reject'), record.deadline),
    };
  }

  /** Edits the approval message to the record's state; a failure is logged, never thrown. */
  private async showInChat(record: ApprovalRecord): Promise<void> {
    if (record.chatId === undefined || record.messageId === undefined) return;
    try {
      await this.deps.telegram.editMessageText({
        chatId: record.chatId,
        messageId: record.messageId,
        text: approvalMessageText(record),
        ...(record.status === 'pending' && record.buttons ? { buttons: keyboardOf(record.buttons) } : {}),
      });
    } catch (error) {
      this.deps.log.warn('approval message edit failed', {
        requestId: record.requestId,
        error: messageOf(error),
      });
    }
  }

  private async auditDecision(
    input: DecideInput,
    record: ApprovalRecord | undefined,
    outcome: 'refused' | 'approved' | 'rejected' | 'approval-recorded',
    reason: string,
  ): Promise<void> {
    await this.deps.audit.add({
      channel: input.via,
      actor: actorKey(input.actor),
      actorName: input.actor.kind === 'telegram' ? input.actor.name : undefined,
      action: input.action,
      outcome,
      requestId: input.requestId,
      slug: record?.slug,
      reason,
      updateId: input.updateId,
    });
  }
}

/** The decision a record holds (pending records have none yet: callers check the status). */
export function decisionOf(record: ApprovalRecord): ApprovalDecision {
  return {
    requestId: record.requestId,
    outcome: record.status === 'pending' ? 'expired' : record.status,
    decidedAt: record.decidedAt ?? record.deadline,
    decidedBy: record.decidedBy ?? { kind: 'system', id: 'deadline' },
    approvals: record.approvals,
    policy: record.policy,
    requestedBy: record.requestedBy,
  };
}

/** An actor as the audit trail names it. */
export function actorKey(actor: Actor): string {
  return `${actor.kind}:${actor.id}`;
}

function stateOf(record: ApprovalRecord): string {
  switch (record.status) {
    case 'approved':
      return `already approved by ${record.decidedBy ? describeActor(record.decidedBy) : 'an approver'} at ${record.decidedAt ?? ''}`;
    case 'rejected':
      return `already rejected by ${record.decidedBy ? describeActor(record.decidedBy) : 'an approver'} at ${record.decidedAt ?? ''}`;
    case 'expired':
      return `the approval expired at ${record.decidedAt ?? record.deadline} with no decision`;
    case 'pending':
      return 'awaiting approval';
  }
}

function keyboardOf(buttons: { approve: string; reject: string }) {
  return [
    [
      { text: 'Approve', data: buttons.approve },
      { text: 'Reject', data: buttons.reject },
    ],
  ];
}
