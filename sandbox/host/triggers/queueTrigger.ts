import { QueueClient, type DequeuedMessageItem } from '@azure/storage-queue';
import type { HostClock } from '../clock.js';
import type { HostJsonSettings } from '../hostConfig.js';
import type { HostLogLevel, HostLogger } from '../logger.js';
import { messageOf } from '../../../shared/errors.js';

export interface QueueListenerOptions {
  functionName: string;
  queueName: string;
  connectionString: string;
  settings: HostJsonSettings['queues'];
  clock: HostClock;
  log: HostLogger;
  invoke(input: unknown, triggerMetadata: Record<string, unknown>): Promise<void>;
}

/** How long a received message stays invisible while the host works on it (the host's lease). */
const LEASE_SECONDS = 600;
const MIN_POLL_MS = 50;

/**
 * A storage-queue trigger with the Functions host's semantics: batches of `batchSize`, a new batch
 * once in-flight messages drop to `newBatchThreshold`, exponential back-off up to
 * `maxPollingInterval` when empty, base64 message encoding, a failed message made visible again
 * after `visibilityTimeout` (measured on the host clock) and moved to `<queue>-poison` once it has
 * been dequeued `maxDequeueCount` times.
 */
export class QueueTriggerListener {
  readonly queueName: string;
  readonly #options: QueueListenerOptions;
  readonly #queue: QueueClient;
  readonly #poison: QueueClient;
  #inFlight = 0;
  #receiving = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  readonly #releases = new Set<() => void>();

  constructor(options: QueueListenerOptions) {
    this.#options = options;
    this.queueName = options.queueName;
    this.#queue = new QueueClient(options.connectionString, options.queueName);
    this.#poison = new QueueClient(options.connectionString, `${options.queueName}-poison`);
  }

  async start(): Promise<void> {
    await this.#queue.createIfNotExists();
    this.#loop = this.#run();
  }

