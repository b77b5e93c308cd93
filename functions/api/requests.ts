import { app, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { REQUEST_ID_PATTERN } from '../../shared/requests/lifecycleRequest.js';
import { StorageNames } from '../../shared/storage/brokerStorage.js';
import { requestView } from '../../shared/intake/requestView.js';
import { SubmitService, submitBodySchema } from '../../shared/intake/submitService.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { services } from '../services.js';
import { operatorRequester } from '../../shared/approvals/operatorIdentity.js';
import { readBody, type BodyFailure } from './body.js';
import { callerOf } from './caller.js';
import { json, problem, withProblems } from './problem.js';

/**
 * POST /api/requests: a lifecycle request from an operator, handed to the SubmitService
 * (shared/intake/submitService.ts), which validates it, stages the secrets it supplies, records it
 * as queued and enqueues it for the intake. Answers 202 with the requestId and a status URL.
 * Re-posting the same requestId answers with the existing request; the same requestId with
 * different content is a 409.
 */
export const submitRequest = withProblems('submit failed', async (request, context) => {
  const { config } = services();
  // Who asks comes from the platform (Easy Auth) or the function key's configured identity,
  // never from the body or a header the caller wrote.
  const caller = callerOf(request, config.operators);
  if (!caller.ok) return caller.response;
  const body = await readBody(request, {
    schema: submitBodySchema,
    maxBytes: config.intake.maxMessageBytes,
  });
  if (!body.ok) return bodyProblem(body.failure);

  const outcome = await submitService(createLogger(context)).submit(
    body.value,
    operatorRequester(caller.operator),
  );
  if (outcome.kind === 'refused') return problem(outcome.code, outcome.reason, { errors: outcome.issues });
  const statusUrl = new URL(`/api/requests/${encodeURIComponent(outcome.requestId)}`, request.url).href;
  switch (outcome.kind) {
    case 'conflict':
      return problem(ErrorCodes.RequestIdConflict, outcome.reason, { statusUrl });
    case 'staging-unavailable':
      return problem(
        ErrorCodes.SecretStagingUnavailable,
        'the broker cannot write to its Key Vault yet (permission not propagated); retry the same request',
        { statusUrl },
      );
    case 'accepted':
      return json(
        202,
        { requestId: outcome.requestId, status: outcome.status, statusUrl },
        { Location: statusUrl, 'Retry-After': '2' },
      );
  }
});

function submitService(logger: Logger): SubmitService {
  const { config, requests, storage } = services();
  return new SubmitService({
    requests,
    stagingVaultUri: config.stagingKeyVaultUri,
    stagingVault: () => services().azure.secrets(config.stagingKeyVaultUri),
    queue: () => storage.queue(StorageNames.lifecycleQueue),
    now: () => new Date(),
    logger,
  });
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
        { errors: failure.issues },
      );
  }
}
/** GET /api/requests/{requestId}: queued (with position), running (step), or the outcome. */
export const getRequest = withProblems('get request failed', async (request, context) => {
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
});

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
