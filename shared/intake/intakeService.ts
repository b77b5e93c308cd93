import { ErrorCodes } from '../errors.js';
import { parseLifecycleRequest, type RequestIssue } from '../requests/parseLifecycleRequest.js';
import { REQUEST_ID_PATTERN, type LifecycleRequest } from '../requests/lifecycleRequest.js';
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

  /** Records a message that failed processing on every delivery (from the poison queue). */
  async recordPoison(message: IntakeMessage): Promise<IntakeOutcome> {
    return this.reject(
      message,
      ErrorCodes.RequestProcessingFailed,
      `processing failed on each of ${message.dequeueCount} deliveries; the broker's logs have each error`,
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
    await this.deps.rejected.add(
      {
        receivedAt: message.receivedAt,
        source,
        code,
        reason,
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
        reason,
        errorCode: code,
        at: message.receivedAt,
      });
    }
    this.deps.logger.warn('request rejected', {
      code,
      messageId: message.messageId,
      requestId: hints.requestId,
    });
    return { kind: 'rejected', code, reason, requestId: hints.requestId };
  }
}

/** Best-effort: the requestId, op and slug of a message that failed validation, if readable. */
function readableFields(text: string): { requestId?: string; op?: string; slug?: string } {
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object') return {};
    const record = value as Record<string, unknown>;
    const pick = (key: string, max: number) => {
      const field = record[key];
      return typeof field === 'string' && field.length <= max ? field : undefined;
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
