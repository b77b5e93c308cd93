import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { BrokerStorage, StorageNames } from '../../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { RequestStore } from '../../shared/storage/requestStore.js';
import { SweepControl } from '../../shared/sweeps/sweepControl.js';
import { runSweep } from '../../shared/sweeps/sweepRunner.js';
import { MaintenanceWorld } from '../rotation/maintenanceWorld.js';

/**
 * Ninety simulated days of routine maintenance driven only by the timer sweeps, for three slugs:
 * the rotation sweep (daily, 03:00) and the SAS sweep (every 12 hours) enqueue what is due, and the
 * broker does it. Policies are shortened so every secret comes due several times: gateway token
 * 20 days, storage key 25, Entra secret 40, bot token 60; SAS lifetime 7 days. Every twelve hours the
 * test looks at each slug from the outside: the app is up and ready, the gateway accepts the token
 * in Key Vault, the share and the stored storage key agree with a current account key, the app's
 * sign-in holds a client secret Entra knows, and the SAS has not expired (and, once a day, writes).
 */
let world: MaintenanceWorld;
const SLUGS = ['sw-a', 'sw-b', 'sw-c'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POLICY_DAYS = { 'gateway-token': 20, 'storage-key': 25, 'entra-client-secret': 40 } as const;
const PAUSE = { from: 31, to: 32 };
const OPT_OUT = { slug: 'sw-c', from: 55, to: 56 };

beforeAll(async () => {
  world = await MaintenanceWorld.start({
    durableInMemory: true,
    settings: {
      SAS_SWEEP_SCHEDULE: '0 0 */12 * * *',
      ROTATION_GATEWAY_TOKEN_MAX_AGE: '20d',
      ROTATION_STORAGE_KEY_MAX_AGE: '25d',
      ROTATION_ENTRA_SECRET_MAX_AGE: '40d',
      ROTATION_BOT_TOKEN_MAX_AGE: '60d',
    },
  });
  await world.provisionAll(SLUGS);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

/** Everything wrong with one slug right now, as sentences (empty when all is well). */
async function problemsOf(slug: string, writeLog: boolean): Promise<string[]> {
  const problems: string[] = [];
  const now = world.clock.now();
  const names = world.names(slug);
  const runtime = world.sim.containerApp(`ca-${slug}`);
  if (!runtime?.running) problems.push('the app is not running');
  const readiness = world.world.openclaw.readiness(`ca-${slug}`);
  if (!readiness?.ready) problems.push(`the gateway is not ready: ${readiness?.reasons.join(', ')}`);
  const token = world.secretVersions(slug, 'gateway-token').at(-1)!.value;
  if ((await world.gatewayRpcStatus(slug, token)) !== 200)
    problems.push('the gateway refuses the token in Key Vault');

  const account = [...world.sim.arm.resources.values()].find((r) => r.name === names.storageAccount)!;
  const keys = (account.hidden['keys'] as { value: string }[]).map((key) => key.value);
  const share = world.sim.arm.get(
    `/subscriptions/${world.sim.subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.App/managedEnvironments/${names.managedEnvironment}/storages/${names.environmentStorage}`,
  )!.hidden['accountKey'] as string;
  const storedKey = world.secretVersions(slug, 'storage-account-key').at(-1)!.value;
  if (!keys.includes(share)) problems.push('the share registration holds no current account key');
  if (share !== storedKey) problems.push('the share registration and the stored key differ');

  const entraSecret = world.secretVersions(slug, 'entra-client-secret').at(-1)!.value;
  const held = (
    (world.sim.arm.get(
      `/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-${slug}/providers/Microsoft.App/containerApps/ca-${slug}`,
    )?.hidden['secrets'] ?? []) as { name: string; value?: string }[]
  ).find((secret) => secret.name === 'microsoft-provider-authentication-secret')?.value;
  if (held !== entraSecret) problems.push("the app's sign-in does not hold the stored client secret");
  const appId = (
    world.world.graph.snapshot() as { applications: { displayName: string; appId: string }[] }
  ).applications.find((a) => a.displayName === `claw-${slug}`)!.appId;
  if (!world.world.graph.verifyClientSecret(appId, entraSecret, now))
    problems.push('Entra does not know the stored client secret');

  const environment = await world.environment(slug);
  for (const [kind, days] of Object.entries(POLICY_DAYS)) {
    const age = now - Date.parse(environment.secretAges[kind]!);
    // Due at the first daily sweep past the age; a paused or opted-out day can add one more.
    if (age > (days + 2) * DAY) problems.push(`${kind} is ${(age / DAY).toFixed(1)} days old`);
  }
  const sas = world.secretVersions(slug, 'log-shipping-sas').at(-1);
  if (now - start > 12 * HOUR) {
    if (!sas || !environment.sasExpiresAt) problems.push('no log-shipping SAS');
    else if (Date.parse(environment.sasExpiresAt) <= now) problems.push('the log-shipping SAS expired');
    else if (writeLog) {
      try {
        await new ContainerClient(sas.value).getBlockBlobClient(`gateway/${now}.jsonl`).upload('{}\n', 3);
      } catch (error) {
        problems.push(`the SAS cannot write: ${(error as { statusCode?: number }).statusCode}`);
      }
    }
  }
  return problems.map((problem) => `${slug} on day ${((now - start) / DAY).toFixed(2)}: ${problem}`);
}

let start = 0;

describe('ninety days of sweeps', () => {
  const problems: string[] = [];
  const pausedWindow = { from: 0, to: 0 };
  const optOutWindow = { from: 0, to: 0 };

  it('keep every secret within its policy and every SAS unexpired, with the app healthy throughout', async () => {
    start = world.clock.now();
    for (let step = 1; step <= 90 * 2; step++) {
      const day = step / 2;
      if (day === PAUSE.from) {
        expect((await world.world.api('POST', '/api/sweeps/pause', { reason: 'change freeze' })).status).toBe(
          200,
        );
        pausedWindow.from = world.clock.now();
      }
      if (day === PAUSE.to) {
        pausedWindow.to = world.clock.now();
        expect((await world.world.api('POST', '/api/sweeps/resume')).status).toBe(200);
      }
      if (day === OPT_OUT.from) {
        const answer = await world.world.api('POST', `/api/environments/${OPT_OUT.slug}/sweeps/opt-out`, {
          reason: 'customer migration',
        });
        expect(answer.body).toMatchObject({ slug: OPT_OUT.slug, optedOut: true });
        optOutWindow.from = world.clock.now();
      }
      if (day === OPT_OUT.to) {
        optOutWindow.to = world.clock.now();
        await world.world.api('POST', `/api/environments/${OPT_OUT.slug}/sweeps/opt-in`);
      }
      await world.advance(12 * HOUR);
      for (const slug of SLUGS) problems.push(...(await problemsOf(slug, step % 2 === 0)));
    }
    expect(problems).toEqual([]);
  }, 240_000);

  it('rotated every secret by policy, each rotation and renewal succeeding', async () => {
    const records = await world.requestRecords();
    const maintenance = records.filter(
      (record) => record.op === 'rotate-secrets' || record.op === 'renew-sas',
    );
    expect(maintenance.filter((record) => record.status !== 'succeeded')).toEqual([]);
    for (const slug of SLUGS) {
      const versions = (name: string) => world.secretVersions(slug, name).length;
      // Provisioning wrote one version of each; the sweeps added one per rotation.
      expect(versions('gateway-token'), slug).toBeGreaterThanOrEqual(1 + 4);
      expect(versions('storage-account-key'), slug).toBeGreaterThanOrEqual(1 + 3);
      expect(versions('entra-client-secret'), slug).toBeGreaterThanOrEqual(1 + 2);
      expect(versions('log-shipping-sas'), slug).toBeGreaterThanOrEqual(Math.floor(90 / (7 * 0.72)));
      const regenerations = world.regenerations.filter((r) => r.account === world.names(slug).storageAccount);
      expect(regenerations.length, slug).toBe(versions('storage-account-key') - 1);
      expect(
        regenerations.every((r) => !r.usedByShareRegistration && !r.usedByStoredSecret),
        slug,
      ).toBe(true);
    }
    const flags = world.adminMessages().filter((message) => message.text.includes('telegram-bot-token'));
    expect(flags).toHaveLength(SLUGS.length);
  });

  it('enqueued nothing while paused, and nothing for a slug while it opted out', async () => {
    const records = await world.requestRecords();
    const within = (at: string, window: { from: number; to: number }) =>
      Date.parse(at) > window.from && Date.parse(at) < window.to;
    expect(pausedWindow.to - pausedWindow.from).toBe(DAY);
    expect(
      records.filter((record) => record.op !== 'provision' && within(record.acceptedAt, pausedWindow)),
    ).toEqual([]);
    expect(
      records.filter((record) => record.slug === OPT_OUT.slug && within(record.acceptedAt, optOutWindow)),
    ).toEqual([]);
    // Opted in again, it was looked after as before.
    expect(
      records.some(
        (record) => record.slug === OPT_OUT.slug && Date.parse(record.acceptedAt) >= optOutWindow.to,
      ),
    ).toBe(true);
  });

  it('adds no duplicate when sweeps of the same period overlap or run again', async () => {
    // Let a gateway token come due for every slug with no sweep acting on it: opt them all out.
    for (const slug of SLUGS) await world.world.api('POST', `/api/environments/${slug}/sweeps/opt-out`);
    await world.advanceDays(POLICY_DAYS['gateway-token'] + 1);
    for (const slug of SLUGS) await world.world.api('POST', `/api/environments/${slug}/sweeps/opt-in`);
    const tokensBefore = SLUGS.map((slug) => world.secretVersions(slug, 'gateway-token').length);

    // The sweep the timer runs, with the broker's own storage, three at once and then once more.
    const config = loadConfig(world.world.settings);
    const storage = new BrokerStorage(config);
    const deps = {
      config,
      registry: new EnvironmentRegistry(storage),
      requests: new RequestStore(storage),
      control: new SweepControl(storage),
      queue: () => storage.queue(StorageNames.lifecycleQueue),
      log: createLogger({ log: () => undefined, warn: () => undefined, error: () => undefined }),
    };
    const now = new Date(world.clock.now());
    const overlapping = await Promise.all([1, 2, 3].map(() => runSweep('rotation', now, deps)));
    const again = await runSweep('rotation', now, deps);
    const expected = SLUGS.map((slug) => `rotate:${slug}:${now.toISOString().slice(0, 10)}`);
    const enqueued = overlapping.flatMap((report) => report.enqueued.map((entry) => entry.requestId));
    expect(new Set(enqueued)).toEqual(new Set(expected));
    expect(again.enqueued).toEqual([]);
    expect(again.known.sort()).toEqual(expected);

    await world.advance(60_000);
    const records = (await world.requestRecords()).filter((record) => expected.includes(record.requestId));
    expect(records.map((record) => record.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(SLUGS.map((slug) => world.secretVersions(slug, 'gateway-token').length)).toEqual(
      tokensBefore.map((count) => count + 1),
    );
  });
});

describe('the sweeps API', () => {
  it('shows and switches the global pause, and refuses what it cannot apply', async () => {
    expect((await world.world.api('GET', '/api/sweeps')).body).toMatchObject({
      paused: false,
      pausedByConfiguration: false,
      schedules: { rotation: '0 0 3 * * *', sas: '0 0 */12 * * *' },
    });
    await world.world.api('POST', '/api/sweeps/pause', { reason: 'incident 42' });
    expect((await world.world.api('GET', '/api/sweeps')).body).toMatchObject({
      paused: true,
      switch: { paused: true, by: 'sandbox-operator', reason: 'incident 42' },
    });
    await world.world.api('POST', '/api/sweeps/resume');
    expect((await world.world.api('GET', '/api/sweeps')).body).toMatchObject({ paused: false });

    expect((await world.world.api('POST', '/api/sweeps/pause', { paused: 'yes' })).body).toMatchObject({
      status: 400,
      code: 'BadRequest',
    });
    expect((await world.world.api('POST', '/api/environments/Not_A_Slug/sweeps/opt-out')).body).toMatchObject(
      {
        code: 'SlugInvalid',
      },
    );
    expect((await world.world.api('POST', '/api/environments/nobody/sweeps/opt-out')).body).toMatchObject({
      status: 404,
      code: 'NotFound',
    });
  });
});
