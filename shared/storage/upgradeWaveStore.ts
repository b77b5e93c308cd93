import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { hasStatus } from '../azure/azureErrors.js';
import { BrokerError, ErrorCodes } from '../errors.js';
import type { RequestedBy } from '../requests/lifecycleRequest.js';
import { deleteRows, type BrokerStorage, type RetentionDeletion } from './brokerStorage.js';
import { ENDED_WAVE_STATUSES, type RingState, type WaveStatus } from '../domain/upgradeWave.js';

export { ENDED_WAVE_STATUSES, type RingState, type WaveStatus };

/**
 * Fleet upgrade waves (issue 14, item 3) in Table storage, table `upgradewaves`: one partition per
 * wave (partition = wave id) with a `wave` row (its status, rings and control) and one `slug:<slug>`
 * row per slug it planned (its ring and how its upgrade ended), plus one `current` row naming the
 * wave that runs, so two waves never run at once. No secrets: versions, slugs, times, reasons.
 */

export const UPGRADE_WAVES_TABLE = 'upgradewaves';

/** One ring of a wave, as planned and as it went. */
export interface RingProgress {
  index: number;
  name: string;
  canary: boolean;
  slugs: number;
  /** Slugs whose upgrade ended (succeeded + failed + skipped). */
  done: number;
  succeeded: number;
  failed: number;
  /** Slugs of the ring the upgrade refused (held or pinned since planning, not ready). */
  skipped: number;
  state: RingState;
  /** Failures beyond it halt the wave (0 for the canary ring). */
  failureBudget: number;
  minAgeMs: number;
  bakeMs: number;
  /** When the ring may start: the later of the bake after the previous ring and the minimum age. */
  startsAfter?: string | undefined;
  startedAt?: string | undefined;
  endedAt?: string | undefined;
}

/** What an operator asked of a running wave, with who and when. The orchestration reads it. */
export interface WaveControl {
  paused: boolean;
  aborted: boolean;
  by: string;
  at: string;
  reason?: string | undefined;
}

export interface WaveRecord {
  waveId: string;
  targetVersion: string;
  status: WaveStatus;
  /** Who started it: an operator through the API, or the upgrade timer. */
  requestedBy: RequestedBy;
  createdAt: string;
  updatedAt: string;
  endedAt?: string | undefined;
  /** Why it halted, aborted or failed; what it waits for. */
  reason?: string | undefined;
  /** npm's publish time of the target version: the ring minimum ages count from it. */
  publishedAt: string;
  rings: RingProgress[];
  /** Slugs left out when the wave was planned (each with its reason in its slug row). */
  skipped: number;
  control?: WaveControl | undefined;
  /** The admin chat message that shows the wave's progress (edited as rings move). */
  chat?: { chatId: string; messageId: number } | undefined;
  /** The storage etag this record was read at. */
  etag: string;
}

export type WaveSlugState = 'planned' | 'enqueued' | 'succeeded' | 'failed' | 'skipped';

/** One slug of a wave: its ring (null when left out at planning) and how its upgrade ended. */
export interface WaveSlug {
  slug: string;
  ring: number | null;
  requestId: string;
  state: WaveSlugState;
  /** `upgrades.last.outcome` of the slug's upgrade, or the request's status when it left none. */
  outcome?: string | undefined;
  reason?: string | undefined;
  at?: string | undefined;
}

interface WaveEntity {
  partitionKey: string;
  rowKey: string;
  targetVersion: string;
  status: string;
  requestedByJson: string;
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
  reason?: string;
  publishedAt: string;
  ringsJson: string;
  skipped: number;
  controlJson?: string;
  chatJson?: string;
  etag?: string;
}

type SlugEntity = {
  partitionKey: string;
  rowKey: string;
  slug: string;
  ring: number;
  requestId: string;
  state: string;
  outcome?: string;
  reason?: string;
  at?: string;
};

const WAVE_ROW = 'wave';
const SLUG_ROW = 'slug:';
const CURRENT_PARTITION = '~current';
const CURRENT_ROW = 'current';
/** Entity group transactions hold at most 100 operations (Table service limit). */
const BATCH = 100;
const MAX_ATTEMPTS = 8;

export type WaveMutation = (current: WaveRecord) => Omit<WaveRecord, 'etag'> | undefined;

export class UpgradeWaveStore {
  constructor(private readonly storage: BrokerStorage) {}

