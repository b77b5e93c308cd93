import { randomBytes } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { deleteRows, type BrokerStorage, type RetentionDeletion } from './brokerStorage.js';
import { hasStatus } from '../azure/azureErrors.js';

export const NONCES_TABLE = 'chatnonces';

/** The shape of a nonce as it travels in `callback_data`: 24 URL-safe characters (18 random bytes). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{24}$/;

export type ButtonAction = 'approve' | 'reject';

/** What a button press means: a vote on a request's approval, or a decision on a device pairing. */
export type NonceTarget =
  | { kind: 'approval'; requestId: string; action: ButtonAction }
  | {
      kind: 'pairing';
      slug: string;
      pairingRequestId: string;
      /** A label of the device for the message (display name or device id prefix). */
      device: string;
      action: ButtonAction;
    };

export interface NonceRecord {
  nonce: string;
  target: NonceTarget;
  createdAt: string;
  expiresAt: string;
  usedAt?: string | undefined;
  /** Who used it (an actor description); set once, with the etag it was read at. */
  usedBy?: string | undefined;
  /**
   * For one of a pair of buttons (Approve / Reject of one question): the pair's shared row, which
   * is what a press consumes, so using either button uses up both.
   */
  pair?: { id: string; etag: string } | undefined;
  etag: string;
}

/** What a look-up of a pressed button's nonce found. */
export type NonceLookup =
  | { kind: 'unknown' }
  | { kind: 'expired'; record: NonceRecord }
  | { kind: 'used'; record: NonceRecord }
  | { kind: 'valid'; record: NonceRecord };

interface NonceEntity {
  partitionKey: string;
  rowKey: string;
  targetJson: string;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
  usedBy?: string;
  pairId?: string;
  etag?: string;
}

interface PairEntity {
  partitionKey: string;
  rowKey: string;
  usedAt?: string;
  usedBy?: string;
  etag?: string;
}

const ROW = 'nonce';
/** The row of a pair's shared state; its partition is the pair id, never a nonce's. */
const PAIR_ROW = 'pair';

/**
 * Single-use button nonces (table `chatnonces`, partition = nonce). A nonce is random, opaque to
 * Telegram and everyone who sees the chat, and maps only here to what pressing it means and until
 * when. `consume` marks it used under the etag it was read at, so of two presses racing, exactly
 * one wins.
 */
export class NonceStore {
  constructor(
    private readonly storage: BrokerStorage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Makes and stores a fresh nonce for the target, valid until `expiresAt`. */
  async mint(target: NonceTarget, expiresAt: string): Promise<string> {
    const table = await this.table();
    const nonce = randomBytes(18).toString('base64url');
    const entity: NonceEntity = {
      partitionKey: nonce,
      rowKey: ROW,
      targetJson: JSON.stringify(target),
      createdAt: this.now().toISOString(),
      expiresAt,
    };
    await table.createEntity(entity);
    return nonce;
  }

  /**
   * Makes a pair of nonces whose use is shared (an Approve and a Reject button of the same
   * question): a press of either consumes the pair, so the other is used up with it.
   */
  async mintPair(first: NonceTarget, second: NonceTarget, expiresAt: string): Promise<[string, string]> {
    const table = await this.table();
    const pairId = randomBytes(18).toString('base64url');
    const pair: PairEntity = { partitionKey: pairId, rowKey: PAIR_ROW };
    await table.createEntity(pair);
    const mintOne = async (target: NonceTarget) => {
      const nonce = randomBytes(18).toString('base64url');
      const entity: NonceEntity = {
        partitionKey: nonce,
        rowKey: ROW,
        targetJson: JSON.stringify(target),
        createdAt: this.now().toISOString(),
        expiresAt,
        pairId,
      };
      await table.createEntity(entity);
      return nonce;
    };
    return [await mintOne(first), await mintOne(second)];
  }

  /** Finds a nonce and says whether it can still be used. Never changes it. */
  async lookup(nonce: string): Promise<NonceLookup> {
    if (!NONCE_PATTERN.test(nonce)) return { kind: 'unknown' };
    const table = await this.table();
    let record: NonceRecord;
    try {
      record = fromEntity(await table.getEntity<NonceEntity>(nonce, ROW));
    } catch (error) {
      if (hasStatus(error, 404)) return { kind: 'unknown' };
      throw error;
    }
    if (record.usedAt) return { kind: 'used', record };
    if (record.pair) {
      let pair: PairEntity;
      try {
        pair = await table.getEntity<PairEntity>(record.pair.id, PAIR_ROW);
      } catch (error) {
        if (hasStatus(error, 404)) return { kind: 'unknown' };
        throw error;
      }
      // The other button of the pair was pressed: this one is used with it.
      if (pair.usedAt)
        return { kind: 'used', record: { ...record, usedAt: pair.usedAt, usedBy: pair.usedBy } };
      record = { ...record, pair: { id: record.pair.id, etag: pair.etag ?? '' } };
    }
    if (Date.parse(record.expiresAt) <= this.now().getTime()) return { kind: 'expired', record };
    return { kind: 'valid', record };
  }

  /**
   * Marks the nonce used by `usedBy`, conditional on the etag it was looked up with. Returns false
   * when someone else used it first.
   */
  async consume(record: NonceRecord, usedBy: string): Promise<boolean> {
    const table = await this.table();
    if (record.pair) {
      // The pair's row decides: of two presses of the pair's buttons, exactly one wins.
      try {
        await table.updateEntity(
          { partitionKey: record.pair.id, rowKey: PAIR_ROW, usedAt: this.now().toISOString(), usedBy },
          'Merge',
          { etag: record.pair.etag },
        );
      } catch (error) {
        if (hasStatus(error, 412) || hasStatus(error, 404)) return false;
        throw error;
      }
    }
    try {
      await table.updateEntity(
        { partitionKey: record.nonce, rowKey: ROW, usedAt: this.now().toISOString(), usedBy },
        'Merge',
        { etag: record.etag },
      );
      return true;
    } catch (error) {
      if (hasStatus(error, 412) || hasStatus(error, 404)) return false;
      throw error;
    }
  }

  /**
   * Deletes nonces that expired before `before`, at most `limit` of them (housekeeping). A deleted
   * nonce looks up as unknown, which refuses it as an expired one would.
   */
  async deleteExpired(before: Date, limit: number): Promise<RetentionDeletion> {
    return deleteRows(await this.table(), odata`expiresAt lt ${before.toISOString()}`, limit);
  }

  private table(): Promise<TableClient> {
    return this.storage.table(NONCES_TABLE);
  }
}

function fromEntity(entity: NonceEntity): NonceRecord {
  return {
    nonce: entity.partitionKey,
    target: JSON.parse(entity.targetJson) as NonceTarget,
    createdAt: entity.createdAt,
    expiresAt: entity.expiresAt,
    usedAt: entity.usedAt,
    usedBy: entity.usedBy,
    pair: entity.pairId ? { id: entity.pairId, etag: '' } : undefined,
    etag: entity.etag ?? '',
  };
}
