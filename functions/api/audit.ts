import { app } from '@azure/functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { services } from '../services.js';
import { json, problem, withProblems } from './problem.js';

const MAX_LIMIT = 1_000;

/** GET /api/audit?limit=N&requestId=&slug=: the approval and chat audit trail, newest first. */
export const listAudit = withProblems('list audit failed', async (request) => {
  const limitText = request.query.get('limit') ?? '100';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return problem(ErrorCodes.BadRequest, `limit must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  const requestId = request.query.get('requestId') ?? undefined;
  const slug = request.query.get('slug') ?? undefined;
  const entries = await services().audit.list({
    limit,
    ...(requestId ? { requestId } : {}),
    ...(slug ? { slug } : {}),
  });
  return json(200, { entries });
});

app.http(Functions.listAudit, {
  route: 'audit',
  methods: ['GET'],
  authLevel: 'function',
  handler: listAudit,
});
