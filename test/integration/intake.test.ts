import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { IntakeService, type IntakeMessage } from '../../shared/intake/intakeService.js';
import { RequestStore } from '../../shared/storage/requestStore.js';
import { RejectedMessageStore } from '../../shared/storage/rejectedMessageStore.js';
import { createLogger } from '../../shared/logger.js';
import { storageOn } from '../support/brokerStorage.js';
import { aRequest } from '../support/requests.js';
import { stagedSecretUri } from '../../shared/intake/stagedSecrets.js';
import { rotationRequestId, sasRequestId } from '../../shared/sweeps/sweepPlanner.js';
import { validateLifecycleRequest } from '../../shared/requests/parseLifecycleRequest.js';

let azurite: RunningAzurite;
let requests: RequestStore;
let rejected: RejectedMessageStore;
const wakes: { slug: string; requestId: string }[] = [];
let intake: IntakeService;
let sequence = 0;

const BROKER_VAULT = 'https://kv-clawbrk-test.vault.azure.net/';

const quiet = createLogger({ log: () => undefined, warn: () => undefined, error: () => undefined });

function message(body: unknown, overrides: Partial<IntakeMessage> = {}): IntakeMessage {
  sequence += 1;
  return {
    text: typeof body === 'string' ? body : JSON.stringify(body),
    messageId: `msg-${sequence}`,
    dequeueCount: 1,
    receivedAt: new Date(Date.UTC(2026, 10, 22, 8, 0, sequence)).toISOString(),
    ...overrides,
  };
}

beforeAll(async () => {
  azurite = await startAzurite();
  const { storage } = storageOn(azurite.connectionString);
  requests = new RequestStore(storage);
  rejected = new RejectedMessageStore(storage);
  intake = new IntakeService({
    requests,
    rejected,
    maxMessageBytes: 4_096,
    stagingVaultUri: BROKER_VAULT,
    logger: quiet,
    runner: { wake: async (slug, requestId) => void wakes.push({ slug, requestId }) },
  });
});

afterAll(async () => {
  await azurite.stop();
});

