import type { z } from 'zod';
import { inspectJson } from './jsonInspection.js';

/** One thing wrong with a body, at a path (`(root)` for the whole body). */
export interface BodyIssue {
  path: string;
  message: string;
}

/** Why a body was refused, in the order the checks run; each caller words its own answer. */
export type BodyFailure =
  | { kind: 'oversized'; bytes: number; maxBytes: number }
  | { kind: 'not-json'; message: string }
  /** Nested too deep, or a `__proto__` field (shared/requests/jsonInspection.ts). */
  | { kind: 'structure'; issues: BodyIssue[] }
  | { kind: 'schema'; issues: BodyIssue[] };

export type BodyResult<T> = { ok: true; value: T } | { ok: false; failure: BodyFailure };

export interface BodyRules<S extends z.ZodType> {
  schema: S;
  /** A body of more UTF-8 bytes than this is refused before it is parsed. */
  maxBytes?: number | undefined;
  /**
   * A blank body is handed to the schema as `undefined` (the schema decides whether that is
   * allowed) instead of being refused as not JSON.
   */
  blankIsAbsent?: boolean | undefined;
}

/**
 * The one reader of a JSON body that came from outside (an HTTP body, a Telegram update): hostile
 * until checked, so in this order: its size, that it is JSON, its structure (bounded depth, no
 * `__proto__`, checked before the schema walks it), then the schema. Never throws for bad input.
 */
export function parseJsonBody<S extends z.ZodType>(
  text: string,
  rules: BodyRules<S>,
): BodyResult<z.output<S>> {
  if (rules.maxBytes !== undefined) {
    const bytes = Buffer.byteLength(text);
    if (bytes > rules.maxBytes) return refused({ kind: 'oversized', bytes, maxBytes: rules.maxBytes });
  }
  let body: unknown;
  if (!(rules.blankIsAbsent && !text.trim())) {
    try {
      body = JSON.parse(text);
    } catch (error) {
      return refused({ kind: 'not-json', message: (error as Error).message });
    }
    const structural = inspectJson(body);
    if (structural.length > 0) {
      return refused({
        kind: 'structure',
        issues: structural.map(({ path, message }) => ({ path, message })),
      });
    }
  }
  const parsed = rules.schema.safeParse(body);
  if (!parsed.success) {
    return refused({
      kind: 'schema',
      issues: parsed.error.issues.map((issue) => ({
        path: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
    });
  }
  return { ok: true, value: parsed.data };
}

function refused(failure: BodyFailure): { ok: false; failure: BodyFailure } {
  return { ok: false, failure };
}
