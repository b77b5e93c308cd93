import { hasStatus } from '../azure/azureErrors.js';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { BrokerConfig } from '../config.js';
import { brokerCredential } from '../azure/credential.js';

/** Names of the broker's own queues, tables and containers in its storage account. */
export const StorageNames = {
  lifecycleQueue: 'lifecycle-requests',
  lifecyclePoisonQueue: 'lifecycle-requests-poison',
  /**
   * Where the host moves a message its poison trigger failed on too (`<queue>-poison` of the poison
   * queue). No trigger reads it; the unreadable-message drain records what lands there.
   */
  lifecycleUnreadableQueue: 'lifecycle-requests-poison-poison',
  requestsTable: 'requests',
  slugQueueTable: 'slugqueue',
  environmentsTable: 'environments',
  rejectedTable: 'rejectedmessages',
  rejectedContainer: 'rejected-messages',
} as const;

/**
 * Clients for the broker's own storage account: a connection string locally (Azurite), the
 * broker's managed identity in Azure. Each table, queue and container is created on first use
 * (once per process), so a fresh account needs no deployment step.
 */
export class BrokerStorage {
  private readonly ensured = new Map<string, Promise<unknown>>();

  constructor(private readonly config: BrokerConfig) {}

  async table(name: string): Promise<TableClient> {
    const client = this.createTableClient(name);
    await this.ensure(`table:${name}`, () => client.createTable());
    return client;
  }

  async queue(name: string): Promise<QueueClient> {
    const client = this.createQueueClient(name);
    await this.ensure(`queue:${name}`, () => client.createIfNotExists());
    return client;
  }

  async container(name: string): Promise<ContainerClient> {
    const client = this.createBlobServiceClient().getContainerClient(name);
    await this.ensure(`container:${name}`, () => client.createIfNotExists());
    return client;
  }

  private ensure(key: string, create: () => Promise<unknown>): Promise<unknown> {
    let pending = this.ensured.get(key);
    if (!pending) {
      pending = create().catch((error: unknown) => {
        this.ensured.delete(key);
        throw error;
      });
      this.ensured.set(key, pending);
    }
    return pending;
  }

  private createTableClient(name: string): TableClient {
    const storage = this.config.storage;
    if (storage.kind === 'connection-string') {
      return TableClient.fromConnectionString(storage.connectionString, name, {
        allowInsecureConnection: isLoopbackHttp(storage.connectionString),
      });
    }
    return new TableClient(storage.tableServiceUri, name, brokerCredential(this.config));
  }

  private createQueueClient(name: string): QueueClient {
    const storage = this.config.storage;
    if (storage.kind === 'connection-string') return new QueueClient(storage.connectionString, name);
    return new QueueClient(`${storage.queueServiceUri}/${name}`, brokerCredential(this.config));
  }

  private createBlobServiceClient(): BlobServiceClient {
    const storage = this.config.storage;
    if (storage.kind === 'connection-string')
      return BlobServiceClient.fromConnectionString(storage.connectionString);
    return new BlobServiceClient(storage.blobServiceUri, brokerCredential(this.config));
  }
}

function isLoopbackHttp(connectionString: string): boolean {
  return (
    /(Table)Endpoint=http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(connectionString) ||
    /UseDevelopmentStorage=true/i.test(connectionString)
  );
}

/** What one call of a retention delete did: how many went, and whether some were left for a next call. */
export interface RetentionDeletion {
  deleted: number;
  /** True when the limit was reached with more left to delete. */
  more: boolean;
}

/**
 * Deletes the rows of `table` that match `filter`, at most `limit` of them (a row already gone is
 * skipped, not counted). For the stores' own retention deletes.
 */
export async function deleteRows(
  table: TableClient,
  filter: string,
  limit: number,
): Promise<RetentionDeletion> {
  let deleted = 0;
  const rows = table.listEntities<{ partitionKey: string; rowKey: string }>({
    queryOptions: { filter, select: ['PartitionKey', 'RowKey'] },
  });
  for await (const row of rows) {
    if (deleted >= limit) return { deleted, more: true };
    try {
      await table.deleteEntity(row.partitionKey, row.rowKey);
      deleted += 1;
    } catch (error) {
      if (!hasStatus(error, 404)) throw error;
    }
  }
  return { deleted, more: false };
}