describe('the intake, against Azure Storage (Azurite)', () => {
  it('admits a valid request: recorded as queued, placed in its slug queue, and its runner woken', async () => {
    const outcome = await intake.process(message(aRequest({ requestId: 'valid-1', slug: 'valid' })));
    expect(outcome).toEqual({ kind: 'admitted', requestId: 'valid-1', slug: 'valid' });
    expect(await requests.get('valid-1')).toMatchObject({
      status: 'queued',
      op: 'provision',
      slug: 'valid',
      admitted: true,
    });
    expect(await requests.queued('valid')).toEqual(['valid-1']);
    expect(wakes).toContainEqual({ slug: 'valid', requestId: 'valid-1' });
  });

  it('runs the same requestId once: a duplicate is recognised and not queued again', async () => {
    await intake.process(message(aRequest({ requestId: 'dup-1', slug: 'dup' })));
    const again = await intake.process(
      message(aRequest({ requestId: 'dup-1', slug: 'dup', requestedAt: '2026-11-22T09:00:00Z' })),
    );
    expect(again).toEqual({ kind: 'duplicate', requestId: 'dup-1', status: 'queued' });
    expect(await requests.queued('dup')).toEqual(['dup-1']);
  });

  it('refuses a different request under a used requestId, keeps the first, and records the second with its reason', async () => {
    await intake.process(message(aRequest({ requestId: 'conflict-1', slug: 'conflict' })));
    const second = message(aRequest({ requestId: 'conflict-1', slug: 'conflict', op: 'teardown' }));
    const outcome = await intake.process(second);
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'RequestIdConflict' });
    expect(await requests.get('conflict-1')).toMatchObject({ op: 'provision', status: 'queued' });
    const kept = (await rejected.list()).find((item) => item.messageId === second.messageId);
    expect(kept).toMatchObject({ code: 'RequestIdConflict', requestId: 'conflict-1' });
    expect((await rejected.get(kept!.id))?.originalText).toBe(second.text);
  });

  it.each([
    ['not JSON', '{"op": "provision", ', 'RequestInvalidJson'],
    ['an unknown op', aRequest({ requestId: 'bad-op', op: 'reboot' }), 'RequestUnknownOperation'],
    ['a schema violation', aRequest({ requestId: 'bad-slug', slug: 'Not A Slug' }), 'RequestSchemaViolation'],
    [
      'an unsupported version',
      aRequest({ requestId: 'bad-version', schemaVersion: 9 }),
      'RequestUnsupportedVersion',
    ],
    [
      'an oversized message',
      aRequest({ requestId: 'too-big', params: { owners: ['x'.repeat(5_000)] } }),
      'RequestOversized',
    ],
  ])(
    'keeps %s with its reason and original text, and never throws it back to the queue',
    async (_label, body, code) => {
      const bad = message(body);
      const outcome = await intake.process(bad);
      expect(outcome).toMatchObject({ kind: 'rejected', code });
      const kept = (await rejected.list()).find((item) => item.messageId === bad.messageId);
      expect(kept?.code).toBe(code);
      expect(kept?.reason.length).toBeGreaterThan(10);
      expect((await rejected.get(kept!.id))?.originalText).toBe(bad.text);
    },
  );

  it('answers "rejected" with the reason for a rejected message that carried a readable requestId', async () => {
    await intake.process(message(aRequest({ requestId: 'rejected-status', slug: 'UPPER' })));
    expect(await requests.get('rejected-status')).toMatchObject({
      status: 'rejected',
      errorCode: 'RequestSchemaViolation',
    });
  });

  it('records a message from the poison queue as failed processing, keeping its text', async () => {
    const poisoned = message(aRequest({ requestId: 'poisoned-1' }), { dequeueCount: 5 });
    const outcome = await intake.recordPoison(poisoned);
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'RequestProcessingFailed' });
    const kept = (await rejected.list()).find((item) => item.messageId === poisoned.messageId);
    expect(kept).toMatchObject({ source: 'poison', dequeueCount: 5 });
  });

  it('records the same rejected message once when it is processed twice', async () => {
    const bad = message('garbage');
    await intake.process(bad);
    await intake.process(bad);
    expect(
      (await rejected.list({ limit: 1000 })).filter((item) => item.messageId === bad.messageId),
    ).toHaveLength(1);
  });

  it("keeps a slug's requests in acceptance order, whatever order concurrent intakes finish in", async () => {
    const messages = Array.from({ length: 12 }, (_, n) =>
      message(aRequest({ requestId: `order-${String(n).padStart(2, '0')}`, slug: 'ordered' })),
    );
    await Promise.all([...messages].reverse().map((m) => intake.process(m)));
    expect(await requests.queued('ordered')).toEqual(
      messages.map((_, n) => `order-${String(n).padStart(2, '0')}`),
    );
  });

  it('admits concurrent deliveries of one message exactly once', async () => {
    const m = message(aRequest({ requestId: 'race-1', slug: 'race' }));
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => intake.process({ ...m })));
    expect(outcomes.every((o) => o.kind === 'admitted' || o.kind === 'duplicate')).toBe(true);
    expect(await requests.queued('race')).toEqual(['race-1']);
  });

  it('drops a finished request from the head of its slug queue', async () => {
    await intake.process(message(aRequest({ requestId: 'head-1', slug: 'head' })));
    await intake.process(message(aRequest({ requestId: 'head-2', slug: 'head' })));
    expect((await requests.head('head'))?.requestId).toBe('head-1');
    await requests.update('head-1', { status: 'succeeded' });
    expect((await requests.head('head'))?.requestId).toBe('head-2');
    expect(await requests.queued('head')).toEqual(['head-2']);
  });

  describe('secret references (security finding 1 and 2)', () => {
    const provision = (requestId: string, secretRef: string) =>
      aRequest({
        requestId,
        op: 'provision',
        slug: 'thief',
        params: { channels: ['telegram'], telegramBotToken: { secretRef } },
      });

    it.each([
      ['another slug’s vault', 'https://kv-victim-abcde1.vault.azure.net/secrets/gateway-token'],
      ['the broker’s own bot token', `${BROKER_VAULT}secrets/telegram-bot-token`],
      ['another request’s staged secret', stagedSecretUri(BROKER_VAULT, 'someone-else', 'telegramBotToken')],
      ['an arbitrary host', 'https://attacker.example/secrets/x'],
      [
        'the right name on another host',
        stagedSecretUri('https://evil.vault.azure.net/', 'steal-5', 'telegramBotToken'),
      ],
    ])('refuses a reference to %s before anything runs, with the reason', async (_, ref) => {
      const requestId = `steal-${sequence + 1}`;
      const outcome = await intake.process(message(provision(requestId, ref)));
      expect(outcome).toMatchObject({ kind: 'rejected', code: 'SecretReferenceRefused' });
      expect(outcome.kind === 'rejected' && outcome.reason).toContain('params.telegramBotToken.secretRef');
      expect(await requests.get(requestId)).toMatchObject({
        status: 'rejected',
        errorCode: 'SecretReferenceRefused',
      });
      expect(await requests.queued('thief')).toEqual([]);
    });

    it('admits a reference to the secret staged for this very request (with or without a version)', async () => {
      const own = stagedSecretUri(BROKER_VAULT, 'own-ref-1', 'telegramBotToken');
      expect(await intake.process(message(provision('own-ref-1', own)))).toMatchObject({ kind: 'admitted' });
      const versioned = `${stagedSecretUri(BROKER_VAULT, 'own-ref-2', 'telegramBotToken')}/${'a'.repeat(32)}`;
      expect(await intake.process(message(provision('own-ref-2', versioned)))).toMatchObject({
        kind: 'admitted',
      });
    });
  });

  describe("the sweeps' request ids (security finding 6)", () => {
    const record = (slug: string) =>
      ({ slug, incarnation: 1, maintenance: {}, sasExpiresAt: undefined }) as unknown as Parameters<
        typeof sasRequestId
      >[0];

    it('cannot be occupied in advance by an invalid message: no record is left under the id, and the sweep still runs', async () => {
      const requestId = sasRequestId(record('victim'));
      const bad = await intake.process(
        message({ schemaVersion: 1, requestId, op: 'renew-sas', slug: 'victim', params: { x: 1 } }),
      );
      expect(bad).toMatchObject({ kind: 'rejected', code: 'RequestSchemaViolation' });
      expect(await requests.get(requestId)).toBeUndefined();
    });

    it('cannot be taken by a valid message from outside the broker', async () => {
      const requestId = rotationRequestId('victim', new Date('2026-12-02T00:00:00Z'));
      const forged = aRequest({
        requestId,
        op: 'rotate-secrets',
        slug: 'victim',
        params: { secrets: ['storage-key'] },
      });
      expect(await intake.process(message(forged))).toMatchObject({
        kind: 'rejected',
        code: 'RequestIdReserved',
      });
      expect(await requests.get(requestId)).toBeUndefined();
      expect(await requests.queued('victim')).toEqual([]);
    });

    it('is admitted when the broker recorded that very request before queueing it (as the sweeps do)', async () => {
      const requestId = rotationRequestId('swept', new Date('2026-12-02T00:00:00Z'));
      const parsed = validateLifecycleRequest(
        aRequest({ requestId, op: 'rotate-secrets', slug: 'swept', params: {} }),
      );
      if (!parsed.ok) throw new Error(parsed.reason);
      await requests.record(parsed.request, new Date().toISOString(), { origin: 'broker' });
      expect(await intake.process(message(parsed.request))).toMatchObject({ kind: 'admitted' });
      // The same id with other content is still refused.
      const other = aRequest({
        requestId,
        op: 'rotate-secrets',
        slug: 'swept',
        params: { secrets: ['gateway-token'] },
      });
      expect(await intake.process(message(other))).toMatchObject({
        kind: 'rejected',
        code: 'RequestIdReserved',
      });
    });

    it('a rejected placeholder left under an id (by older code, or any invalid message) does not block a valid request', async () => {
      await intake.process(
        message({
          schemaVersion: 1,
          requestId: 'claimed-1',
          op: 'renew-sas',
          slug: 'claimed',
          params: { x: 1 },
        }),
      );
      expect(await requests.get('claimed-1')).toMatchObject({ status: 'rejected' });
      expect(
        await intake.process(message(aRequest({ requestId: 'claimed-1', slug: 'claimed' }))),
      ).toMatchObject({
        kind: 'admitted',
      });
      expect(await requests.get('claimed-1')).toMatchObject({ status: 'queued', admitted: true });
    });
  });
});
