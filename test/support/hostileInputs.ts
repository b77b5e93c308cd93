import fc from 'fast-check';
import { LIFECYCLE_OPS } from '../../shared/requests/lifecycleRequest.js';
import { aRequest } from './requests.js';

/** Shaped like a Telegram bot token (what the raw-secret detector looks for); not a real one. */
export const FAKE_BOT_TOKEN = '7000000077:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

/** `levels` nested arrays (or objects), as text: `[[[...]]]`. */
export function nestedText(levels: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array'
    ? `${'['.repeat(levels)}${']'.repeat(levels)}`
    : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

/** A request whose params.reason is nested `levels` deep; its requestId stays readable. */
export function deepRequestText(requestId: string, levels: number): string {
  return JSON.stringify(aRequest({ requestId, op: 'teardown', params: { reason: '@' } })).replace(
    '"@"',
    nestedText(levels),
  );
}

/** JSON text with `"__proto__"` as a field name (JSON.stringify cannot write one from an object literal). */
function withProtoKey(json: string, where: '{' | '"params":{'): string {
  const at = json.indexOf(where) + where.length;
  const proto = '"__proto__":{"owners":["mallory"]}';
  return `${json.slice(0, at)}${proto}${json[at] === '}' ? '' : ','}${json.slice(at)}`;
}

export interface HostileInput {
  label: string;
  /** The text as it is sent (queue message text, HTTP body or Telegram update). */
  text: string;
  /** True when nothing in it must be accepted. */
  malformed: boolean;
}

/**
 * Every malformed shape of a queue message the issue names, each with a readable requestId where
 * the shape allows one (`<prefix>-<n>`), plus one valid request.
 */
export function hostileQueueMessages(prefix: string): HostileInput[] {
  const id = (name: string) => `${prefix}-${name}`;
  const request = (name: string, overrides: Record<string, unknown> = {}) =>
    JSON.stringify(
      aRequest({ requestId: id(name), op: 'renew-sas', slug: 'flood', params: {}, ...overrides }),
    );
  const bad = (label: string, text: string): HostileInput => ({ label, text, malformed: true });
  return [
    bad('not JSON', 'definitely { not json'),
    bad('empty', ''),
    bad('JSON but not an object', '[1,2,3]'),
    bad('a JSON string', '"provision acme"'),
    bad('null', 'null'),
    ...[2_000, 4_000, 12_000].flatMap((levels) => [
      bad(`${levels} nested arrays`, nestedText(levels)),
      bad(`${levels} nested levels inside params`, deepRequestText(id(`deep${levels}`), levels)),
    ]),
    bad('4,000 nested objects', nestedText(4_000, 'object')),
    bad('huge (60 KB)', 'x'.repeat(60_000)),
    bad(
      'huge valid-looking request',
      request('huge', { op: 'provision', params: { owners: ['o'.repeat(50_000)] } }),
    ),
    bad(
      'binary',
      Buffer.from(Array.from({ length: 256 }, (_, n) => n).filter((n) => n >= 0x20)).toString('latin1'),
    ),
    bad('base64 of a request', Buffer.from(request('b64')).toString('base64')),
    bad('__proto__ at the top', withProtoKey(request('proto-top'), '{')),
    bad('__proto__ in params', withProtoKey(request('proto-params'), '"params":{')),
    bad('schemaVersion as a string', request('wrongtype1', { schemaVersion: '1' })),
    bad('params as an array', request('wrongtype2', { params: [] })),
    bad('slug as a number', request('wrongtype3', { slug: 42 })),
    bad('requestedBy as a string', request('wrongtype4', { requestedBy: 'alice' })),
    bad('unknown op', request('badop', { op: 'reboot' })),
    bad('bad slug', request('badslug', { slug: 'Not A Slug' })),
    bad(
      'raw secret in params.reason',
      request('secret1', { op: 'teardown', params: { reason: FAKE_BOT_TOKEN } }),
    ),
    bad(
      'raw secret inside a sentence',
      request('secret2', { op: 'teardown', params: { reason: `the token is ${FAKE_BOT_TOKEN}, sorry` } }),
    ),
    bad('raw secret as a key', request('secret3', { params: { [FAKE_BOT_TOKEN]: true } })),
    bad(
      'raw secret behind JSON escapes',
      request('secret4', { op: 'teardown', params: { reason: 'TOKEN' } }).replace(
        'TOKEN',
        [...FAKE_BOT_TOKEN].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
      ),
    ),
    bad('raw secret in a text that is not JSON', `please provision acme with ${FAKE_BOT_TOKEN}`),
    { label: 'a valid request', text: request('valid'), malformed: false },
  ];
}

/** The same shapes as HTTP bodies of POST /api/requests (the broker fills in the rest). */
export function hostileHttpBodies(prefix: string): HostileInput[] {
  const id = (name: string) => `${prefix}-${name}`;
  const body = (name: string, overrides: Record<string, unknown> = {}) =>
    JSON.stringify({ op: 'renew-sas', slug: 'flood', requestId: id(name), ...overrides });
  const bad = (label: string, text: string): HostileInput => ({ label, text, malformed: true });
  return [
    bad('not JSON', '{"op":'),
    bad('empty', ''),
    bad('JSON but not an object', '[1,2,3]'),
    bad('null', 'null'),
    ...[2_000, 4_000, 12_000].flatMap((levels) => [
      bad(`${levels} nested arrays`, nestedText(levels)),
      bad(
        `${levels} nested levels inside params`,
        body(`deep${levels}`, { params: { reason: '@' } }).replace('"@"', nestedText(levels)),
      ),
    ]),
    bad('huge (60 KB)', 'x'.repeat(60_000)),
    bad('binary', Buffer.from(Array.from({ length: 256 }, (_, n) => n)).toString('latin1')),
    bad('base64 of a body', Buffer.from(body('b64')).toString('base64')),
    bad('__proto__ at the top', withProtoKey(body('proto-top'), '{')),
    bad('__proto__ in params', withProtoKey(body('proto-params', { params: {} }), '"params":{')),
    bad('op as a number', body('wrongtype1', { op: 7 })),
    bad('params as an array', body('wrongtype2', { params: [] })),
    bad('secrets as a list', body('wrongtype3', { op: 'provision', secrets: ['x'] })),
    bad('unknown op', body('badop', { op: 'reboot' })),
    bad('bad slug', body('badslug', { slug: 'Not A Slug' })),
    bad(
      'raw secret in params.reason',
      body('secret1', { op: 'teardown', params: { reason: FAKE_BOT_TOKEN } }),
    ),
    bad('raw secret as the requestId', body('x', { requestId: FAKE_BOT_TOKEN })),
    { label: 'a valid request', text: body('valid'), malformed: false },
  ];
}

/** Malformed Telegram updates (sent with the right secret token: only the body is hostile). */
export function hostileTelegramUpdates(firstUpdateId: number): HostileInput[] {
  const bad = (label: string, text: string): HostileInput => ({ label, text, malformed: true });
  const update = (n: number, rest: Record<string, unknown>) =>
    JSON.stringify({ update_id: firstUpdateId + n, ...rest });
  return [
    bad('not JSON', '{"update_id":'),
    bad('empty', ''),
    bad('JSON but not an object', '[1,2,3]'),
    ...[2_000, 4_000, 12_000].flatMap((levels) => [
      bad(`${levels} nested arrays`, nestedText(levels)),
      bad(
        `${levels} nested levels inside a message`,
        update(levels, {
          message: { message_id: 1, chat: { id: -1001, type: 'group' }, entities: '@' },
        }).replace('"@"', nestedText(levels)),
      ),
    ]),
    bad('huge (70 KB)', 'x'.repeat(70_000)),
    bad('binary', Buffer.from(Array.from({ length: 256 }, (_, n) => n)).toString('latin1')),
    bad('base64 of an update', Buffer.from(update(1, {})).toString('base64')),
    bad('__proto__', withProtoKey(update(2, {}), '{')),
    bad('update_id as a string', JSON.stringify({ update_id: 'one' })),
    bad('negative update_id', JSON.stringify({ update_id: -5 })),
    bad('message without a chat', update(3, { message: { message_id: 1 } })),
    bad('callback_query without from', update(4, { callback_query: { id: 'q', data: 'approve:x' } })),
  ];
}

// ---- fast-check arbitraries: mostly hostile, sometimes valid ----

const tokenish = fc
  .tuple(fc.integer({ min: 10_000, max: 9_999_999_999 }), fc.stringMatching(/^[A-Za-z0-9_-]{30,40}$/))
  .map(([id, tail]) => `${id}:${tail}`);

/** Strings the detector, the schema and the stores care about, mixed with arbitrary ones. */
const interestingString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 2, arbitrary: tokenish },
  { weight: 1, arbitrary: tokenish.map((token) => `see ${token} here`) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString') },
  { weight: 1, arbitrary: fc.constantFrom(...LIFECYCLE_OPS, 'reboot', '') },
  { weight: 1, arbitrary: fc.constantFrom('acme', 'ACME', 'a', 'a--b', 'flood', 'x'.repeat(30)) },
);

