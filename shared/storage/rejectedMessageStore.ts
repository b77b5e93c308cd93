import type { TableClient } from '@azure/data-tables';
import { StorageNames, hasStatus, type BrokerStorage } from './brokerStorage.js';
import type { RequestIssue } from '../requests/parseLifecycleRequest.js';

export interface RejectedMessage {
  id: string;
  receivedAt: string;
  /** Where it came from: the intake queue, or its poison queue after repeated failures. */
  source: 'queue' | 'poison';
  code: string;
  reason: string;
  issues: RequestIssue[];
  /** The request id, when the message carried a readable one. */
  requestId?: string | undefined;
  messageId: string;
  dequeueCount: number;
  sizeBytes: number;
  /** The first characters of the original text; the whole text is kept in blob storage. */
  preview: string;
}

interface RejectedEntity {
  partitionKey: string;
  rowKey: string;
  receivedAt: string;
  source: string;
  code: string;
  reason: string;
  issuesJson: string;
  requestId?: string;
  messageId: string;
  dequeueCount: number;
  sizeBytes: number;
  preview: string;
}

const PARTITION = 'rejected';
const PREVIEW_CHARS = 2_000;
const MAX_TIME = 9_999_999_999_999;

/**
 * Messages the intake refused, each with its reason and its original text, where operators can
 * list them (`GET /api/rejected`, `claw-broker rejected`). Keyed by the queue message id, so a
 * message processed twice is recorded once. Newest first.
 */
export class RejectedMessageStore {
  constructor(private readonly storage: BrokerStorage) {}

  async add(
    message: Omit<RejectedMessage, 'id' | 'preview' | 'sizeBytes'>,
    originalText: string,
  ): Promise<RejectedMessage> {
    const id = `${String(MAX_TIME - Date.parse(message.receivedAt)).padStart(13, '0')}-${message.messageId}`;
    const container = await this.storage.container(StorageNames.rejectedContainer);
    await container.getBlockBlobClient(`${id}.txt`).upload(originalText, Buffer.byteLength(originalText), {
      blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' },
    });
    const entity: RejectedEntity = {
      partitionKey: PARTITION,
      rowKey: id,
      receivedAt: message.receivedAt,
      source: message.source,
      code: message.code,
      reason: message.reason,
      issuesJson: JSON.stringify(message.issues),
      messageId: message.messageId,
      dequeueCount: message.dequeueCount,
      sizeBytes: Buffer.byteLength(originalText),
      preview: originalText.slice(0, PREVIEW_CHARS),
      ...(message.requestId ? { requestId: message.requestId } : {}),
    };
    const table = await this.table();
    await table.upsertEntity(entity, 'Replace');
    return fromEntity(entity);
  }

  async list(options: { limit?: number } = {}): Promise<RejectedMessage[]> {
    const table = await this.table();
    const limit = options.limit ?? 100;
    const items: RejectedMessage[] = [];
    for await (const entity of table.listEntities<RejectedEntity>({
      queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
    })) {
      items.push(fromEntity(entity));
      if (items.length >= limit) break;
    }
    return items;
  }

  async get(id: string): Promise<{ message: RejectedMessage; originalText: string } | undefined> {
    const table = await this.table();
    try {
      const entity = await table.getEntity<RejectedEntity>(PARTITION, id);
      const container = await this.storage.container(StorageNames.rejectedContainer);
      const blob = await container.getBlockBlobClient(`${id}.txt`).downloadToBuffer();
      return { message: fromEntity(entity), originalText: blob.toString('utf8') };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private table(): Promise<TableClient> {
    return this.storage.table(StorageNames.rejectedTable);
  }
}

function fromEntity(entity: RejectedEntity): RejectedMessage {
  return {
    id: entity.rowKey,
    receivedAt: entity.receivedAt,
    source: entity.source as RejectedMessage['source'],
    code: entity.code,
    reason: entity.reason,
    issues: JSON.parse(entity.issuesJson) as RequestIssue[],
    requestId: entity.requestId,
    messageId: entity.messageId,
    dequeueCount: entity.dequeueCount,
    sizeBytes: entity.sizeBytes,
    preview: entity.preview,
  };
}
