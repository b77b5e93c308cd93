import type {
  DurableStore,
  InboxMessage,
  InstanceDoc,
  StoreSnapshot,
  WorkItem,
} from '../../../sandbox/host/index.js';

/**
 * A durable store that outlives the hosts using it (like a storage account) and can simulate the
 * process dying after a given number of writes: from then on every write hangs, so nothing more
 * reaches "disk", and `crashed` resolves so the test can stop that host and start another.
 */
export class CrashingStore implements DurableStore {
  readonly kind = 'azure';
  readonly #instances = new Map<string, string>();
  readonly #messages = new Map<string, string>();
  readonly #workItems = new Map<string, string>();
  #writesLeft = Infinity;
  #writes = 0;
  #onCrash: (() => void) | undefined;
  crashed: Promise<void> = new Promise(() => {});
  /** The write the crash swallowed, e.g. "putMessage result:<execution>:<task>". */
  victim: string | undefined;

  /** Writes performed so far (to size a sweep). */
  get writes(): number {
    return this.#writes;
  }

  crashAfter(writes: number): void {
    this.#writesLeft = writes;
    this.crashed = new Promise((resolve) => (this.#onCrash = resolve));
  }

  recover(): void {
    this.#writesLeft = Infinity;
  }

  async loadAll(): Promise<StoreSnapshot> {
    return {
      instances: [...this.#instances.values()].map((text) => JSON.parse(text) as InstanceDoc),
      messages: [...this.#messages.values()].map((text) => JSON.parse(text) as InboxMessage),
      workItems: [...this.#workItems.values()].map((text) => JSON.parse(text) as WorkItem),
    };
  }

  saveInstance(doc: InstanceDoc): Promise<void> {
    return this.#write(`saveInstance ${doc.instanceId}`, () =>
      this.#instances.set(doc.instanceId, JSON.stringify(doc)),
    );
  }

  deleteInstance(instanceId: string): Promise<void> {
    return this.#write(`deleteInstance ${instanceId}`, () => {
      this.#instances.delete(instanceId);
      for (const key of [...this.#messages.keys()])
        if (key.startsWith(`${instanceId}\u0000`)) this.#messages.delete(key);
    });
  }

  putMessage(message: InboxMessage): Promise<void> {
    return this.#write(`putMessage ${message.key}`, () =>
      this.#messages.set(`${message.instanceId}\u0000${message.key}`, JSON.stringify(message)),
    );
  }

  deleteMessage(instanceId: string, key: string): Promise<void> {
    return this.#write(`deleteMessage ${key}`, () => this.#messages.delete(`${instanceId}\u0000${key}`));
  }

  putWorkItem(item: WorkItem): Promise<void> {
    return this.#write(`putWorkItem ${item.key}`, () => this.#workItems.set(item.key, JSON.stringify(item)));
  }

  deleteWorkItem(key: string): Promise<void> {
    return this.#write(`deleteWorkItem ${key}`, () => this.#workItems.delete(key));
  }

  #write(what: string, apply: () => void): Promise<void> {
    if (this.#writesLeft <= 0) {
      this.victim ??= what;
      this.#onCrash?.();
      return new Promise(() => {});
    }
    this.#writesLeft--;
    this.#writes++;
    apply();
    return Promise.resolve();
  }
}
