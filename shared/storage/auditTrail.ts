import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { BrokerStorage } from './brokerStorage.js';
import { escapeOData } from './requestStore.js';
import { redact } from '../logger.js';

export const AUDIT_TABLE = 'audit';

export const AUDIT_OUTCOMES = [
  /** An approval was asked for (the message went to the admin chat). */
  'requested',
  /** A vote counted but more approvers are needed. */
  'approval-recorded',
  'approved',
  'rejected',
  'expired',
  /** A command was answered (`/envs`, `/status`, `/devices`). */
  'answered',
  /** An attempt that was not allowed or not valid; `reason` says why. Nothing changed. */
  'refused',
  /** A duplicate (an update already handled); nothing changed. */
  'ignored',
  /** The broker tried and failed (the gateway refused a pairing decision, for example). */
  'failed',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One entry of the audit trail: who did what to what, when, through which channel, with what outcome. */
export interface AuditEntry {
  id: string;
  at: string;
  channel: 'telegram' | 'api' | 'system';
  /** Who: `telegram:<user id>`, `operator:<principal>`, `system:<component>` or `unknown`. */
  actor: string;
  /** Their display name where the channel gives one (Telegram first name / username). */
  actorName?: string | undefined;
  /** What was attempted: `approve`, `reject`, `expire`, `open`, `command /devices`, `pairing approve`, `webhook`. */
  action: string;
  outcome: AuditOutcome;
  requestId?: string | undefined;
  slug?: string | undefined;
  /** For device pairing: the gateway's pairing request id. */
  pairingRequestId?: string | undefined;
  /** Why it was refused, failed or ignored, or a short summary of what happened. */
  reason?: string | undefined;
  /** The Telegram update id it came in, when it came from Telegram. */
  updateId?: number | undefined;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at?: string };

interface AuditEntity {
  partitionKey: string;
  rowKey: string;
  at: string;
  channel: string;
  actor: string;
  actorName?: string;
  action: string;
  outcome: string;
  requestId?: string;
  slug?: string;
  pairingRequestId?: string;
  reason?: string;
  updateId?: number;
}

const PARTITION = 'audit';
const MAX_TIME = 9_999_999_999_999;
const MAX_FIELD = 300;

/**
 * The audit trail of approvals and chat actions (table `audit`), newest first: every decision,
 * refusal, expiry, replayed or forged attempt and answered command. Append-only. Free text from
 * outside (names, reasons) is truncated and passed through the logger's redaction, so no
 * credential-looking value is ever stored.
 */
export class AuditTrail {
  constructor(
    private readonly storage: BrokerStorage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async add(entry: NewAuditEntry): Promise<AuditEntry> {
    const at = entry.at ?? this.now().toISOString();
    const id = `${String(MAX_TIME - Date.parse(at)).padStart(13, '0')}-${randomBytes(6).toString('hex')}`;
    const entity: AuditEntity = {
      partitionKey: PARTITION,
      rowKey: id,
      at,
      channel: entry.channel,
      actor: clean(entry.actor),
      action: clean(entry.action),
      outcome: entry.outcome,
    };
    if (entry.actorName) entity.actorName = clean(entry.actorName);
    if (entry.requestId) entity.requestId = clean(entry.requestId);
    if (entry.slug) entity.slug = clean(entry.slug);
    if (entry.pairingRequestId) entity.pairingRequestId = clean(entry.pairingRequestId);
    if (entry.reason) entity.reason = clean(entry.reason);
    if (entry.updateId !== undefined) entity.updateId = entry.updateId;
    const table = await this.table();
    await table.createEntity(entity);
    return fromEntity(entity);
  }

  /** Entries newest first, optionally only those about one request or slug. */
  async list(options: { limit?: number; requestId?: string; slug?: string } = {}): Promise<AuditEntry[]> {
    const table = await this.table();
    const limit = options.limit ?? 100;
    const filters = [`PartitionKey eq '${PARTITION}'`];
    if (options.requestId) filters.push(`requestId eq '${escapeOData(options.requestId)}'`);
    if (options.slug) filters.push(`slug eq '${escapeOData(options.slug)}'`);
    const entries: AuditEntry[] = [];
    for await (const entity of table.listEntities<AuditEntity>({
      queryOptions: { filter: filters.join(' and ') },
    })) {
      entries.push(fromEntity(entity));
      if (entries.length >= limit) break;
    }
    return entries;
  }

  private table(): Promise<TableClient> {
    return this.storage.table(AUDIT_TABLE);
  }
}

function clean(text: string): string {
  // Control characters (newlines included) would let a name forge extra lines in a listing.
  const printable = [...text].map((char) =>
    char.charCodeAt(0) < 32 || char.charCodeAt(0) === 127 ? ' ' : char,
  );
  return redact(printable.join('')).slice(0, MAX_FIELD);
}

function fromEntity(entity: AuditEntity): AuditEntry {
  return {
    id: entity.rowKey,
    at: entity.at,
    channel: entity.channel as AuditEntry['channel'],
    actor: entity.actor,
    actorName: entity.actorName,
    action: entity.action,
    outcome: entity.outcome as AuditOutcome,
    requestId: entity.requestId,
    slug: entity.slug,
    pairingRequestId: entity.pairingRequestId,
    reason: entity.reason,
    updateId: entity.updateId,
  };
}