const leaf = fc.oneof(interestingString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));

/** JSON values whose keys are interesting too (`__proto__`, tokens), a few levels deep. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(interestingString, tie('value'), { maxKeys: 4 }),
})).value;

/** JSON text of a value, with `"__proto__"` keys kept (fc.dictionary makes them own properties). */
function text(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/** Turns valid JSON text into a nested, huge, truncated, base64 or binary variant. */
const mangled = (json: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 6, arbitrary: json },
    { weight: 1, arbitrary: json.map((t) => t.slice(0, Math.max(0, t.length - 3))) },
    { weight: 1, arbitrary: json.map((t) => Buffer.from(t).toString('base64')) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          json,
          fc.constantFrom(33, 200, 2_000, 4_000, 12_000),
          fc.constantFrom<('array' | 'object')[]>('array', 'object'),
        )
        .map(([t, levels, kind]) =>
          t.replace(/("[^"\\]*"|\d+|true|false|null)(?=[,}\]]|$)/, nestedText(levels, kind)),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(70_000), '', ' ', 'null', '[]', '{}') },
  );

/** Queue messages: lifecycle requests with hostile fields, and worse. */
export function queueMessageArbitrary(requestIds: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const request = fc
    .record({
      schemaVersion: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: leaf }),
      requestId: fc.oneof({ weight: 5, arbitrary: requestIds }, { weight: 1, arbitrary: interestingString }),
      op: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...LIFECYCLE_OPS) },
        { weight: 1, arbitrary: leaf },
      ),
      slug: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('acme', 'fuzz', 'beta') },
        { weight: 1, arbitrary: interestingString },
      ),
      params: fc.oneof(
        { weight: 2, arbitrary: fc.constant({}) },
        { weight: 2, arbitrary: fc.record({ reason: interestingString }, { requiredKeys: [] }) },
        { weight: 2, arbitrary: hostileJson },
      ),
      requestedBy: fc.oneof(
        { weight: 5, arbitrary: fc.constant({ kind: 'operator', id: 'fuzz@example.com' }) },
        { weight: 1, arbitrary: hostileJson },
      ),
      requestedAt: fc.oneof(
        { weight: 5, arbitrary: fc.constant('2026-11-22T08:00:00Z') },
        { weight: 1, arbitrary: leaf },
      ),
      extra: fc.option(fc.tuple(interestingString, hostileJson), { freq: 8 }),
    })
    .map(({ extra, ...fields }) => (extra === null ? fields : { ...fields, [extra[0]]: extra[1] }));
  return mangled(request.map(text));
}

