import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { createLogger } from '../../shared/logger.js';
import { approvalServices } from '../approvalServices.js';
import { json, problem, problemFromError } from './problem.js';

const MAX_LIMIT = 1_000;

/** GET /api/audit?limit=N&requestId=&slug=: the approval and chat audit trail, newest first. */
export async function listAudit(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const limitText = request.query.get('limit') ?? '100';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      return problem(ErrorCodes.BadRequest, `limit must be a whole number from 1 to ${MAX_LIMIT}`);
    }
    const requestId = request.query.get('requestId') ?? undefined;
    const slug = request.query.get('slug') ?? undefined;
    const entries = await approvalServices().audit.list({
      limit,
      ...(requestId ? { requestId } : {}),
      ...(slug ? { slug } : {}),
    });
    return json(200, { entries });
  } catch (error) {
    createLogger(context).error('list audit failed', {
      error: error instanceof Error ? error.message : String(error),
    });
    return problemFromError(error);
  }
}

app.http(Functions.listAudit, {
  route: 'audit',
  methods: ['GET'],
  authLevel: 'function',
  handler: listAudit,
});
