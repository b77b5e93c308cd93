import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { StorageNames, type BrokerStorage } from './brokerStorage.js';
import type { LifecycleOp, LifecycleRequest } from '../requests/lifecycleRequest.js';
import { hasStatus } from '../azure/azureErrors.js';

export const REQUEST_STATUSES = [
  'queued',
  'running',
  'awaiting-approval',
  'succeeded',
  'failed',
  'rejected',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export const TERMINAL_REQUEST_STATUSES: ReadonlySet<RequestStatus> = new Set([
  'succeeded',
  'failed',
  'rejected',
]);

export interface RequestRecord {
  requestId: string;
  op: LifecycleOp;
  slug: string;
  status: RequestStatus;
  /** The validated request; null for a rejected message. Requests never carry secret values. */
  request: LifecycleRequest | null;
  /** Hash of what the request asks for (op, slug, params): equal hashes are the same request. */
  contentHash: string;
  acceptedAt: string;
  /** True once the request holds its place in the slug's queue. */
  admitted: boolean;
  /** True once the HTTP API has put the request on the intake queue. */
  enqueued?: boolean | undefined;
  /**
   * 'api' when the HTTP API recorded it (its requestedBy is the authenticated caller); absent for a
   * message written straight to the queue, whose requestedBy is only what the writer declared.
   */
  via?: 'api' | undefined;
  instanceId?: string | undefined;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  reason?: string | undefined;
  errorCode?: string | undefined;
  summary?: string | undefined;
  /** 'broker' for a request the broker itself recorded (a timer sweep); absent for one from outside. */
  origin?: 'broker' | undefined;
}

interface RequestEntity {
  partitionKey: string;
  rowKey: string;
  op: string;
  slug: string;
  status: string;
  requestJson: string;
  contentHash: string;
  acceptedAt: string;
  admitted: boolean;
  enqueued?: boolean;
  via?: string;
  instanceId?: string;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  errorCode?: string;
  summary?: string;
  origin?: string;
}

interface SlugQueueEntity {
  partitionKey: string;
  rowKey: string;
  requestId: string;
}

const ROW = 'request';

/** What a request asks for, hashed: requestedAt and requestedBy do not make a new request. */
export function requestContentHash(request: Pick<LifecycleRequest, 'op' | 'slug' | 'params'>): string {
  return createHash('sha256')
    .update(canonicalJson({ op: request.op, slug: request.slug, params: request.params }))
    .digest('hex');
}

/** The deterministic durable instance id of a request's operation orchestration. */
export function operationInstanceId(requestId: string): string {
  return `op:${requestId}`;
}

export type RecordOutcome =
  | { kind: 'created'; record: RequestRecord }
  | { kind: 'existing'; record: RequestRecord }
  | { kind: 'conflict'; record: RequestRecord };

/**
 * Requests by id (table `requests`, one partition per request id) and each slug's pending queue
 * (table `slugqueue`, partition = slug, row key = acceptance time + request id, so a partition
 * scan returns requests in the order they were accepted).
 */
export class RequestStore {
  constructor(private readonly storage: BrokerStorage) {}

  /**
   * Records a new request as queued, or returns the record already held for that id. A record with
   * the same id but different content is a conflict: the first one stands.
   */
  async record(
    request: LifecycleRequest,
    acceptedAt: string,
    options: { origin?: 'broker'; via?: 'api' } = {},
  ): Promise<RecordOutcome> {
    const table = await this.requests();
    const contentHash = requestContentHash(request);
    const entity: RequestEntity = {
      partitionKey: request.requestId,
      rowKey: ROW,
      op: request.op,
      slug: request.slug,
      status: 'queued',
      requestJson: JSON.stringify(request),
      contentHash,
      acceptedAt,
      admitted: false,
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.via ? { via: options.via } : {}),
    };
    try {
      await table.createEntity(entity);
      return { kind: 'created', record: fromEntity(entity) };
    } catch (error) {
      if (!hasStatus(error, 409)) throw error;
    }
    const existing = await table.getEntity<RequestEntity>(request.requestId, ROW).catch((error: unknown) => {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    });
    if (!existing) throw new Error(`request ${request.requestId} reported as existing but could not be read`);
    if (isRejectedPlaceholder(existing)) {
      // A rejected message never ran and holds no content: it must not keep the id from a valid
      // request (an invalid message sent ahead with someone else's id would otherwise block it).
      // The etag makes two claimants race fairly: one replaces, the other sees its record.
      try {
        await table.updateEntity(entity, 'Replace', { etag: existing.etag });
        return { kind: 'created', record: fromEntity(entity) };
      } catch (error) {
        if (!hasStatus(error, 412)) throw error;
        return this.record(request, acceptedAt, options);
      }
    }
    const record = fromEntity(existing);
    return { kind: existing.contentHash === contentHash ? 'existing' : 'conflict', record };
  }

  /**
   * Records a request id that arrived in a rejected message, so its status answers "rejected" with
   * the reason. Does nothing if a request with that id already exists.
   */
  async recordRejected(
    requestId: string,
    fields: { op: string; slug: string; reason: string; errorCode: string; at: string },
  ): Promise<void> {
    const table = await this.requests();
    const entity: RequestEntity = {
      partitionKey: requestId,
      rowKey: ROW,
      op: fields.op,
      slug: fields.slug,
      status: 'rejected',
      requestJson: 'null',
      contentHash: '',
      acceptedAt: fields.at,
      admitted: false,
      finishedAt: fields.at,
      reason: fields.reason,
      errorCode: fields.errorCode,
    };
    try {
      await table.createEntity(entity);
    } catch (error) {
      if (!hasStatus(error, 409)) throw error;
    }
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const table = await this.requests();
    try {
      return fromEntity(await table.getEntity<RequestEntity>(requestId, ROW));
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Puts the request in its slug's queue (idempotent: the row key derives from the record). */
  async admit(record: RequestRecord): Promise<void> {
    const queue = await this.slugQueue();
    const entity: SlugQueueEntity = {
      partitionKey: record.slug,
      rowKey: slugQueueRowKey(record),
      requestId: record.requestId,
    };
    await queue.upsertEntity(entity, 'Replace');
    if (!record.admitted) await this.update(record.requestId, { admitted: true });
  }

  /** The oldest request waiting in (or running at the head of) the slug's queue. */
  async head(slug: string): Promise<RequestRecord | undefined> {
    const queue = await this.slugQueue();
    const pages = queue.listEntities<SlugQueueEntity>({
      queryOptions: { filter: `PartitionKey eq '${escapeOData(slug)}'` },
    });
    for await (const entry of pages) {
      const record = await this.get(entry.requestId);
      if (record && !TERMINAL_REQUEST_STATUSES.has(record.status)) return record;
      // A finished request whose queue entry outlived it (crash between the two writes): drop it.
      await queue.deleteEntity(entry.partitionKey, entry.rowKey).catch((error: unknown) => {
        if (!hasStatus(error, 404)) throw error;
      });
    }
    return undefined;
  }

  /** Requests queued for a slug, oldest first (for status and operators). */
  async queued(slug: string): Promise<string[]> {
    const queue = await this.slugQueue();
    const ids: string[] = [];
    for await (const entry of queue.listEntities<SlugQueueEntity>({
      queryOptions: { filter: `PartitionKey eq '${escapeOData(slug)}'` },
    })) {
      ids.push(entry.requestId);
    }
    return ids;
  }

  /** Removes the request from its slug's queue; idempotent. */
  async release(record: RequestRecord): Promise<void> {
    const queue = await this.slugQueue();
    try {
      await queue.deleteEntity(record.slug, slugQueueRowKey(record));
    } catch (error) {
      if (!hasStatus(error, 404)) throw error;
    }
  }

  /** Merges fields into a request record. */
  async update(
    requestId: string,
    fields: Partial<Omit<RequestRecord, 'requestId' | 'request'>>,
  ): Promise<void> {
    const table = await this.requests();
    const patch: Record<string, unknown> = { partitionKey: requestId, rowKey: ROW };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) patch[key] = value;
    await table.updateEntity(patch as { partitionKey: string; rowKey: string }, 'Merge');
  }

  private requests(): Promise<TableClient> {
    return this.storage.table(StorageNames.requestsTable);
  }

  private slugQueue(): Promise<TableClient> {
    return this.storage.table(StorageNames.slugQueueTable);
  }
}

function slugQueueRowKey(record: Pick<RequestRecord, 'acceptedAt' | 'requestId'>): string {
  return `${String(Date.parse(record.acceptedAt)).padStart(15, '0')}_${record.requestId}`;
}

function fromEntity(entity: RequestEntity): RequestRecord {
  return {
    requestId: entity.partitionKey,
    op: entity.op as LifecycleOp,
    slug: entity.slug,
    status: entity.status as RequestStatus,
    request: JSON.parse(entity.requestJson) as LifecycleRequest | null,
    contentHash: entity.contentHash,
    acceptedAt: entity.acceptedAt,
    admitted: entity.admitted,
    enqueued: entity.enqueued,
    via: entity.via === 'api' ? 'api' : undefined,
    instanceId: entity.instanceId,
    startedAt: entity.startedAt,
    finishedAt: entity.finishedAt,
    reason: entity.reason,
    errorCode: entity.errorCode,
    summary: entity.summary,
    ...(entity.origin === 'broker' ? { origin: 'broker' as const } : {}),
  };
}

/** The record recordRejected leaves for a message that failed validation: no request, no content. */
function isRejectedPlaceholder(entity: RequestEntity): boolean {
  return entity.status === 'rejected' && entity.contentHash === '' && entity.requestJson === 'null';
}

export function escapeOData(value: string): string {
  return value.replace(/'/g, "''");
}

/** JSON with sorted keys, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
