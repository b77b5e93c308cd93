import type { InboxMessage, InstanceDoc, WorkItem } from './types.js';

export interface StoreSnapshot {
  instances: InstanceDoc[];
  messages: InboxMessage[];
  workItems: WorkItem[];
}

/**
 * Where the durable engine persists instances (status + history + outbox), inbox messages and
 * activity work items. The engine keeps the working copy in memory and writes through, in an
 * order that makes a crash at any point recoverable (see engine.ts); a store only needs atomic
 * single-document writes and idempotent puts by key.
 */
export interface DurableStore {
  readonly kind: 'memory' | 'azure';
  loadAll(): Promise<StoreSnapshot>;
  saveInstance(doc: InstanceDoc): Promise<void>;
  deleteInstance(instanceId: string): Promise<void>;
  putMessage(message: InboxMessage): Promise<void>;
  deleteMessage(instanceId: string, key: string): Promise<void>;
  putWorkItem(item: WorkItem): Promise<void>;
  deleteWorkItem(key: string): Promise<void>;
}

/** For unit tests: the engine's in-memory working copy is the only copy. */
export class MemoryDurableStore implements DurableStore {
  readonly kind = 'memory';
  async loadAll(): Promise<StoreSnapshot> {
    return { instances: [], messages: [], workItems: [] };
  }
  async saveInstance(): Promise<void> {}
  async deleteInstance(): Promise<void> {}
  async putMessage(): Promise<void> {}
  async deleteMessage(): Promise<void> {}
  async putWorkItem(): Promise<void> {}
  async deleteWorkItem(): Promise<void> {}
}
