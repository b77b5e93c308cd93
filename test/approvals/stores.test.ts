import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import type { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { AuditTrail } from '../../shared/storage/auditTrail.js';
import { NONCE_PATTERN, NonceStore } from '../../shared/storage/nonceStore.js';
import { SeenUpdateStore } from '../../shared/storage/seenUpdateStore.js';
import { storageOn } from '../support/brokerStorage.js';

/** The approval stores against Azurite, with a clock the test moves. */
let azurite: RunningAzurite;
let storage: BrokerStorage;
let now = Date.parse('2026-11-22T08:00:00Z');
const clock = () => new Date(now);

beforeAll(async () => {
  azurite = await startAzurite();
  storage = storageOn(azurite.connectionString).storage;
});

afterAll(async () => {
  await azurite?.stop();
});

const target = { kind: 'approval' as const, requestId: 'req-1', action: 'approve' as const };

describe('button nonces', () => {
  it('are random, opaque and short enough for callback_data', async () => {
    const nonces = new NonceStore(storage, clock);
    const made = await Promise.all(
      Array.from({ length: 20 }, () => nonces.mint(target, '2026-11-23T08:00:00.000Z')),
    );
    expect(new Set(made).size).toBe(20);
    for (const nonce of made) {
      expect(nonce).toMatch(NONCE_PATTERN);
      expect(Buffer.byteLength(nonce)).toBeLessThanOrEqual(64);
      expect(nonce).not.toContain('req-1');
    }
  });

  it('is valid until its expiry and expired from then on, without being used up by the look', async () => {
    const nonces = new NonceStore(storage, clock);
    const nonce = await nonces.mint(target, new Date(now + 60_000).toISOString());
    expect((await nonces.lookup(nonce)).kind).toBe('valid');
    now += 60_000;
    const expired = await nonces.lookup(nonce);
    expect(expired.kind).toBe('expired');
    expect(expired.kind === 'expired' && expired.record.usedAt).toBeUndefined();
  });

  it('is consumed once: of two consumers holding the same look-up, only the first wins', async () => {
    const nonces = new NonceStore(storage, clock);
    const nonce = await nonces.mint(target, new Date(now + 60_000).toISOString());
    const looked = await nonces.lookup(nonce);
    if (looked.kind !== 'valid') throw new Error('expected a valid nonce');
    const [first, second] = await Promise.all([
      nonces.consume(looked.record, 'telegram:1001'),
      nonces.consume(looked.record, 'telegram:1002'),
    ]);
    expect([first, second].sort()).toEqual([false, true]);
    const after = await nonces.lookup(nonce);
    expect(after.kind).toBe('used');
    expect(after.kind === 'used' && after.record.usedBy).toMatch(/^telegram:100[12]$/);
  });

  it('uses up both buttons of a pair when either is pressed, and lets only one of two racing presses win', async () => {
    const nonces = new NonceStore(storage, clock);
    const expiresAt = new Date(now + 60_000).toISOString();
    const [approve, reject] = await nonces.mintPair(target, { ...target, action: 'reject' }, expiresAt);
    const looked = await nonces.lookup(approve);
    if (looked.kind !== 'valid') throw new Error('expected a valid nonce');
    expect(await nonces.consume(looked.record, 'telegram:1001')).toBe(true);
    const other = await nonces.lookup(reject);
    expect(other.kind).toBe('used');
    expect(other.kind === 'used' && other.record.usedBy).toBe('telegram:1001');

    const [a, r] = await nonces.mintPair(target, { ...target, action: 'reject' }, expiresAt);
    const [lookedA, lookedR] = await Promise.all([nonces.lookup(a), nonces.lookup(r)]);
    if (lookedA.kind !== 'valid' || lookedR.kind !== 'valid') throw new Error('expected valid nonces');
    const won = await Promise.all([
      nonces.consume(lookedA.record, 'telegram:1001'),
      nonces.consume(lookedR.record, 'telegram:1002'),
    ]);
    expect(won.sort()).toEqual([false, true]);
  });

  it('knows nothing of data it did not make', async () => {
    const nonces = new NonceStore(storage, clock);
    expect((await nonces.lookup('approve:req-1')).kind).toBe('unknown');
    expect((await nonces.lookup('A'.repeat(24))).kind).toBe('unknown');
  });
});

describe('seen Telegram updates', () => {
  it('lets the first claim of an update id win, and a released claim be taken again', async () => {
    const seen = new SeenUpdateStore(storage, clock);
    expect(await seen.claim(42)).toBe(true);
    expect(await seen.claim(42)).toBe(false);
    await seen.release(42);
    expect(await seen.claim(42)).toBe(true);
  });
});

describe('the audit trail', () => {
  it('lists newest first, filters by request, and strips control characters and credential-looking text', async () => {
    const audit = new AuditTrail(storage, clock);
    await audit.add({
      channel: 'api',
      actor: 'operator:bob',
      action: 'approve',
      outcome: 'approved',
      requestId: 'r-a',
    });
    now += 1_000;
    await audit.add({
      channel: 'telegram',
      actor: 'telegram:2001',
      actorName: 'Eve\nFAKE LINE 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1',
      action: 'button',
      outcome: 'refused',
      requestId: 'r-b',
      reason: 'not an approver',
    });
    const all = await audit.list();
    expect(all.map((entry) => entry.requestId)).toEqual(['r-b', 'r-a']);
    expect(all[0]!.actorName).toBe('Eve FAKE LINE [redacted]');
    expect((await audit.list({ requestId: 'r-a' })).map((entry) => entry.actor)).toEqual(['operator:bob']);
  });
});
