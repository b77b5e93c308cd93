import type { TableClient } from '@azure/data-tables';
import { type BrokerStorage } from './brokerStorage.js';
import type { ApprovalPolicy } from '../config.js';
import type { LifecycleOp, RequestedBy } from '../requests/lifecycleRequest.js';
import type { Actor, ApprovalVote } from '../domain/actor.js';
import { hasStatus } from '../azure/azureErrors.js';

export const APPROVALS_TABLE = 'approvals';

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** One request's approval: what it asks, its policy and deadline, the votes so far and the outcome. */
export interface ApprovalRecord {
  requestId: string;
  /** The approval sub-orchestration waiting for the decision. */
  instanceId: string;
  op: LifecycleOp;
  slug: string;
  requestedBy: RequestedBy;
  /**
   * True when requestedBy is only what a queue message declared (not an authenticated API caller):
   * the message says so, so approvers know the "not the requester" check rests on a declaration.
   */
  requesterDeclared?: boolean | undefined;
  changes: string[];
  policy: ApprovalPolicy;
  openedAt: string;
  deadline: string;
  status: ApprovalStatus;
  approvals: ApprovalVote[];
  decidedBy?: Actor | undefined;
  decidedAt?: string | undefined;
  /** The admin chat message with the buttons, once sent. */
  chatId?: string | undefined;
  messageId?: number | undefined;
  /** The nonces behind the message's current Approve / Reject buttons. */
  buttons?: { approve: string; reject: string } | undefined;
  /** The storage etag this record was read at; saves are conditional on it. */
  etag: string;
}

interface ApprovalEntity {
  partitionKey: string;
  rowKey: string;
  instanceId: string;
  op: string;
  slug: string;
  requestedByJson: string;
  requesterDeclared?: boolean;
  changesJson: string;
  policyJson: string;
  openedAt: string;
  deadline: string;
  status: string;
  approvalsJson: string;
  decidedByJson?: string;
  decidedAt?: string;
  chatId?: string;
  messageId?: number;
  buttonsJson?: string;
  etag?: string;
}

const ROW = 'approval';

/**
 * Approvals by request id (table `approvals`, one partition per request). The record is the
 * authority on an approval's state: the webhook and the operator API change it only with
 * optimistic concurrency (`save` is conditional on the etag it read), so two approvers pressing at
 * once cannot both complete it, and a decision is never lost to a concurrent expiry.
 */
export class ApprovalStore {
  constructor(private readonly storage: BrokerStorage) {}

  /** Records a new pending approval, or returns the one already held for the request. Idempotent. */
  async open(record: Omit<ApprovalRecord, 'etag'>): Promise<ApprovalRecord> {
    const table = await this.table();
    try {
      await table.createEntity(toEntity(record));
    } catch (error) {
      if (!hasStatus(error, 409)) throw error;
    }
    const stored = await this.get(record.requestId);
    if (!stored)
      throw new Error(`approval for ${record.requestId} reported as existing but could not be read`);
    return stored;
  }

  async get(requestId: string): Promise<ApprovalRecord | undefined> {
    const table = await this.table();
    try {
      return fromEntity(await table.getEntity<ApprovalEntity>(requestId, ROW));
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /**
   * Writes the record back if nobody changed it since it was read (its etag). Returns the stored
   * record, or undefined when another writer won; the caller re-reads and decides again.
   */
  async save(record: ApprovalRecord): Promise<ApprovalRecord | undefined> {
    const table = await this.table();
    try {
      await table.updateEntity(toEntity(record), 'Replace', { etag: record.etag });
    } catch (error) {
      if (hasStatus(error, 412)) return undefined;
      throw error;
    }
    return this.get(record.requestId);
  }

  private table(): Promise<TableClient> {
    return this.storage.table(APPROVALS_TABLE);
  }
}

function toEntity(record: Omit<ApprovalRecord, 'etag'>): ApprovalEntity {
  const entity: ApprovalEntity = {
    partitionKey: record.requestId,
    rowKey: ROW,
    instanceId: record.instanceId,
    op: record.op,
    slug: record.slug,
    requestedByJson: JSON.stringify(record.requestedBy),
    changesJson: JSON.stringify(record.changes),
    policyJson: JSON.stringify(record.policy),
    openedAt: record.openedAt,
    deadline: record.deadline,
    status: record.status,
    approvalsJson: JSON.stringify(record.approvals),
  };
  if (record.requesterDeclared) entity.requesterDeclared = true;
  if (record.decidedBy) entity.decidedByJson = JSON.stringify(record.decidedBy);
  if (record.decidedAt) entity.decidedAt = record.decidedAt;
  if (record.chatId !== undefined) entity.chatId = record.chatId;
  if (record.messageId !== undefined) entity.messageId = record.messageId;
  if (record.buttons) entity.buttonsJson = JSON.stringify(record.buttons);
  return entity;
}

function fromEntity(entity: ApprovalEntity): ApprovalRecord {
  return {
    requestId: entity.partitionKey,
    instanceId: entity.instanceId,
    op: entity.op as LifecycleOp,
    slug: entity.slug,
    requestedBy: JSON.parse(entity.requestedByJson) as RequestedBy,
    requesterDeclared: entity.requesterDeclared === true ? true : undefined,
    changes: JSON.parse(entity.changesJson) as string[],
    policy: JSON.parse(entity.policyJson) as ApprovalPolicy,
    openedAt: entity.openedAt,
    deadline: entity.deadline,
    status: entity.status as ApprovalStatus,
    approvals: JSON.parse(entity.approvalsJson) as ApprovalVote[],
    decidedBy: entity.decidedByJson ? (JSON.parse(entity.decidedByJson) as Actor) : undefined,
    decidedAt: entity.decidedAt,
    chatId: entity.chatId,
    messageId: entity.messageId,
    buttons: entity.buttonsJson
      ? (JSON.parse(entity.buttonsJson) as { approve: string; reject: string })
      : undefined,
    etag: entity.etag ?? '',
  };
}
