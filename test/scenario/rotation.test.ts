import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaintenanceWorld } from '../rotation/maintenanceWorld.js';

/**
 * rotate-secrets on demand, on the local host against the simulated Azure, Graph and OpenClaw
 * gateway, in simulated time: each secret's sequence, what the app and the gateway hold after it,
 * the preconditions that refuse duplicate and late requests, and a search for leaked secrets.
 */
let world: MaintenanceWorld;
const DAY = 86_400_000;

beforeAll(async () => {
  world = await MaintenanceWorld.start({ settings: { ROTATION_BOT_TOKEN_MAX_AGE: '3d' } });
  for (const slug of ['gw-one', 'keys-one']) {
    const view = await world.provision(slug);
    if (view.status !== 'succeeded') throw new Error(`provisioning ${slug}: ${JSON.stringify(view)}`);
  }
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe('gateway token rotation', () => {
  it('writes a new version, makes the app take it, checks the gateway, and disables the old version', async () => {
    const before = world.secretVersions('gw-one', 'gateway-token');
    expect(before).toHaveLength(1);
    const old = before[0]!;
    expect(world.sim.containerApp('ca-gw-one')?.env['OPENCLAW_GATEWAY_TOKEN']).toBe(old.value);

    await world.enqueue('rotate-secrets', 'gw-one', 'rot-gw-1', { secrets: ['gateway-token'] });
    const view = await world.settle('rot-gw-1');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toMatch(
      /^gw-one: gateway-token rotated: version \w{8} → \w{8}, gateway accepts the new token and refuses the old, 1 old version\(s\) disabled$/,
    );

    const after = world.secretVersions('gw-one', 'gateway-token');
    expect(after).toHaveLength(2);
    const fresh = after[1]!;
    expect(fresh.value).toMatch(/^[0-9a-f]{64}$/);
    expect(fresh.value).not.toBe(old.value);
    expect(after.map((version) => version.enabled)).toEqual([false, true]);
    expect(world.sim.containerApp('ca-gw-one')?.env['OPENCLAW_GATEWAY_TOKEN']).toBe(fresh.value);
    expect(await world.gatewayRpcStatus('gw-one', fresh.value)).toBe(200);
    expect(await world.gatewayRpcStatus('gw-one', old.value)).toBe(401);

    const environment = await world.environment('gw-one');
    expect(Date.parse(environment.secretAges['gateway-token']!)).toBeGreaterThan(world.clock.now() - 60_000);
  });

  it('runs a request delivered twice once', async () => {
    await world.enqueue('rotate-secrets', 'gw-one', 'rot-gw-1', { secrets: ['gateway-token'] });
    await world.advance(60_000);
    expect(world.secretVersions('gw-one', 'gateway-token')).toHaveLength(2);
    expect((await world.world.request('rot-gw-1')).status).toBe('succeeded');
  });

  it('refuses a request made before the latest rotation: the rotation it asked for has happened', async () => {
    const madeEarlier = new Date(world.clock.now() - DAY).toISOString();
    await world.enqueue(
      'rotate-secrets',
      'gw-one',
      'rot-gw-late',
      { secrets: ['gateway-token'] },
      madeEarlier,
    );
    const view = await world.settle('rot-gw-late');
    expect(view.status).toBe('rejected');
    expect(view.reason).toMatch(/^gateway-token: already rotated at .+, after this request was made/);
    expect(world.secretVersions('gw-one', 'gateway-token')).toHaveLength(2);
  });

  it('refuses a timer request when nothing is due', async () => {
    await world.enqueue('rotate-secrets', 'gw-one', 'rot-gw-due');
    const view = await world.settle('rot-gw-due');
    expect(view.status).toBe('rejected');
    expect(view.reason).toMatch(/^nothing is due for gw-one at /);
  });
});

/** The slug's storage account keys and the key its share registration holds, from the simulator. */
function storageState(slug: string) {
  const names = world.names(slug);
  const account = [...world.sim.arm.resources.values()].find(
    (resource) =>
      resource.type === 'Microsoft.Storage/storageAccounts' && resource.name === names.storageAccount,
  )!;
  const keys = Object.fromEntries(
    (account.hidden['keys'] as { keyName: string; value: string }[]).map((key) => [key.keyName, key.value]),
  ) as Record<'key1' | 'key2', string>;
  const registration = world.sim.arm.get(
    `/subscriptions/${world.sim.subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.App/managedEnvironments/${names.managedEnvironment}/storages/${names.environmentStorage}`,
  )!;
  return {
    keys,
    shareKey: registration.hidden['accountKey'] as string,
    stored: world.secretVersions(slug, 'storage-account-key').at(-1)!.value,
  };
}

describe('storage account key rotation (two-key swap)', () => {
  it('moves every consumer to the standby key, confirms the share and the app, and only then regenerates the key that was in use', async () => {
    const before = storageState('keys-one');
    expect(before.shareKey).toBe(before.keys.key1);
    expect(before.stored).toBe(before.keys.key1);

    await world.enqueue('rotate-secrets', 'keys-one', 'rot-st-1', { secrets: ['storage-key'] });
    const view = await world.settle('rot-st-1');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toBe(
      'keys-one: storage-key rotated: consumers moved key1 → key2, share and app confirmed, key1 regenerated',
    );

    const after = storageState('keys-one');
    expect(after.keys.key2).toBe(before.keys.key2);
    expect(after.keys.key1).not.toBe(before.keys.key1);
    expect(after.shareKey).toBe(after.keys.key2);
    expect(after.stored).toBe(after.keys.key2);
    expect(world.sim.containerApp('ca-keys-one')?.running).toBe(true);
    expect((await world.environment('keys-one')).maintenance?.storageKeyInUse).toBe('key2');
    expect(world.regenerations.filter((r) => r.account === world.names('keys-one').storageAccount)).toEqual([
      expect.objectContaining({ keyName: 'key1', usedByShareRegistration: false, usedByStoredSecret: false }),
    ]);
  });

  it('swaps back on the next rotation, again never regenerating the key in use', async () => {
    const before = storageState('keys-one');
    await world.enqueue('rotate-secrets', 'keys-one', 'rot-st-2', { secrets: ['storage-key'] });
    const view = await world.settle('rot-st-2');
    expect(view.summary).toContain('consumers moved key2 → key1');
    const after = storageState('keys-one');
    expect(after.keys.key1).toBe(before.keys.key1);
    expect(after.shareKey).toBe(after.keys.key1);
    expect(after.stored).toBe(after.keys.key1);
    const regenerations = world.regenerations.filter(
      (r) => r.account === world.names('keys-one').storageAccount,
    );
    expect(regenerations.map((r) => r.keyName)).toEqual(['key1', 'key2']);
    expect(regenerations.every((r) => !r.usedByShareRegistration && !r.usedByStoredSecret)).toBe(true);
  });
});

describe('Entra client secret rotation', () => {
  const app = () =>
    (
      world.world.graph.snapshot() as { applications: { displayName: string; appId: string }[] }
    ).applications.find((candidate) => candidate.displayName === 'claw-keys-one')!;
  const passwords = () =>
    (
      world.world.graph.application(app().appId) as { passwordCredentials: { keyId: string }[] }
    ).passwordCredentials.map((credential) => credential.keyId);
  const heldByApp = (name: string) =>
    (
      (world.sim.arm.get(
        `/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-keys-one/providers/Microsoft.App/containerApps/ca-keys-one`,
      )?.hidden['secrets'] ?? []) as { name: string; value?: string }[]
    ).find((secret) => secret.name === name)?.value;

  it('adds and stores a new secret, switches the app to it, and removes the old one after the grace period', async () => {
    const [oldKeyId] = passwords();
    const oldSecret = world.secretVersions('keys-one', 'entra-client-secret').at(-1)!.value;
    await world.enqueue('rotate-secrets', 'keys-one', 'rot-en-1', { secrets: ['entra-client-secret'] });
    const view = await world.settle('rot-en-1');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toMatch(
      /^keys-one: entra-client-secret rotated: new client secret in use, the old one is removed after /,
    );

    const stored = world.secretVersions('keys-one', 'entra-client-secret').at(-1)!.value;
    expect(stored).not.toBe(oldSecret);
    expect(heldByApp('microsoft-provider-authentication-secret')).toBe(stored);
    expect(world.world.graph.verifyClientSecret(app().appId, stored, world.sim.clock.now())).toBe(true);
    expect(passwords()).toHaveLength(2);
    expect(passwords()).toContain(oldKeyId);

    await world.advance(86_400_000 + 60_000);
    expect(passwords()).toHaveLength(1);
    expect(passwords()).not.toContain(oldKeyId);
    expect(world.world.graph.verifyClientSecret(app().appId, stored, world.sim.clock.now())).toBe(true);
    expect(world.world.graph.verifyClientSecret(app().appId, oldSecret, world.sim.clock.now())).toBe(false);
  });

  it('reports and skips, with the reason, where the tenant forbids client secrets', async () => {
    const graph = world.world.graph;
    graph.setPasswordCredentialsForbidden(true);
    try {
      const versions = world.secretVersions('keys-one', 'entra-client-secret').length;
      await world.enqueue('rotate-secrets', 'keys-one', 'rot-en-forbidden', {
        secrets: ['entra-client-secret'],
      });
      const view = await world.settle('rot-en-forbidden');
      expect(view.status).toBe('rejected');
      expect(view.reason).toContain(
        "entra-client-secret skipped: the tenant's app management policy forbids client secrets (CredentialTypeNotAllowedAsPerAppPolicy)",
      );
      expect(world.secretVersions('keys-one', 'entra-client-secret')).toHaveLength(versions);
      expect(passwords()).toHaveLength(1);
      const skipped = (await world.environment('keys-one')).maintenance?.skipped?.['entra-client-secret'];
      expect(skipped?.reason).toContain('CredentialTypeNotAllowedAsPerAppPolicy');
    } finally {
      graph.setPasswordCredentialsForbidden(false);
    }
  });
});

describe('bot tokens', () => {
  it('are flagged on the registry and told to the admin chat once they pass their age, once', async () => {
    const before = world.adminMessages().length;
    await world.advanceDays(4);
    const flagged = world
      .adminMessages()
      .slice(before)
      .filter((message) => message.text.includes('telegram-bot-token'));
    expect(flagged.map((message) => message.text).sort()).toEqual([
      expect.stringMatching(
        /^claw-broker: the telegram-bot-token of gw-one was set \d+ days ago \(policy: 3 days\); bot tokens cannot be rotated by API\./,
      ),
      expect.stringMatching(/^claw-broker: the telegram-bot-token of keys-one was set \d+ days ago/),
    ]);
    expect((await world.environment('keys-one')).maintenance?.flags?.['telegram-bot-token']?.reason).toMatch(
      /bot tokens cannot be rotated by API/,
    );
    await world.advanceDays(2);
    expect(
      world
        .adminMessages()
        .slice(before)
        .filter((message) => message.text.includes('telegram-bot-token')),
    ).toHaveLength(2);
  });
});

describe('secrets', () => {
  it('never appear in orchestration inputs, outputs, custom status or history, the registry, queues, logs, the request log or the admin chat', async () => {
    const secrets = world.world.secretValues();
    // Every kind this file rotated is among the values searched for: old and new versions alike.
    for (const name of ['gateway-token', 'storage-account-key', 'entra-client-secret']) {
      for (const slug of ['gw-one', 'keys-one']) {
        for (const version of world.secretVersions(slug, name)) expect(secrets).toContain(version.value);
      }
    }
    expect(secrets.length).toBeGreaterThan(20);
    const places = [
      ...(await world.world.observableText()),
      { where: 'admin chat', text: JSON.stringify(world.adminMessages()) },
    ];
    expect(places.some((place) => place.text.includes('rotationGatewayWrite'))).toBe(true);
    const leaks = places.flatMap((place) =>
      secrets.filter((secret) => place.text.includes(secret)).map(() => place.where),
    );
    expect(leaks).toEqual([]);
  });

  it('are watched at regeneration: the spy records a key in use when something regenerates one', async () => {
    const names = world.names('gw-one');
    const before = world.regenerations.length;
    await world.arm().storage.storageAccounts.regenerateKey(names.resourceGroup, names.storageAccount, {
      keyName: 'key1',
    });
    expect(world.regenerations.slice(before)).toEqual([
      expect.objectContaining({ keyName: 'key1', usedByShareRegistration: true, usedByStoredSecret: true }),
    ]);
  });
});
