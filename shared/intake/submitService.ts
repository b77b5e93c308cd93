import { randomUUID } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import { isVaultAccessPending, writeSecret } from '../azure/keyVaultSecrets.js';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { isBrokerRequestId } from '../requests/brokerRequestIds.js';
import { LIFECYCLE_REQUEST_SCHEMA_VERSION, type RequestedBy } from '../requests/lifecycleRequest.js';
import { validateLifecycleRequest, type RequestIssue } from '../requests/parseLifecycleRequest.js';
import type { RequestStatus, RequestStore } from '../storage/requestStore.js';
import { checkSecretReferences, planStagedSecrets } from './stagedSecrets.js';

/** The body of a submission (POST /api/requests): the request without the fields the broker fills in. */
export const submitBodySchema = z
  .object({
    schemaVersion: z.literal(LIFECYCLE_REQUEST_SCHEMA_VERSION).optional(),
    requestId: z.string().optional(),
    op: z.string(),
    slug: z.string(),
    params: z.record(z.string(), z.unknown()).optional(),
    secrets: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export type Submission = z.output<typeof submitBodySchema>;

export type SubmitOutcome =
  /** Queued now or earlier (`existing`: the same request was submitted before). */
  | { kind: 'accepted'; requestId: string; status: RequestStatus; existing: boolean }
  /** Not a request the broker takes; nothing was recorded. */
  | { kind: 'refused'; code: ErrorCode; reason: string; issues: RequestIssue[] }
  /** The requestId is already used for a different request; the first one stands. */
  | { kind: 'conflict'; requestId: string; reason: string }
  /** The staging vault refused the write (the broker's role not yet propagated): retry the same request. */
  | { kind: 'staging-unavailable'; requestId: string };

export interface SubmitDependencies {
  requests: RequestStore;
  /** The staging vault: where supplied secrets are staged, and the only place a `{ secretRef }` may point. */
  stagingVaultUri: string;
  /** The staging vault's client, asked for when a request is about to be enqueued. */
  stagingVault(): SecretClient;
  /** The lifecycle queue the intake reads. */
  queue(): Promise<QueueClient>;
  now(): Date;
  logger: Logger;
}

/**
 * A lifecycle request submitted through the HTTP API, beside the intake (IntakeService) that later
 * admits it from the queue: validates it with the same rules, stages the secrets it supplies
 * (`secrets`: telegramBotToken, foundryApiKey) in the staging vault, records it as queued and
 * enqueues it with `{ secretRef }`s in place of the values. The requester comes from the caller,
 * never from the submission. Submitting the same request again answers with the existing one;
 * every step is idempotent, so a retry after a failure half-way converges.
 */
export class SubmitService {
  constructor(private readonly deps: SubmitDependencies) {}

  async submit(submission: Submission, requestedBy: RequestedBy): Promise<SubmitOutcome> {
    const { requests, stagingVaultUri } = this.deps;
    const now = this.deps.now().toISOString();
    const requestId = submission.requestId ?? randomUUID();
    const staging = planStagedSecrets({
      op: submission.op,
      requestId,
      params: submission.params ?? {},
      secrets: submission.secrets ?? {},
      stagingVaultUri,
    });
    if (!staging.ok) {
      return refused(ErrorCodes.RequestSchemaViolation, `${staging.path}: ${staging.message}`, [
        { path: staging.path, message: staging.message },
      ]);
    }
    const parsed = validateLifecycleRequest({
      schemaVersion: LIFECYCLE_REQUEST_SCHEMA_VERSION,
      requestId,
      op: submission.op,
      slug: submission.slug,
      params: staging.params,
      requestedBy,
      requestedAt: now,
    });
    if (!parsed.ok) return refused(parsed.code, parsed.reason, parsed.issues);
    const request = parsed.request;
    if (isBrokerRequestId(request.requestId)) {
      return refused(
        ErrorCodes.RequestIdReserved,
        `requestId ${request.requestId} is in the namespace of the broker's own requests (rotate:, sas:, upgrade:); choose another id`,
        [{ path: 'requestId', message: 'reserved for requests the broker makes itself' }],
      );
    }
    const refusedRefs = checkSecretReferences(request, stagingVaultUri);
    if (refusedRefs.length > 0) {
      return refused(
        ErrorCodes.SecretReferenceRefused,
        `request refers to secrets it may not use: ${refusedRefs.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
        refusedRefs,
      );
    }

    const outcome = await requests.record(request, now, { via: 'api' });
    if (outcome.kind === 'conflict') {
      return {
        kind: 'conflict',
        requestId: request.requestId,
        reason: `requestId ${request.requestId} is already used for a different request (${outcome.record.op} ${outcome.record.slug})`,
      };
    }
    // Enqueue unless an earlier submission of this request already did; a crash between the send
    // and the mark only means a second message, which the intake recognises as a duplicate.
    if (!outcome.record.admitted && !outcome.record.enqueued) {
      // Staged before the request can run, so provisioning always finds what it references.
      const vault = this.deps.stagingVault();
      try {
        for (const secret of staging.toStage) {
          await writeSecret(vault, secret.name, secret.value, {
            'claw-broker-request': request.requestId,
          });
        }
      } catch (error) {
        if (!isVaultAccessPending(error)) throw error;
        return { kind: 'staging-unavailable', requestId: request.requestId };
      }
      const queue = await this.deps.queue();
      await queue.sendMessage(JSON.stringify(request));
      await requests.update(request.requestId, { enqueued: true });
    }
    this.deps.logger.info('request submitted', {
      requestId: request.requestId,
      op: request.op,
      slug: request.slug,
      existing: outcome.kind === 'existing',
    });
    return {
      kind: 'accepted',
      requestId: request.requestId,
      status: outcome.record.status,
      existing: outcome.kind === 'existing',
    };
  }
}

function refused(code: ErrorCode, reason: string, issues: RequestIssue[]): SubmitOutcome {
  return { kind: 'refused', code, reason, issues };
}
