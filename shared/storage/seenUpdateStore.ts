import { odata, type TableClient } from '@azure/data-tables';
import { deleteRows, type BrokerStorage, type RetentionDeletion } from './brokerStorage.js';
import { hasStatus } from '../azure/azureErrors.js';

export const SEEN_UPDATES_TABLE = 'telegramupdates';

const ROW = 'update';

/**
 * Telegram update ids the webhook has taken (table `telegramupdates`). Telegram delivers an update
 * again when the webhook did not answer 2xx, and anyone holding an old update can replay it: the
 * first `claim` of an id wins, later ones are told it was seen. A claim is released when handling
 * failed on the broker's side, so Telegram's redelivery is handled, not ignored.
 */
export class SeenUpdateStore {
  constructor(
    private readonly storage: BrokerStorage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** True when this call took the update id first; false when it was seen before. */
  async claim(updateId: number): Promise<boolean> {
    const table = await this.table();
    try {
      await table.createEntity({
        partitionKey: String(updateId),
        rowKey: ROW,
        receivedAt: this.now().toISOString(),
      });
      return true;
    } catch (error) {
      if (hasStatus(error, 409)) return false;
      throw error;
    }
  }

  /** Forgets a claim whose handling failed, so a redelivery is handled. */
  async release(updateId: number): Promise<void> {
    const table = await this.table();
    try {
      await table.deleteEntity(String(updateId), ROW);
    } catch (error) {
      if (!hasStatus(error, 404)) throw error;
    }
  }

  /** Forgets update ids received before `before`, at most `limit` of them (housekeeping). */
  async deleteSeenBefore(before: Date, limit: number): Promise<RetentionDeletion> {
    return deleteRows(await this.table(), odata`receivedAt lt ${before.toISOString()}`, limit);
  }

  private table(): Promise<TableClient> {
    return this.storage.table(SEEN_UPDATES_TABLE);
  }
}
