import { ErrorCodes } from '../errors.js';
import { parseLifecycleRequest, type RequestIssue } from '../requests/parseLifecycleRequest.js';
import { REQUEST_ID_PATTERN, type LifecycleRequest } from '../requests/lifecycleRequest.js';
import { containsRawSecret, redacted } from '../requests/rawSecrets.js';
import { requestContentHash, type RequestRecord, type RequestStore } from '../storage/requestStore.js';
import type { RejectedMessageStore } from '../storage/rejectedMessageStore.js';
import type { Logger } from '../logger.js';
import { isBrokerRequestId } from '../requests/brokerRequestIds.js';
import { checkSecretReferences } from './stagedSecrets.js';

/** Wakes (starting it if needed) the runner that serialises a slug's operations. */
export interface SlugRunnerPort {
  wake(slug: string, requestId: string): Promise<void>;
}

export interface IntakeMessage {
  /** The message text as it arrived on the queue. */
  text: string;
  messageId: string;
  dequeueCount: number;
  receivedAt: string;
}

export type IntakeOutcome =
  | { kind: 'admitted'; requestId: string; slug: string }
  | { kind: 'duplicate'; requestId: string; status: string }
  | { kind: 'rejected'; code: string; reason: string; requestId?: string | undefined };

/**
 * How many times the Functions host delivers a failing queue message before it moves it to the
 * poison queue (host.json `extensions.queues.maxDequeueCount`; a test keeps the two equal). The
 * poison queue's own dequeue count starts again at 1, so the poison handler reports this one.
 */
export const QUEUE_MAX_DEQUEUE_COUNT = 5;

/** The longest reason the intake stores: a message full of unknown fields cannot make it huge. */
export const MAX_REASON_CHARS = 2_000;

export interface IntakeDependencies {
  requests: RequestStore;
  rejected: RejectedMessageStore;
  runner: SlugRunnerPort;
  maxMessageBytes: number;
  /** The staging vault: the only place a request's `{ secretRef }` may point (to its own staged secret). */
  stagingVaultUri: string;
  logger: Logger;
}

/**
 * The intake: turns a queue message into a queued request in its slug's queue and wakes the
 * slug's runner. Every step is idempotent, so a message delivered twice, or retried after a crash
 * half-way, converges: the request record is created once (the requestId is its key), its queue
 * entry's key derives from the record, and waking a runner twice is harmless.
 * Bad messages are never thrown back to the queue: they are recorded with their reason.
 */
export class IntakeService {
  constructor(private readonly deps: IntakeDependencies) {}

  async process(message: IntakeMessage): Promise<IntakeOutcome> {
    const parsed = parseLifecycleRequest(message.text, this.deps.maxMessageBytes);
    if (!parsed.ok) return this.reject(message, parsed.code, parsed.reason, parsed.issues, 'queue');
    const refused = checkSecretReferences(parsed.request, this.deps.stagingVaultUri);
    if (refused.length > 0) {
      return this.reject(
        message,
        ErrorCodes.SecretReferenceRefused,
        `request refers to secrets it may not use: ${refused.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
        refused,
        'queue',
      );
    }
    if (isBrokerRequestId(parsed.request.requestId) && !(await this.recordedByBroker(parsed.request))) {
      return this.reject(
        message,
        ErrorCodes.RequestIdReserved,
        `requestId ${parsed.request.requestId} is in the namespace of the broker's own timer requests (rotate:, sas:); choose another id`,
        [{ path: 'requestId', message: 'reserved for requests the broker makes itself' }],
        'queue',
        false,
      );
    }
    return this.admit(parsed.request, message);
  }

  /**
   * Whether the broker recorded this very request before it was queued (the sweeps do, with origin
   * 'broker'; a record marked enqueued is accepted too, as sweeps recorded before origin existed).
   */
  private async recordedByBroker(request: LifecycleRequest): Promise<boolean> {
    const record = await this.deps.requests.get(request.requestId);
    if (!record || record.request === null) return false;
    if (record.origin !== 'broker' && record.enqueued !== true) return false;
    return record.contentHash === requestContentHash(request);
  }

  /**
   * Records a message that failed processing on every delivery (from the poison queue). Its count
   * of deliveries is the host's limit: on the poison queue the message is a new message whose own
   * dequeue count starts at 1. Whatever the content, it is recorded (the text is only stored,
   * redacted, never parsed deeper than its top level); only a storage failure throws.
   */
  async recordPoison(message: IntakeMessage): Promise<IntakeOutcome> {
    const poisonDeliveries =
      message.dequeueCount > 1 ? ` (and ${message.dequeueCount} deliveries from the poison queue)` : '';
    return this.reject(
      { ...message, dequeueCount: QUEUE_MAX_DEQUEUE_COUNT },
      ErrorCodes.RequestProcessingFailed,
      `processing failed on each of ${QUEUE_MAX_DEQUEUE_COUNT} deliveries${poisonDeliveries}; the broker's logs have each error`,
      [],
      'poison',
    );
  }

