import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJsonBody } from '../../shared/requests/jsonBody.js';
import { nestedText } from '../support/hostileInputs.js';

const reason = z.object({ reason: z.string().max(200).optional() }).strict();

describe('the one body reader', () => {
  it('checks size, then JSON, then structure, then the schema', () => {
    expect(parseJsonBody('{"reason":"x"}', { schema: reason, maxBytes: 5 })).toEqual({
      ok: false,
      failure: { kind: 'oversized', bytes: 14, maxBytes: 5 },
    });
    expect(parseJsonBody('{"reason":', { schema: reason })).toEqual({
      ok: false,
      failure: { kind: 'not-json', message: expect.any(String) as string },
    });
    expect(parseJsonBody('{"__proto__":{"reason":"x"}}', { schema: reason })).toEqual({
      ok: false,
      failure: {
        kind: 'structure',
        issues: [{ path: '__proto__', message: expect.stringContaining('__proto__') as string }],
      },
    });
    expect(parseJsonBody(nestedText(100, 'object'), { schema: z.unknown() })).toMatchObject({
      ok: false,
      failure: { kind: 'structure' },
    });
    expect(parseJsonBody('{"reason":1,"extra":true}', { schema: reason })).toEqual({
      ok: false,
      failure: {
        kind: 'schema',
        issues: [
          { path: 'reason', message: expect.any(String) as string },
          { path: '(root)', message: expect.stringContaining('extra') as string },
        ],
      },
    });
    expect(parseJsonBody('{"reason":"ok"}', { schema: reason, maxBytes: 15 })).toEqual({
      ok: true,
      value: { reason: 'ok' },
    });
  });

  it('counts UTF-8 bytes, not characters', () => {
    const text = JSON.stringify({ reason: 'é'.repeat(10) });
    expect(parseJsonBody(text, { schema: reason, maxBytes: text.length })).toMatchObject({
      ok: false,
      failure: { kind: 'oversized', bytes: text.length + 10 },
    });
  });

  it('hands a blank body to the schema as undefined only when asked', () => {
    expect(parseJsonBody('  ', { schema: reason.optional(), blankIsAbsent: true })).toEqual({
      ok: true,
      value: undefined,
    });
    expect(parseJsonBody('', { schema: reason, blankIsAbsent: true })).toMatchObject({
      ok: false,
      failure: { kind: 'schema' },
    });
    expect(parseJsonBody('', { schema: reason.optional() })).toMatchObject({
      ok: false,
      failure: { kind: 'not-json' },
    });
  });
});
