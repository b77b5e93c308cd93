import type { Actor, ApprovalVote } from '../domain/actor.js';
import type { ApprovalPolicy } from '../config.js';
import type { LifecycleOp, RequestedBy } from '../requests/lifecycleRequest.js';

/**
 * The approval sub-orchestration's vocabulary: its input, its activities' inputs and outputs, the
 * decision event and its result. All of it is JSON and none of it is secret: no bot token, webhook
 * secret or nonce-to-instance mapping beyond ids travels through orchestration history.
 */

/** What the parent operation asks approval for, shown to the approvers. */
export interface ApprovalRequest {
  requestId: string;
  op: LifecycleOp;
  slug: string;
  requestedBy: RequestedBy;
  /** What will happen, one line each ("deletes resource group claw-acme", ...). No secrets. */
  changes: string[];
}

/** The approval sub-orchestration's input. */
export type ApprovalInput = ApprovalRequest;

export interface OpenApprovalInput extends ApprovalRequest {
  instanceId: string;
  /** The orchestration's current time: the deadline counts from here, so a replay agrees. */
  openedAt: string;
}

export interface OpenedApproval {
  deadline: string;
  policy: ApprovalPolicy;
}

export type ApprovalOutcome = 'approved' | 'rejected' | 'expired';

/** What the approval sub-orchestration returns to its parent, and the decision event's payload. */
export interface ApprovalDecision {
  requestId: string;
  outcome: ApprovalOutcome;
  /** When the decision was made (for an expiry, the deadline's timer). */
  decidedAt: string;
  /** Who decided: the rejecting approver, the approver whose vote completed the count, or the broker. */
  decidedBy: Actor;
  /** Every approval given, in order (one for a single-approver policy). */
  approvals: ApprovalVote[];
  policy: ApprovalPolicy;
  requestedBy: RequestedBy;
}

export interface ConfirmDecisionInput {
  requestId: string;
}

/** The approval record's answer to "is this approval decided?": only the record decides. */
export type ConfirmedDecision =
  { decided: true; decision: ApprovalDecision } | { decided: false; reason: string };

export interface ExpireApprovalInput {
  requestId: string;
  /** The timer's time: the approval expires as of then. */
  at: string;
}

/**
 * One person, whatever channel they act through: a Telegram user linked to an operator
 * (IDENTITY_LINKS, passed as `links`) is that operator. Two actors are the same person when their
 * keys are equal, so the requester cannot approve their own request from the other channel, and
 * one human never counts twice towards a policy's approvers.
 */
export function personOf(
  who: Pick<Actor | RequestedBy, 'kind' | 'id'>,
  links: Readonly<Record<string, string>> = {},
): string {
  switch (who.kind) {
    case 'telegram':
    case 'chat': {
      const linked = links[who.id];
      return linked ? `operator:${linked}` : `telegram:${who.id}`;
    }
    default:
      return `${who.kind}:${who.id}`;
  }
}

/**
 * Whether two identities are the same person as far as the policy can tell: the same principal,
 * or a Telegram account linked to that operator (IDENTITY_LINKS, passed as `links`).
 */
export function sameIdentity(
  actor: Actor,
  requester: RequestedBy | Actor,
  links: Readonly<Record<string, string>> = {},
): boolean {
  return personOf(actor, links) === personOf(requester, links);
}

/** A one-line description of an actor for messages and audit entries. */
export function describeActor(actor: Actor | RequestedBy): string {
  switch (actor.kind) {
    case 'telegram':
      return 'name' in actor && actor.name ? `${actor.name} (telegram ${actor.id})` : `telegram ${actor.id}`;
    case 'chat':
      return `telegram ${actor.id}`;
    case 'operator':
      return 'name' in actor && actor.name ? actor.name : actor.id;
    default:
      return `${actor.kind} ${actor.id}`;
  }
}

/**
 * Checks a decision against its policy, as the orchestration does before it acts on one: rejected
 * by anyone allowed, or approved by enough distinct approvers, none of them the requester unless
 * the policy allows it. Returns the reason it does not hold, or undefined when it holds.
 */
export function decisionProblem(
  decision: ApprovalDecision,
  links: Readonly<Record<string, string>> = {},
): string | undefined {
  if (decision.outcome !== 'approved') return undefined;
  const distinct: Actor[] = [];
  for (const vote of decision.approvals) {
    if (!distinct.some((seen) => sameIdentity(seen, vote.by, links))) distinct.push(vote.by);
  }
  if (distinct.length < decision.policy.approvers) {
    return `approved by ${distinct.length} of the ${decision.policy.approvers} approvers needed`;
  }
  if (
    !decision.policy.requesterMayApprove &&
    distinct.some((actor) => sameIdentity(actor, decision.requestedBy, links))
  ) {
    return 'the requester approved their own request';
  }
  return undefined;
}
