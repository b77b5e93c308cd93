import type { ContainerClient } from '@azure/storage-blob';
import { odata, type TableClient } from '@azure/data-tables';
import type { Logger } from '../logger.js';
import { hasStatus } from '../storage/brokerStorage.js';

/**
 * How long what the broker keeps only for a while is kept. Nonces: a button of an approval or a
 * pairing that expired a week ago reads "unknown" instead of "expired", which refuses it just the
 * same. Seen Telegram updates: Telegram stops redelivering an update after 24 hours.
 */
export const HOUSEKEEPING_KEEP = {
  expiredNonceMs: 7 * 24 * 3_600_000,
  seenUpdateMs: 7 * 24 * 3_600_000,
} as const;

/** At most this many of each kind per run, so one run stays short; the next run takes the rest. */
export const HOUSEKEEPING_BATCH = 5_000;

export interface HousekeepingTargets {
  /** Table `chatnonces` (NonceStore): rows with `expiresAt`. */
  nonces(): Promise<TableClient>;
  /** Table `telegramupdates` (SeenUpdateStore): rows with `receivedAt`. */
  seenUpdates(): Promise<TableClient>;
  /** Container `teardown-backups`: blobs with `retainuntil` metadata. */
  teardownBackups(): Promise<ContainerClient>;
}

export interface HousekeepingReport {
  noncesDeleted: number;
  seenUpdatesDeleted: number;
  backupBlobsDeleted: number;
  /** Backups (`<slug>/<incarnation>/<requestId>`) whose last blob went in this run. */
  backupsDeleted: string[];
  /** Backup blobs without a readable retention: kept, and named so an operator can look. */
  backupBlobsWithoutRetention: number;
  /** True when a kind hit the batch limit: the next run goes on. */
  more: boolean;
}

/**
 * Deletes what has outlived its purpose in the broker's own storage: expired chat button nonces,
 * old seen Telegram update ids, and teardown backups past their retention (`retainuntil`, set by
 * the teardown from TEARDOWN_BACKUP_RETENTION). Idempotent; safe to run concurrently with itself
 * (a row or blob already gone is skipped).
 */
export async function runHousekeeping(
  targets: HousekeepingTargets,
  now: Date,
  log: Logger,
): Promise<HousekeepingReport> {
  const before = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const nonces = await deleteRows(
    await targets.nonces(),
    odata`expiresAt lt ${before(HOUSEKEEPING_KEEP.expiredNonceMs)}`,
  );
  const seen = await deleteRows(
    await targets.seenUpdates(),
    odata`receivedAt lt ${before(HOUSEKEEPING_KEEP.seenUpdateMs)}`,
  );
  const backups = await deleteExpiredBackups(await targets.teardownBackups(), now);
  const report: HousekeepingReport = {
    noncesDeleted: nonces.deleted,
    seenUpdatesDeleted: seen.deleted,
    backupBlobsDeleted: backups.deleted,
    backupsDeleted: backups.emptied,
    backupBlobsWithoutRetention: backups.withoutRetention,
    more: nonces.more || seen.more || backups.more,
  };
  log.info('housekeeping done', { ...report, backupsDeleted: report.backupsDeleted.join(', ') });
  if (backups.withoutRetention > 0)
    log.warn('teardown backup blobs without a readable retention were kept', {
      count: backups.withoutRetention,
      examples: backups.withoutRetentionExamples.join(', '),
    });
  return report;
}

async function deleteRows(table: TableClient, filter: string): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  const rows = table.listEntities<{ partitionKey: string; rowKey: string }>({
    queryOptions: { filter, select: ['PartitionKey', 'RowKey'] },
  });
  for await (const row of rows) {
    if (deleted >= HOUSEKEEPING_BATCH) return { deleted, more: true };
    try {
      await table.deleteEntity(row.partitionKey, row.rowKey);
      deleted += 1;
    } catch (error) {
      if (!hasStatus(error, 404)) throw error;
    }
  }
  return { deleted, more: false };
}

async function deleteExpiredBackups(container: ContainerClient, now: Date) {
  let deleted = 0;
  let withoutRetention = 0;
  const withoutRetentionExamples: string[] = [];
  /** Per backup prefix: blobs seen, blobs deleted. */
  const backups = new Map<string, { seen: number; deleted: number }>();
  for await (const blob of container.listBlobsFlat({ includeMetadata: true })) {
    const backup = blob.name.split('/').slice(0, 3).join('/');
    const counts = backups.get(backup) ?? { seen: 0, deleted: 0 };
    backups.set(backup, counts);
    counts.seen += 1;
    const retainUntil = Date.parse(blob.metadata?.['retainuntil'] ?? '');
    if (Number.isNaN(retainUntil)) {
      withoutRetention += 1;
      if (withoutRetentionExamples.length < 5) withoutRetentionExamples.push(blob.name);
      continue;
    }
    if (retainUntil > now.getTime()) continue;
    if (deleted >= HOUSEKEEPING_BATCH)
      return { deleted, emptied: [], withoutRetention, withoutRetentionExamples, more: true };
    await container.deleteBlob(blob.name, { deleteSnapshots: 'include' }).catch((error: unknown) => {
      if (!hasStatus(error, 404)) throw error;
    });
    deleted += 1;
    counts.deleted += 1;
  }
  const emptied = [...backups].filter(([, c]) => c.deleted > 0 && c.deleted === c.seen).map(([name]) => name);
  return { deleted, emptied, withoutRetention, withoutRetentionExamples, more: false };
}
