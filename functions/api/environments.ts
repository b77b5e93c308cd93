import { app } from '@azure/functions';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { checkSlug } from '../../shared/domain/slug.js';
import type { EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { services } from '../services.js';
import { json, problem, withProblems } from './problem.js';

/** GET /api/environments: every slug's registry record. */
export const listEnvironments = withProblems('list environments failed', async () => {
  const environments = await services().registry.list();
  return json(200, { environments: environments.map(publicView) });
});

/** GET /api/environments/{slug}: one slug's registry record. */
export const getEnvironment = withProblems('get environment failed', async (request) => {
  const slug = request.params['slug'] ?? '';
  const check = checkSlug(slug);
  if (!check.ok) return problem(ErrorCodes.SlugInvalid, `Invalid slug: ${check.reason}`);
  const record = await services().registry.get(slug);
  if (!record) return problem(ErrorCodes.NotFound, `no environment for slug ${slug}`);
  return json(200, publicView(record));
});

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