/** POST /api/requests bodies. */
export function httpBodyArbitrary(requestIds: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const body = fc.record(
    {
      op: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...LIFECYCLE_OPS) },
        { weight: 1, arbitrary: leaf },
      ),
      slug: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('acme', 'fuzz', 'beta') },
        { weight: 1, arbitrary: interestingString },
      ),
      requestId: fc.oneof({ weight: 5, arbitrary: requestIds }, { weight: 1, arbitrary: interestingString }),
      params: fc.oneof(
        fc.constant({}),
        fc.record({ reason: interestingString }, { requiredKeys: [] }),
        hostileJson,
      ),
      schemaVersion: fc.oneof(fc.constant(1), leaf),
    },
    { requiredKeys: ['op', 'slug', 'requestId'] },
  );
  return mangled(body.map(text));
}

const ADMIN_CHAT = -1001;
const PEOPLE = [1001, 1002, 2001, 42];

/** Telegram updates: messages and button presses, from admins and strangers, and malformed ones. */
export function telegramUpdateArbitrary(updateIds: fc.Arbitrary<number>): fc.Arbitrary<string> {
  const user = fc.record({
    id: fc.constantFrom(...PEOPLE),
    is_bot: fc.boolean(),
    first_name: interestingString,
  });
  const chat = fc.record({
    id: fc.constantFrom(ADMIN_CHAT, 42, 1001),
    type: fc.constantFrom('group', 'private'),
  });
  const commandText = fc.oneof(
    fc.constantFrom('/status', '/status acme', '/help', '/approve', '/start', 'hello'),
    interestingString,
    tokenish.map((token) => `/status ${token}`),
  );
  const message = fc.record(
    { message_id: fc.nat(), from: user, chat, date: fc.nat(), text: commandText },
    { requiredKeys: ['message_id', 'chat'] },
  );
  const callback = fc.record(
    { id: fc.string({ minLength: 1, maxLength: 16 }), from: user, message, data: interestingString },
    { requiredKeys: ['id', 'from'] },
  );
  const update = fc.record(
    {
      update_id: fc.oneof({ weight: 8, arbitrary: updateIds }, { weight: 1, arbitrary: leaf }),
      message: fc.oneof({ weight: 4, arbitrary: message }, { weight: 1, arbitrary: hostileJson }),
      callback_query: fc.oneof({ weight: 4, arbitrary: callback }, { weight: 1, arbitrary: hostileJson }),
      extra: hostileJson,
    },
    { requiredKeys: ['update_id'] },
  );
  return mangled(update.map(text));
}
