import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLifecycleRequest } from '../../shared/requests/parseLifecycleRequest.js';
import { JSON_SCHEMA_PATH, renderJsonSchema } from '../../shared/requests/writeJsonSchema.js';
import { aRequest } from '../support/requests.js';

const MAX = 49_152;

function parse(value: unknown) {
  return parseLifecycleRequest(typeof value === 'string' ? value : JSON.stringify(value), MAX);
}

describe('lifecycle request v1', () => {
  it('accepts each operation with its params and fills params defaults', () => {
    const provision = parse(aRequest({ params: { channels: ['telegram', 'teams'] } }));
    expect(provision.ok && provision.request.op === 'provision' && provision.request.params.channels).toEqual(
      ['telegram', 'teams'],
    );
    const defaults = parse(aRequest({ params: undefined }));
    expect(defaults.ok && defaults.request.params).toMatchObject({
      channels: ['telegram'],
      allowedIdentities: [],
    });
    expect(parse(aRequest({ op: 'rotate-secrets', params: { secrets: ['gateway-token'] } })).ok).toBe(true);
    expect(parse(aRequest({ op: 'renew-sas' })).ok).toBe(true);
    expect(parse(aRequest({ op: 'upgrade', params: { targetVersion: '2026.9.6' } })).ok).toBe(true);
    expect(
      parse(aRequest({ op: 'teardown', params: { purgeKeyVault: true, reason: 'customer left' } })).ok,
    ).toBe(true);
  });

  it('names an oversized message with its size and the limit', () => {
    const result = parseLifecycleRequest('x'.repeat(MAX + 1), MAX);
    expect(result).toMatchObject({
      ok: false,
      code: 'RequestOversized',
      reason: `message is ${MAX + 1} bytes; the limit is ${MAX}`,
    });
  });

  it('names a message that is not JSON', () => {
    expect(parse('{"op": "provision",')).toMatchObject({ ok: false, code: 'RequestInvalidJson' });
    expect(parse('not json')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('message is not valid JSON'),
    });
  });

  it('names an unknown operation and lists the known ones', () => {
    expect(parse(aRequest({ op: 'reboot' }))).toMatchObject({
      ok: false,
      code: 'RequestUnknownOperation',
      reason:
        'op "reboot" is not a lifecycle operation; expected one of provision, rotate-secrets, renew-sas, upgrade, teardown',
    });
  });

  it('names an unsupported schema version', () => {
    expect(parse(aRequest({ schemaVersion: 2 }))).toMatchObject({
      ok: false,
      code: 'RequestUnsupportedVersion',
    });
    expect(parse(aRequest({ schemaVersion: undefined }))).toMatchObject({
      ok: false,
      code: 'RequestUnsupportedVersion',
    });
  });

  it('reports each schema violation with its path', () => {
    const result = parse(
      aRequest({ slug: 'Acme!', requestId: 'has/slash', params: { channels: ['sms'] }, extra: 1 }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('RequestSchemaViolation');
    const paths = result.issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['slug', 'requestId', 'params.channels.0', '(root)']));
    expect(result.issues.find((i) => i.path === 'slug')?.message).toContain('lowercase');
    expect(result.issues.find((i) => i.path === '(root)')?.message).toBe('unknown field(s) extra');
  });

  it('refuses params that belong to another operation', () => {
    const result = parse(aRequest({ op: 'renew-sas', params: { channels: ['telegram'] } }));
    expect(result).toMatchObject({ ok: false, code: 'RequestSchemaViolation' });
  });

  it('refuses a raw secret anywhere in params, without needing to know the field', () => {
    const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1';
    const asValue = parse(aRequest({ params: { telegramBotToken: token } }));
    expect(asValue.ok).toBe(false);
    expect(
      !asValue.ok && asValue.issues.some((i) => i.message.includes('looks like a raw secret value')),
    ).toBe(true);
    const asRef = parse(
      aRequest({
        params: {
          telegramBotToken: {
            secretRef: 'https://kv-claw-broker.vault.azure.net/secrets/staged-req-0001-telegram',
          },
        },
      }),
    );
    expect(asRef.ok).toBe(true);
  });

  it('publishes a JSON Schema that is up to date with the code (run npm run schema after a change)', () => {
    expect(readFileSync(JSON_SCHEMA_PATH, 'utf8')).toBe(renderJsonSchema());
    const schema = JSON.parse(renderJsonSchema()) as { oneOf: { properties: { op: { const: string } } }[] };
    expect(schema.oneOf.map((variant) => variant.properties.op.const)).toEqual([
      'provision',
      'rotate-secrets',
      'renew-sas',
      'upgrade',
      'teardown',
    ]);
  });
});