  /**
   * Records a message that never reached the broker's code: the host gave up on it in the poison
   * trigger too and moved it to `lifecycle-requests-poison-poison`, which no trigger reads (the
   * Node worker converts a queue message's trigger metadata recursively before any handler runs, so
   * a message nested a few thousand levels deep fails there on every delivery). The drain reads it
   * with the storage SDK and records it here, text redacted as always.
   */
  async recordUnreadable(message: IntakeMessage): Promise<IntakeOutcome> {
    return this.reject(
      { ...message, dequeueCount: QUEUE_MAX_DEQUEUE_COUNT },
      ErrorCodes.RequestProcessingFailed,
      `the Functions host could not deliver this message to the broker on any of ${QUEUE_MAX_DEQUEUE_COUNT} deliveries, nor from the poison queue; recorded from lifecycle-requests-poison-poison`,
      [],
      'poison',
    );
  }

  async admit(
    request: LifecycleRequest,
    message: Pick<IntakeMessage, 'messageId' | 'dequeueCount' | 'receivedAt' | 'text'>,
  ): Promise<IntakeOutcome> {
    const outcome = await this.deps.requests.record(request, message.receivedAt);
    if (outcome.kind === 'conflict') {
      return this.reject(
        message,
        ErrorCodes.RequestIdConflict,
        `requestId ${request.requestId} was already used for a different request (${outcome.record.op} ${outcome.record.slug}); the first one stands`,
        [],
        'queue',
        false,
      );
    }
    const record: RequestRecord = outcome.record;
    if (outcome.kind === 'existing' && record.admitted) {
      this.deps.logger.info('duplicate request ignored', {
        requestId: record.requestId,
        status: record.status,
      });
      return { kind: 'duplicate', requestId: record.requestId, status: record.status };
    }
    await this.deps.requests.admit(record);
    await this.deps.runner.wake(record.slug, record.requestId);
    this.deps.logger.info('request admitted', {
      requestId: record.requestId,
      op: record.op,
      slug: record.slug,
    });
    return { kind: 'admitted', requestId: record.requestId, slug: record.slug };
  }

  private async reject(
    message: Pick<IntakeMessage, 'messageId' | 'dequeueCount' | 'receivedAt' | 'text'>,
    code: string,
    reason: string,
    issues: RequestIssue[],
    source: 'queue' | 'poison',
    markRequest = true,
  ): Promise<IntakeOutcome> {
    const hints = readableFields(message.text);
    const stored = boundedReason(reason);
    await this.deps.rejected.add(
      {
        receivedAt: message.receivedAt,
        source,
        code,
        reason: stored,
        issues,
        requestId: hints.requestId,
        messageId: message.messageId,
        dequeueCount: message.dequeueCount,
      },
      message.text,
    );
    // Never a record under a reserved id from outside: it would occupy a sweep's id in advance.
    if (markRequest && hints.requestId && !isBrokerRequestId(hints.requestId)) {
      await this.deps.requests.recordRejected(hints.requestId, {
        op: hints.op ?? '',
        slug: hints.slug ?? '',
        reason: stored,
        errorCode: code,
        at: message.receivedAt,
      });
    }
    // `source: poison` is what the poison-message alert counts (infra/monitoring).
    this.deps.logger.warn('request rejected', {
      code,
      source,
      messageId: message.messageId,
      requestId: hints.requestId,
    });
    return { kind: 'rejected', code, reason: stored, requestId: hints.requestId };
  }
}

/** The reason as stored and answered: raw secrets masked, at most 2,000 characters. */
function boundedReason(reason: string): string {
  const masked = redacted(reason);
  return masked.length > MAX_REASON_CHARS ? `${masked.slice(0, MAX_REASON_CHARS - 1)}…` : masked;
}

/**
 * Best-effort: the requestId, op and slug of a message that failed validation, if readable. Reads
 * the top level only (`JSON.parse` itself does not recurse); a field that looks like a raw secret
 * is not a hint (it would be stored as a key).
 */
function readableFields(text: string): { requestId?: string; op?: string; slug?: string } {
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object') return {};
    const record = value as Record<string, unknown>;
    const pick = (key: string, max: number) => {
      const field = Object.hasOwn(record, key) ? record[key] : undefined;
      return typeof field === 'string' && field.length <= max && !containsRawSecret(field)
        ? field
        : undefined;
    };
    const requestId = pick('requestId', 64);
    return {
      ...(requestId && REQUEST_ID_PATTERN.test(requestId) ? { requestId } : {}),
      ...(pick('op', 32) ? { op: pick('op', 32) } : {}),
      ...(pick('slug', 64) ? { slug: pick('slug', 64) } : {}),
    };
  } catch {
    return {};
  }
}
