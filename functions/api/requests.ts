import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import {
  LIFECYCLE_REQUEST_SCHEMA_VERSION,
  REQUEST_ID_PATTERN,
} from '../../shared/requests/lifecycleRequest.js';
import { validateLifecycleRequest } from '../../shared/requests/parseLifecycleRequest.js';
import { StorageNames } from '../../shared/storage/brokerStorage.js';
import { requestView } from '../../shared/intake/requestView.js';
import { checkSecretReferences, planStagedSecrets } from '../../shared/intake/stagedSecrets.js';
import { isBrokerRequestId } from '../../shared/requests/brokerRequestIds.js';
import { isVaultAccessPending, writeSecret } from '../../shared/azure/keyVaultSecrets.js';
import { createLogger } from '../../shared/logger.js';
import { services } from '../services.js';
import { operatorRequester } from '../../shared/approvals/operatorIdentity.js';
import { readBody, type BodyFailure } from './body.js';
import { callerOf } from './caller.js';
import { json, problem, problemFromError } from './problem.js';

/** The body of POST /api/requests: the request without the fields the broker fills in. */
const submitBodySchema = z
  .object({
    schemaVersion: z.literal(LIFECYCLE_REQUEST_SCHEMA_VERSION).optional(),
    requestId: z.string().optional(),
    op: z.string(),
    slug: z.string(),
    params: z.record(z.string(), z.unknown()).optional(),
    secrets: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/**
 * POST /api/requests: validates a lifecycle request, stages the secrets it supplies (`secrets`:
 * telegramBotToken, foundryApiKey) in the broker's Key Vault, records it as queued and enqueues it
 * for the intake with `{ secretRef }`s in place of the values. Answers 202 with the requestId and a status URL. Re-posting the same requestId answers
 * with the existing request; the same requestId with different content is a 409.
 */
export async function submitRequest(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  try {
    const { config, requests, storage } = services();
    // Who asks comes from the platform (Easy Auth) or the function key's configured identity,
    // never from the body or a header the caller wrote.
    const caller = callerOf(request, config.operators);
    if (!caller.ok) return caller.response;
    const operator = caller.operator;
    const body = await readBody(request, {
      schema: submitBodySchema,
      maxBytes: config.intake.maxMessageBytes,
    });
    if (!body.ok) return bodyProblem(body.failure);
    const shape = { data: body.value };
    const now = new Date().toISOString();
    const requestId = shape.data.requestId ?? randomUUID();
    const staging = planStagedSecrets({
      op: shape.data.op,
      requestId,
      params: shape.data.params ?? {},
      secrets: shape.data.secrets ?? {},
      stagingVaultUri: config.stagingKeyVaultUri,
    });
    if (!staging.ok) {
      return problem(ErrorCodes.RequestSchemaViolation, `${staging.path}: ${staging.message}`, {
        errors: [{ path: staging.path, message: staging.message }],
      });
    }
    const candidate = {
      schemaVersion: LIFECYCLE_REQUEST_SCHEMA_VERSION,
      requestId,
      op: shape.data.op,
      slug: shape.data.slug,
      params: staging.params,
      requestedBy: operatorRequester(operator),
      requestedAt: now,
    };
    const parsed = validateLifecycleRequest(candidate);
    if (!parsed.ok) return problem(parsed.code, parsed.reason, { errors: parsed.issues });
    if (isBrokerRequestId(parsed.request.requestId)) {
      return problem(
        ErrorCodes.RequestIdReserved,
        `requestId ${parsed.request.requestId} is in the namespace of the broker's own timer requests (rotate:, sas:); choose another id`,
        { errors: [{ path: 'requestId', message: 'reserved for requests the broker makes itself' }] },
      );
    }
    const refused = checkSecretReferences(parsed.request, config.stagingKeyVaultUri);
    if (refused.length > 0) {
      return problem(
        ErrorCodes.SecretReferenceRefused,
        `request refers to secrets it may not use: ${refused.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
        { errors: refused },
      );
    }

    const outcome = await requests.record(parsed.request, now, { via: 'api' });
    const statusUrl = new URL(`/api/requests/${encodeURIComponent(parsed.request.requestId)}`, request.url)
      .href;
    if (outcome.kind === 'conflict') {
      return problem(
        ErrorCodes.RequestIdConflict,
        `requestId ${parsed.request.requestId} is already used for a different request (${outcome.record.op} ${outcome.record.slug})`,
        { statusUrl },
      );
    }
    // Enqueue unless an earlier POST of this request already did; a crash between the send and
    // the mark only means a second message, which the intake recognises as a duplicate.
    if (!outcome.record.admitted && !outcome.record.enqueued) {
      // Staged before the request can run, so provisioning always finds what it references.
      const vault = services().azure.secrets(config.stagingKeyVaultUri);
      try {
        for (const secret of staging.toStage) {
          await writeSecret(vault, secret.name, secret.value, {
            'claw-broker-request': parsed.request.requestId,
          });
        }
      } catch (error) {
        if (!isVaultAccessPending(error)) throw error;
        return problem(
          ErrorCodes.SecretStagingUnavailable,
          'the broker cannot write to its Key Vault yet (permission not propagated); retry the same request',
          { statusUrl },
        );
      }
      const queue = await storage.queue(StorageNames.lifecycleQueue);
      await queue.sendMessage(JSON.stringify(parsed.request));
      await requests.update(parsed.request.requestId, { enqueued: true });
    }
    createLogger(context).info('request submitted', {
      requestId: parsed.request.requestId,
      op: parsed.request.op,
      slug: parsed.request.slug,
      existing: outcome.kind === 'existing',
    });
    return json(
      202,
      { requestId: parsed.request.requestId, status: outcome.record.status, statusUrl },
      { Location: statusUrl, 'Retry-After': '2' },
    );
  } catch (error) {
    createLogger(context).error('submit failed', { error: (error as Error).message });
    return problemFromError(error);
  }
}

/** The problem for a body the reader refused, worded as the API always has. */
function bodyProblem(failure: BodyFailure): HttpResponseInit {
  switch (failure.kind) {
    case 'oversized':
      return problem(
        ErrorCodes.RequestOversized,
        `body is ${failure.bytes} bytes; the limit is ${failure.maxBytes}`,
      );
    case 'not-json':
      return problem(ErrorCodes.RequestInvalidJson, `body is not valid JSON: ${failure.message}`);
    // Before the schema reads it: too deep, or a `__proto__` field (which the schema would drop
    // silently, while the queue refuses it), is refused as the intake refuses it.
    case 'structure':
      return problem(
        ErrorCodes.RequestSchemaViolation,
        failure.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '),
        { errors: failure.issues },
      );
    case 'schema':
      return problem(
        ErrorCodes.RequestSchemaViolation,
        'body must be { op, slug, params?, secrets?, requestId? }',
        {
          errors: failure.issues,
        },
      );
  }
}

/** GET /api/requests/{requestId}: queued (with position), running (step), or the outcome. */
export async function getRequest(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  try {
    const requestId = request.params['requestId'] ?? '';
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      return problem(ErrorCodes.BadRequest, `"${requestId.slice(0, 80)}" is not a valid requestId`);
    }
    const { requests } = services();
    const record = await requests.get(requestId);
    if (!record) return problem(ErrorCodes.NotFound, `no request with id ${requestId}`);
    const live: { queue?: string[]; progress?: unknown } = {};
    if (record.status === 'queued') live.queue = await requests.queued(record.slug);
    if (record.status === 'running' && record.instanceId) {
      live.progress = await customStatusOf(df.getClient(context), record.instanceId);
    }
    return json(200, requestView(record, live));
  } catch (error) {
    createLogger(context).error('get request failed', { error: (error as Error).message });
    return problemFromError(error);
  }
}

async function customStatusOf(client: df.DurableClient, instanceId: string): Promise<unknown> {
  try {
    return (await client.getStatus(instanceId, { showInput: false })).customStatus;
  } catch {
    return undefined; // the sub-orchestration may not exist yet; the record still tells "running"
  }
}

app.http(Functions.submitRequest, {
  route: 'requests',
  methods: ['POST'],
  authLevel: 'function',
  handler: submitRequest,
});

app.http(Functions.getRequest, {
  route: 'requests/{requestId}',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getRequest,
});
