import { app } from '@azure/functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { services } from '../services.js';
import { json, problem, withProblems } from './problem.js';

/** GET /api/rejected?limit=N: messages the intake refused, newest first, with their reasons. */
export const listRejected = withProblems('list rejected failed', async (request) => {
  const limitText = request.query.get('limit') ?? '100';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return problem(
      ErrorCodes.BadRequest,
      `limit must be a whole number from 1 to 1000, got "${limitText.slice(0, 20)}"`,
    );
  }
  return json(200, { rejected: await services().rejected.list({ limit }) });
});

/** GET /api/rejected/{id}: one rejected message with its whole original text. */
export const getRejected = withProblems('get rejected failed', async (request) => {
  const id = request.params['id'] ?? '';
  if (!/^[0-9]{13}-[A-Za-z0-9-]{1,128}$/.test(id))
    return problem(ErrorCodes.BadRequest, 'not a rejected message id');
  const found = await services().rejected.get(id);
  if (!found) return problem(ErrorCodes.NotFound, `no rejected message with id ${id}`);
  return json(200, { ...found.message, originalText: found.originalText });
});

app.http(Functions.listRejected, {
  route: 'rejected',
  methods: ['GET'],
  authLevel: 'function',
  handler: listRejected,
});

app.http(Functions.getRejected, {
  route: 'rejected/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getRejected,
});