  /** Creates the wave's record; false when a wave of that id exists. */
  async create(record: Omit<WaveRecord, 'etag'>): Promise<boolean> {
    const table = await this.table();
    try {
      await table.createEntity(toEntity(record));
      return true;
    } catch (error) {
      if (hasStatus(error, 409)) return false;
      throw error;
    }
  }

  async get(waveId: string): Promise<WaveRecord | undefined> {
    const table = await this.table();
    try {
      return fromEntity(await table.getEntity<WaveEntity>(waveId, WAVE_ROW));
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Waves, newest first, at most `limit`. */
  async list(limit = 50): Promise<WaveRecord[]> {
    const table = await this.table();
    const waves: WaveRecord[] = [];
    const rows = table.listEntities<WaveEntity>({ queryOptions: { filter: odata`RowKey eq ${WAVE_ROW}` } });
    for await (const entity of rows) waves.push(fromEntity(entity));
    return waves.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }

  /**
   * Applies `mutate` to the wave's record and writes it under the etag it read, retrying when
   * another writer won (the orchestration writes progress, operators write control). Returning
   * undefined leaves it as it is.
   */
  async update(waveId: string, mutate: WaveMutation): Promise<WaveRecord | undefined> {
    const table = await this.table();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const current = await this.get(waveId);
      if (!current) return undefined;
      const next = mutate(current);
      if (!next) return current;
      try {
        await table.updateEntity(toEntity(next), 'Replace', { etag: current.etag });
        return await this.get(waveId);
      } catch (error) {
        if (!hasStatus(error, 412)) throw error;
      }
    }
    throw new BrokerError(
      ErrorCodes.ConcurrencyConflict,
      `wave ${waveId} changed ${MAX_ATTEMPTS} times while being updated; try again`,
    );
  }

  /** The wave that holds the one running slot, if any. */
  async current(): Promise<string | undefined> {
    const table = await this.table();
    try {
      return (await table.getEntity<{ waveId: string }>(CURRENT_PARTITION, CURRENT_ROW)).waveId;
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /**
   * Takes the one running slot for `waveId`. When another wave holds it, `isOver(heldBy)` decides
   * whether that wave has ended (its slot was not given back: a crash) and the slot may be taken
   * over; otherwise answers the wave that runs. Conditional writes make two starters race fairly.
   */
  async claimCurrent(
    waveId: string,
    isOver: (heldBy: string) => Promise<boolean>,
  ): Promise<{ claimed: true } | { claimed: false; runningWaveId: string }> {
    const table = await this.table();
    const entity = { partitionKey: CURRENT_PARTITION, rowKey: CURRENT_ROW, waveId };
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        await table.createEntity(entity);
        return { claimed: true };
      } catch (error) {
        if (!hasStatus(error, 409)) throw error;
      }
      let held: { waveId: string; etag: string };
      try {
        held = await table.getEntity<{ waveId: string; etag: string }>(CURRENT_PARTITION, CURRENT_ROW);
      } catch (error) {
        if (hasStatus(error, 404)) continue;
        throw error;
      }
      if (held.waveId === waveId) return { claimed: true };
      if (!(await isOver(held.waveId))) return { claimed: false, runningWaveId: held.waveId };
      try {
        await table.updateEntity(entity, 'Replace', { etag: held.etag });
        return { claimed: true };
      } catch (error) {
        if (!hasStatus(error, 412) && !hasStatus(error, 404)) throw error;
      }
    }
    throw new BrokerError(ErrorCodes.ConcurrencyConflict, 'the running-wave slot kept changing; try again');
  }

  /** Gives the running slot back when `waveId` holds it; safe to run twice. */
  async releaseCurrent(waveId: string): Promise<void> {
    const table = await this.table();
    try {
      const held = await table.getEntity<{ waveId: string; etag: string }>(CURRENT_PARTITION, CURRENT_ROW);
      if (held.waveId !== waveId) return;
      await table.deleteEntity(CURRENT_PARTITION, CURRENT_ROW, { etag: held.etag });
    } catch (error) {
      if (!hasStatus(error, 404) && !hasStatus(error, 412)) throw error;
    }
  }

  /** Writes slug rows (whole rows: create or replace), in transactions of 100. Safe to run twice. */
  async putSlugs(waveId: string, slugs: readonly WaveSlug[]): Promise<void> {
    const table = await this.table();
    for (let start = 0; start < slugs.length; start += BATCH) {
      const actions: TransactionAction[] = slugs
        .slice(start, start + BATCH)
        .map((slug) => ['upsert', { ...toSlugEntity(waveId, slug) }, 'Replace']);
      await table.submitTransaction(actions);
    }
  }

  /** The wave's slug rows, by slug; only those of `ring` when given. */
  async slugs(waveId: string, ring?: number): Promise<WaveSlug[]> {
    const table = await this.table();
    const filter =
      ring === undefined
        ? odata`PartitionKey eq ${waveId} and RowKey gt ${SLUG_ROW} and RowKey lt ${'slug;'}`
        : odata`PartitionKey eq ${waveId} and RowKey gt ${SLUG_ROW} and RowKey lt ${'slug;'} and ring eq ${ring}`;
    const slugs: WaveSlug[] = [];
    for await (const entity of table.listEntities<SlugEntity>({ queryOptions: { filter } })) {
      slugs.push(fromSlugEntity(entity));
    }
    return slugs.sort((a, b) => a.slug.localeCompare(b.slug));
  }

  /**
   * Deletes waves that ended before `before` (their record and slug rows), at most `limit` rows.
   * For the daily housekeeping.
   */
  async deleteEndedBefore(before: Date, limit: number): Promise<RetentionDeletion> {
    const table = await this.table();
    const ended = table.listEntities<WaveEntity>({
      queryOptions: { filter: odata`RowKey eq ${WAVE_ROW} and endedAt lt ${before.toISOString()}` },
    });
    let deleted = 0;
    for await (const wave of ended) {
      // Slug rows first, the wave row last: a run cut short leaves a wave that the next run finds.
      const rows = await deleteRows(
        table,
        odata`PartitionKey eq ${wave.partitionKey} and RowKey ne ${WAVE_ROW}`,
        limit - deleted,
      );
      deleted += rows.deleted;
      if (rows.more || deleted >= limit) return { deleted, more: true };
      try {
        await table.deleteEntity(wave.partitionKey, WAVE_ROW);
        deleted += 1;
      } catch (error) {
        if (!hasStatus(error, 404)) throw error;
      }
    }
    return { deleted, more: false };
  }

  private table(): Promise<TableClient> {
    return this.storage.table(UPGRADE_WAVES_TABLE);
  }
}

function toEntity(record: Omit<WaveRecord, 'etag'>): WaveEntity {
  return {
    partitionKey: record.waveId,
    rowKey: WAVE_ROW,
    targetVersion: record.targetVersion,
    status: record.status,
    requestedByJson: JSON.stringify(record.requestedBy),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    publishedAt: record.publishedAt,
    ringsJson: JSON.stringify(record.rings),
    skipped: record.skipped,
    ...(record.endedAt ? { endedAt: record.endedAt } : {}),
    ...(record.reason ? { reason: record.reason } : {}),
    ...(record.control ? { controlJson: JSON.stringify(record.control) } : {}),
    ...(record.chat ? { chatJson: JSON.stringify(record.chat) } : {}),
  };
}

function fromEntity(entity: WaveEntity): WaveRecord {
  return {
    waveId: entity.partitionKey,
    targetVersion: entity.targetVersion,
    status: entity.status as WaveStatus,
    requestedBy: JSON.parse(entity.requestedByJson) as RequestedBy,
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
    endedAt: entity.endedAt,
    reason: entity.reason,
    publishedAt: entity.publishedAt,
    rings: JSON.parse(entity.ringsJson) as RingProgress[],
    skipped: entity.skipped,
    control: entity.controlJson ? (JSON.parse(entity.controlJson) as WaveControl) : undefined,
    chat: entity.chatJson ? (JSON.parse(entity.chatJson) as WaveRecord['chat']) : undefined,
    etag: entity.etag ?? '*',
  };
}

function toSlugEntity(waveId: string, slug: WaveSlug): SlugEntity {
  return {
    partitionKey: waveId,
    rowKey: `${SLUG_ROW}${slug.slug}`,
    slug: slug.slug,
    // Table storage has no null: -1 is "left out at planning".
    ring: slug.ring ?? -1,
    requestId: slug.requestId,
    state: slug.state,
    ...(slug.outcome ? { outcome: slug.outcome } : {}),
    ...(slug.reason ? { reason: slug.reason.slice(0, 1_000) } : {}),
    ...(slug.at ? { at: slug.at } : {}),
  };
}

function fromSlugEntity(entity: SlugEntity): WaveSlug {
  return {
    slug: entity.slug,
    ring: entity.ring < 0 ? null : entity.ring,
    requestId: entity.requestId,
    state: entity.state as WaveSlugState,
    outcome: entity.outcome,
    reason: entity.reason,
    at: entity.at,
  };
}