  stop(): void {
    this.#stopped = true;
    for (const release of this.#releases) release();
    this.#releases.clear();
    this.#wake?.();
  }

  /** Polls now instead of waiting out the back-off. */
  wake(): void {
    this.#wake?.();
  }

  get busy(): boolean {
    return this.#inFlight > 0 || this.#receiving;
  }

  /** True when a message is visible and waiting (peek does not dequeue). */
  async hasVisibleMessages(): Promise<boolean> {
    const peeked = await this.#queue.peekMessages({ numberOfMessages: 1 });
    return peeked.peekedMessageItems.length > 0;
  }

  async #run(): Promise<void> {
    let delay = MIN_POLL_MS;
    const { batchSize, newBatchThreshold, maxPollingIntervalMs } = this.#options.settings;
    while (!this.#stopped) {
      let received = 0;
      if (this.#inFlight <= newBatchThreshold) {
        this.#receiving = true;
        try {
          const batch = await this.#queue.receiveMessages({
            numberOfMessages: Math.max(1, Math.min(32, batchSize)),
            visibilityTimeout: LEASE_SECONDS,
          });
          received = batch.receivedMessageItems.length;
          for (const message of batch.receivedMessageItems) {
            this.#inFlight++;
            void this.#process(message).finally(() => {
              this.#inFlight--;
              this.#wake?.();
            });
          }
        } catch (error) {
          if (!this.#stopped) this.#log('warning', `Polling ${this.queueName} failed: ${String(error)}`);
        } finally {
          this.#receiving = false;
        }
      }
      if (this.#stopped) break;
      delay = received > 0 ? MIN_POLL_MS : Math.min(delay * 2, Math.max(MIN_POLL_MS, maxPollingIntervalMs));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, received > 0 ? 0 : delay);
        this.#wake = () => {
          clearTimeout(timer);
          delay = MIN_POLL_MS;
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const text = this.#decode(message.messageText);
    const triggerMetadata: Record<string, unknown> = {
      id: message.messageId,
      dequeueCount: message.dequeueCount,
      insertionTime: message.insertedOn,
      expirationTime: message.expiresOn,
      nextVisibleTime: message.nextVisibleOn,
      popReceipt: message.popReceipt,
      queueTrigger: text,
    };
    let input: unknown = text;
    try {
      input = JSON.parse(text) as unknown;
    } catch {
      // Not JSON: the function receives the string, as on Azure.
    }
    try {
      await this.#options.invoke(input, asWorkerTriggerMetadata(triggerMetadata));
      if (this.#stopped) return;
      await this.#queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      if (this.#stopped) return;
      this.#log(
        'error',
        `${this.#options.functionName} failed on message ${message.messageId} ` +
          `(dequeue ${message.dequeueCount}): ${messageOf(error)}`,
      );
      await this.#handleFailure(message);
    }
  }

  async #handleFailure(message: DequeuedMessageItem): Promise<void> {
    const { maxDequeueCount, visibilityTimeoutMs } = this.#options.settings;
    if (message.dequeueCount >= maxDequeueCount) {
      await this.#poison.createIfNotExists();
      await this.#poison.sendMessage(message.messageText);
      await this.#queue.deleteMessage(message.messageId, message.popReceipt);
      this.#log('warning', `Moved message ${message.messageId} to ${this.queueName}-poison.`);
      return;
    }
    const release = async () => {
      try {
        await this.#queue.updateMessage(message.messageId, message.popReceipt, undefined, 0);
        this.wake();
      } catch (error) {
        this.#log('warning', `Could not release message ${message.messageId}: ${String(error)}`);
      }
    };
    if (visibilityTimeoutMs <= 0) {
      await release();
      return;
    }
    const cancel = this.#options.clock.schedule(this.#options.clock.now() + visibilityTimeoutMs, () => {
      this.#releases.delete(cancel);
      if (!this.#stopped) void release();
    });
    this.#releases.add(cancel);
  }

  #decode(text: string): string {
    if (this.#options.settings.messageEncoding !== 'base64') return text;
    const decoded = Buffer.from(text, 'base64');
    // Not base64 (e.g. written by a tool without encoding): keep the text, as the host's fallback does.
    return decoded.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '')
      ? decoded.toString('utf8')
      : text;
  }

  #log(level: HostLogLevel, message: string): void {
    this.#options.log({
      time: new Date(this.#options.clock.now()).toISOString(),
      level,
      category: 'queue',
      message,
    });
  }

  /** Resolves when the poll loop has exited (after stop). */
  async closed(): Promise<void> {
    await this.#loop;
  }
}

/**
 * The trigger metadata as the Node worker hands it to a function. The host sends each value as
 * RPC typed data (dates as text); @azure/functions 4.x (`fromRpcTriggerMetadata` in
 * src/converters/fromRpcTriggerMetadata.ts) tries every string as JSON and then camel-cases the
 * keys of the result recursively (`toCamelCaseValue`). So `queueTrigger` holds a JSON message
 * parsed, with first letters of keys lowered, and a message nested a few thousand levels deep
 * overflows the stack there, before any handler runs: on Azure each delivery fails, the message
 * goes to the poison queue, fails the poison trigger the same way and ends in `<queue>-poison-poison`.
 * This does the same to string values, recursion included, so tests meet that failure where Azure
 * has it. Other values (numbers, and dates, which stay Date objects as this host has always given
 * them) pass unchanged.
 */
export function asWorkerTriggerMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    result[camelCaseKey(key)] = typeof value === 'string' ? camelCaseValue(tryJsonParse(value)) : value;
  }
  return result;
}

function tryJsonParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function camelCaseKey(key: string): string {
  return key.charAt(0).toLowerCase() + key.slice(1);
}

/** Recursive on purpose: the worker's conversion is, and its depth limit is the one that matters. */
function camelCaseValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(camelCaseValue);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) result[camelCaseKey(key)] = camelCaseValue(item);
  return result;
}

/** Encodes a queue output value the way the Functions output binding does. */
export function encodeQueueMessage(value: unknown, encoding: 'base64' | 'none'): string {
  const text =
    typeof value === 'string'
      ? value
      : Buffer.isBuffer(value)
        ? value.toString('utf8')
        : JSON.stringify(value);
  return encoding === 'base64' ? Buffer.from(text, 'utf8').toString('base64') : text;
}
