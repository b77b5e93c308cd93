import type { Logger } from '../logger.js';
import type { NonceStore } from '../storage/nonceStore.js';
import type { SeenUpdateStore } from '../storage/seenUpdateStore.js';
import type { TeardownBackupStore } from '../storage/teardownBackupStore.js';
import type { UpgradeWaveStore } from '../storage/upgradeWaveStore.js';

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

/** The stores whose retention deletes housekeeping runs. */
export interface HousekeepingTargets {
  /** Table `chatnonces`: expired button nonces. */
  nonces: Pick<NonceStore, 'deleteExpired'>;
  /** Table `telegramupdates`: seen Telegram update ids. */
  seenUpdates: Pick<SeenUpdateStore, 'deleteSeenBefore'>;
  /** Container `teardown-backups`: backups past their `retainuntil`. */
  teardownBackups: Pick<TeardownBackupStore, 'deleteExpired'>;
  /** Table `upgradewaves`: waves that ended more than UPGRADE_WAVE_RETENTION ago (their slug rows too). */
  upgradeWaves?: { store: Pick<UpgradeWaveStore, 'deleteEndedBefore'>; retentionMs: number } | undefined;
}

export interface HousekeepingReport {
  noncesDeleted: number;
  seenUpdatesDeleted: number;
  backupBlobsDeleted: number;
  /** Backups (`<slug>/<incarnation>/<requestId>`) whose last blob went in this run. */
  backupsDeleted: string[];
  /** Backup blobs without a readable retention: kept, and named so an operator can look. */
  backupBlobsWithoutRetention: number;
  /** Rows of ended upgrade waves deleted (when the waves' store is a target). */
  waveRowsDeleted?: number;
  /** True when a kind hit the batch limit: the next run goes on. */
  more: boolean;
}

/**
 * Deletes what has outlived its purpose in the broker's own storage: expired chat button nonces,
 * old seen Telegram update ids, and teardown backups past their retention (`retainuntil`, set by
 * the teardown from TEARDOWN_BACKUP_RETENTION). Each store deletes its own; this decides how long
 * things are kept and how many go per run. Idempotent; safe to run concurrently with itself (a row
 * or blob already gone is skipped).
 */
export async function runHousekeeping(
  targets: HousekeepingTargets,
  now: Date,
  log: Logger,
): Promise<HousekeepingReport> {
  const before = (ms: number) => new Date(now.getTime() - ms);
  const nonces = await targets.nonces.deleteExpired(
    before(HOUSEKEEPING_KEEP.expiredNonceMs),
    HOUSEKEEPING_BATCH,
  );
  const seen = await targets.seenUpdates.deleteSeenBefore(
    before(HOUSEKEEPING_KEEP.seenUpdateMs),
    HOUSEKEEPING_BATCH,
  );
  const backups = await targets.teardownBackups.deleteExpired(now, HOUSEKEEPING_BATCH);
  const waves = targets.upgradeWaves
    ? await targets.upgradeWaves.store.deleteEndedBefore(
        before(targets.upgradeWaves.retentionMs),
        HOUSEKEEPING_BATCH,
      )
    : undefined;
  const report: HousekeepingReport = {
    noncesDeleted: nonces.deleted,
    seenUpdatesDeleted: seen.deleted,
    backupBlobsDeleted: backups.deleted,
    backupsDeleted: backups.emptied,
    backupBlobsWithoutRetention: backups.withoutRetention,
    ...(waves ? { waveRowsDeleted: waves.deleted } : {}),
    more: nonces.more || seen.more || backups.more || (waves?.more ?? false),
  };
  log.info('housekeeping done', { ...report, backupsDeleted: report.backupsDeleted.join(', ') });
  if (backups.withoutRetention > 0)
    log.warn('teardown backup blobs without a readable retention were kept', {
      count: backups.withoutRetention,
      examples: backups.withoutRetentionExamples.join(', '),
    });
  return report;
}
