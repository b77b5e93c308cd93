import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { DurableStore, StoreSnapshot } from './store.js';
import type { InboxMessage, InstanceDoc, WorkItem } from './types.js';

/**
 * Persists the task hub in one blob container of an Azure Storage account (Azurite locally):
 *   instances/<id>.json            status, history of the current execution, outbox, timeline
 *   messages/<id>/<key>.json       inbox messages (events, task results, timers)
 *   workitems/<key>.json           activity invocations not yet completed
 * Each write is one blob upload, which Azure Storage applies atomically.
 */
export class BlobDurableStore implements DurableStore {
  readonly kind = 'azure';
  readonly #container: ContainerClient;

  private constructor(container: ContainerClient) {
    this.#container = container;
  }

  static async open(connectionString: string, taskHub: string): Promise<BlobDurableStore> {
    const service = BlobServiceClient.fromConnectionString(connectionString);
    const container = service.getContainerClient(containerName(taskHub));
    await container.createIfNotExists();
    return new BlobDurableStore(container);
  }

  async loadAll(): Promise<StoreSnapshot> {
    const names: string[] = [];
    for await (const blob of this.#container.listBlobsFlat()) names.push(blob.name);
    const snapshot: StoreSnapshot = { instances: [], messages: [], workItems: [] };
    await forEachLimited(names, 16, async (name) => {
      const body = await this.#read(name);
      if (body === undefined) return;
      if (name.startsWith('instances/')) snapshot.instances.push(body as InstanceDoc);
      else if (name.startsWith('messages/')) snapshot.messages.push(body as InboxMessage);
      else if (name.startsWith('workitems/')) snapshot.workItems.push(body as WorkItem);
    });
    return snapshot;
  }

  saveInstance(doc: InstanceDoc): Promise<void> {
    return this.#write(instanceBlob(doc.instanceId), doc);
  }

  async deleteInstance(instanceId: string): Promise<void> {
    const prefix = `messages/${encode(instanceId)}/`;
    const names: string[] = [];
    for await (const blob of this.#container.listBlobsFlat({ prefix })) names.push(blob.name);
    await forEachLimited(names, 16, (name) => this.#delete(name));
    await this.#delete(instanceBlob(instanceId));
  }

  putMessage(message: InboxMessage): Promise<void> {
    return this.#write(messageBlob(message.instanceId, message.key), message);
  }

  deleteMessage(instanceId: string, key: string): Promise<void> {
    return this.#delete(messageBlob(instanceId, key));
  }

  putWorkItem(item: WorkItem): Promise<void> {
    return this.#write(workItemBlob(item.key), item);
  }

  deleteWorkItem(key: string): Promise<void> {
    return this.#delete(workItemBlob(key));
  }

  async #write(name: string, value: unknown): Promise<void> {
    const body = JSON.stringify(value);
    await this.#container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }

  async #read(name: string): Promise<unknown> {
    try {
      const buffer = await this.#container.getBlockBlobClient(name).downloadToBuffer();
      return JSON.parse(buffer.toString('utf8')) as unknown;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #delete(name: string): Promise<void> {
    await this.#container.getBlockBlobClient(name).deleteIfExists();
  }
}

/** Container names: 3-63 lowercase letters, digits and single hyphens. */
export function containerName(taskHub: string): string {
  const cleaned = taskHub.toLowerCase().replace(/[^a-z0-9]/g, '');
  return `${cleaned || 'hub'}-durable`.slice(0, 63);
}

function encode(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

function instanceBlob(instanceId: string): string {
  return `instances/${encode(instanceId)}.json`;
}

function messageBlob(instanceId: string, key: string): string {
  return `messages/${encode(instanceId)}/${encode(key)}.json`;
}

function workItemBlob(key: string): string {
  return `workitems/${encode(key)}.json`;
}

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
