import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QUEUE_MAX_DEQUEUE_COUNT } from '../../shared/intake/intakeService.js';
import { inspectJson, MAX_JSON_DEPTH, stringifyJson } from '../../shared/requests/jsonInspection.js';
import { parseLifecycleRequest } from '../../shared/requests/parseLifecycleRequest.js';
import { containsRawSecret, redactRawSecrets, REDACTED } from '../../shared/requests/rawSecrets.js';
import { aRequest } from '../support/requests.js';
import { FAKE_BOT_TOKEN as TOKEN, nestedText } from '../support/hostileInputs.js';

describe('the bounded JSON walk', () => {
  it.each([2_000, 4_000, 12_000, 100_000])(
    'refuses %i nested levels by name, without overflowing the stack',
    (levels) => {
      for (const kind of ['array', 'object'] as const) {
        const value = JSON.parse(nestedText(levels, kind)) as unknown;
        expect(inspectJson(value)).toEqual([
          expect.objectContaining({
            kind: 'too-deep',
            message: expect.stringContaining('deeper than 32 levels'),
          }),
        ]);
        expect(stringifyJson(value)).toBe(nestedText(levels, kind));
      }
    },
  );

  it('accepts exactly 32 levels and refuses 33', () => {
    expect(inspectJson(JSON.parse(nestedText(MAX_JSON_DEPTH)))).toEqual([]);
    expect(inspectJson(JSON.parse(nestedText(MAX_JSON_DEPTH + 1)))).toHaveLength(1);
  });

  it('finds a __proto__ field and raw secrets in values and keys, with their paths', () => {
    const value = JSON.parse(
      `{"params":{"__proto__":{"x":1},"reason":"token is ${TOKEN}","list":[{"${TOKEN}":1}]}}`,
    ) as unknown;
    expect(inspectJson(value, { rawSecrets: true }).map(({ kind, path }) => `${kind} ${path}`)).toEqual([
      'forbidden-key params.__proto__',
      'raw-secret params.reason',
      'raw-secret params.list.0.(a key)',
    ]);
  });

  it('reports at most 20 findings however many there are', () => {
    const value = { params: { owners: Array.from({ length: 500 }, () => TOKEN) } };
    expect(inspectJson(value, { rawSecrets: true })).toHaveLength(20);
  });

  it('serialises parsed JSON exactly as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stringifyJson(value)).toBe(JSON.stringify(value));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('the raw-secret detector', () => {
  it('finds a bot token inside a longer text and masks every one', () => {
    expect(containsRawSecret(`my token: ${TOKEN}.`)).toBe(true);
    expect(redactRawSecrets(`a ${TOKEN} b ${TOKEN}`)).toEqual({
      text: `a ${REDACTED} b ${REDACTED}`,
      masked: 2,
    });
    expect(containsRawSecret(REDACTED)).toBe(false);
  });

  it('leaves ordinary text alone', () => {
    expect(
      containsRawSecret('https://kv-claw-broker.vault.azure.net/secrets/staged-abc-telegram-bot-token'),
    ).toBe(false);
    expect(containsRawSecret('sas:acme:3:none:0')).toBe(false);
  });

  it('stays linear on a long run of digits (no retry from every position)', () => {
    // 48 KB of digits followed by a colon and too short a tail: quadratic backtracking would take minutes.
    expect(containsRawSecret(`${'1'.repeat(48_000)}:short`)).toBe(false);
  });

  it('leaves no match behind after masking, whatever the text', () => {
    const pieces = fc.oneof(
      fc.constantFrom(TOKEN, '12345', ':', 'A'.repeat(31), '-', '_', ' '),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 12 }), (parts) => {
        expect(containsRawSecret(redactRawSecrets(parts.join('')).text)).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('the lifecycle request parser on hostile structure', () => {
  it('refuses a raw secret anywhere in the message, requestId included, not only in params', () => {
    const result = parseLifecycleRequest(JSON.stringify(aRequest({ requestId: TOKEN.slice(0, 64) })), 4_096);
    expect(result).toMatchObject({ ok: false, code: 'RequestSchemaViolation' });
    expect(!result.ok && result.issues).toContainEqual(expect.objectContaining({ path: 'requestId' }));
  });

  it('refuses __proto__ with a reason that names it', () => {
    const text = JSON.stringify(aRequest({ params: { channels: ['telegram'] } })).replace(
      '"params":{',
      '"params":{"__proto__":{"owners":["x"]},',
    );
    const result = parseLifecycleRequest(text, 4_096);
    expect(result).toMatchObject({ ok: false, code: 'RequestSchemaViolation' });
    expect(!result.ok && result.reason).toContain(
      'params.__proto__: a field named "__proto__" is not accepted',
    );
  });
});

describe('the poison handler delivery count', () => {
  it('is the host.json maxDequeueCount the host moves a message to the poison queue after', () => {
    const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
      extensions: { queues: { maxDequeueCount: number } };
    };
    expect(QUEUE_MAX_DEQUEUE_COUNT).toBe(hostJson.extensions.queues.maxDequeueCount);
  });
});
