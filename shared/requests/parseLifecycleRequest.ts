import type { z } from 'zod';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import { inspectJson, MAX_JSON_DEPTH } from './jsonInspection.js';
import {
  LIFECYCLE_OPS,
  LIFECYCLE_REQUEST_SCHEMA_VERSION,
  lifecycleRequestSchema,
  type LifecycleRequest,
} from './lifecycleRequest.js';

export interface RequestIssue {
  path: string;
  message: string;
}

export type ParseResult =
  | { ok: true; request: LifecycleRequest }
  | { ok: false; code: ErrorCode; reason: string; issues: RequestIssue[] };

/**
 * Parses a raw message into a LifecycleRequest, or explains precisely why not: oversized, not
 * JSON, unsupported schema version, unknown operation, or the schema's own issues with their paths.
 * Never throws for bad input.
 */
export function parseLifecycleRequest(text: string, maxBytes: number): ParseResult {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) {
    return refuse(ErrorCodes.RequestOversized, `message is ${size} bytes; the limit is ${maxBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return refuse(ErrorCodes.RequestInvalidJson, `message is not valid JSON: ${(error as Error).message}`);
  }
  return validateLifecycleRequest(json);
}

/**
 * Validates an already-parsed value against the version 1 request schema. First a bounded,
 * iterative walk of the whole value: nesting deeper than 32 levels is refused before anything else
 * reads it (the schema included), and a `__proto__` field or a raw secret value anywhere (keys,
 * requestId and params included) is refused with its path, before and independently of the schema.
 */
export function validateLifecycleRequest(json: unknown): ParseResult {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return refuse(ErrorCodes.RequestSchemaViolation, 'a lifecycle request is a JSON object');
  }
  const findings = inspectJson(json, { rawSecrets: true });
  const tooDeep = findings.find((finding) => finding.kind === 'too-deep');
  if (tooDeep) {
    return {
      ok: false,
      code: ErrorCodes.RequestSchemaViolation,
      reason: `request is nested deeper than ${MAX_JSON_DEPTH} levels (at ${tooDeep.path}); a lifecycle request has at most 4`,
      issues: [{ path: tooDeep.path, message: tooDeep.message }],
    };
  }
  const record = json as Record<string, unknown>;
  if (record['schemaVersion'] !== LIFECYCLE_REQUEST_SCHEMA_VERSION) {
    return refuse(
      ErrorCodes.RequestUnsupportedVersion,
      `schemaVersion ${JSON.stringify(record['schemaVersion'] ?? null)} is not supported; expected ${LIFECYCLE_REQUEST_SCHEMA_VERSION}`,
    );
  }
  if (typeof record['op'] !== 'string' || !(LIFECYCLE_OPS as readonly string[]).includes(record['op'])) {
    return refuse(
      ErrorCodes.RequestUnknownOperation,
      `op ${JSON.stringify(record['op'] ?? null)} is not a lifecycle operation; expected one of ${LIFECYCLE_OPS.join(', ')}`,
    );
  }
  const parsed = lifecycleRequestSchema.safeParse(json);
  if (!parsed.success || findings.length > 0) {
    const issues = [
      ...findings.map(({ path, message }) => ({ path, message })),
      ...(parsed.success ? [] : toIssues(parsed.error)),
    ];
    return {
      ok: false,
      code: ErrorCodes.RequestSchemaViolation,
      reason: `request does not match the lifecycle request schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    };
  }
  return { ok: true, request: parsed.data };
}

function toIssues(error: z.ZodError): RequestIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
    message: issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message,
  }));
}

function refuse(code: ErrorCode, reason: string): ParseResult {
  return { ok: false, code, reason, issues: [] };
}
