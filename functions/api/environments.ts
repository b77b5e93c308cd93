import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { checkSlug } from '../../shared/domain/slug.js';
import { createLogger } from '../../shared/logger.js';
import type { EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { services } from '../services.js';
import { json, problem, problemFromError } from './problem.js';

/** GET /api/environments: every slug's registry record. */
export async function listEnvironments(
  _request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  try {
    const environments = await services().registry.list();
    return json(200, { environments: environments.map(publicView) });
  } catch (error) {
    createLogger(context).error('list environments failed', { error: (error as Error).message });
    return problemFromError(error);
  }
}

/** GET /api/environments/{slug}: one slug's registry record. */
export async function getEnvironment(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  try {
    const slug = request.params['slug'] ?? '';
    const check = checkSlug(slug);
    if (!check.ok) return problem(ErrorCodes.SlugInvalid, `Invalid slug: ${check.reason}`);
    const record = await services().registry.get(slug);
    if (!record) return problem(ErrorCodes.NotFound, `no environment for slug ${slug}`);
    return json(200, publicView(record));
  } catch (error) {
    createLogger(context).error('get environment failed', { error: (error as Error).message });
    return problemFromError(error);
  }
}

function publicView(record: EnvironmentRecord): Omit<EnvironmentRecord, 'etag'> {
  const { etag: _etag, ...rest } = record;
  return rest;
}

app.http(Functions.listEnvironments, {
  route: 'environments',
  methods: ['GET'],
  authLevel: 'function',
  handler: listEnvironments,
});

app.http(Functions.getEnvironment, {
  route: 'environments/{slug}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getEnvironment,
});
