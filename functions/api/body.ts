import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';
import { parseJsonBody, type BodyResult, type BodyRules } from '../../shared/requests/jsonBody.js';

export type { BodyFailure, BodyIssue, BodyResult } from '../../shared/requests/jsonBody.js';

/**
 * The body of an HTTP call, read once and checked by the one body reader (size, JSON, structure,
 * schema: shared/requests/jsonBody.ts). The route words the problem for a failure.
 */
export async function readBody<S extends z.ZodType>(
  request: Pick<HttpRequest, 'text'>,
  rules: BodyRules<S>,
): Promise<BodyResult<z.output<S>>> {
  return parseJsonBody(await request.text(), rules);
}
