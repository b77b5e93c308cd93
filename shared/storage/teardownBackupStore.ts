/** The broker container that keeps final backups of state shares. */
export const TEARDOWN_BACKUP_CONTAINER = 'teardown-backups';
import { type BrokerStorage, type RetentionDeletion } from './brokerStorage.js';
import { hasStatus } from '../azure/azureErrors.js';

/** What one call of `TeardownBackupStore.deleteExpired` did. */
export interface ExpiredBackupsDeletion extends RetentionDeletion {
  /** Backups (`<slug>/<incarnation>/<requestId>`) whose last blob went in this call. */
  emptied: string[];
  /** Blobs without a readable retention: kept. */
  withoutRetention: number;
  /** Up to five names of such blobs, so an operator can look. */
  withoutRetentionExamples: string[];
}

/**
 * The final backups of state shares that teardown writes (container `teardown-backups`, blobs
 * `<slug>/<incarnation>/<requestId>/...`, each with `retainuntil` metadata set from
 * TEARDOWN_BACKUP_RETENTION). Teardown writes them (shared/teardown/steps/backup.ts); this store
 * deletes them once their retention has passed.
 */
export class TeardownBackupStore {
  constructor(private readonly storage: BrokerStorage) {}

  /**
   * Deletes backup blobs whose retention ended at or before `now`, at most `limit` of them (a blob
   * already gone is skipped). Blobs without a readable retention are kept and counted.
   */
  async deleteExpired(now: Date, limit: number): Promise<ExpiredBackupsDeletion> {
    const container = await this.storage.container(TEARDOWN_BACKUP_CONTAINER);
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
      if (deleted >= limit)
        return { deleted, emptied: [], withoutRetention, withoutRetentionExamples, more: true };
      await container.deleteBlob(blob.name, { deleteSnapshots: 'include' }).catch((error: unknown) => {
        if (!hasStatus(error, 404)) throw error;
      });
      deleted += 1;
      counts.deleted += 1;
    }
    const emptied = [...backups]
      .filter(([, c]) => c.deleted > 0 && c.deleted === c.seen)
      .map(([name]) => name);
    return { deleted, emptied, withoutRetention, withoutRetentionExamples, more: false };
  }
}
