import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../sandbox/sim/faults.js';
import { MaintenanceWorld } from '../rotation/maintenanceWorld.js';

/**
 * The host dies in the middle of a rotation, at each step in turn, and a new host takes over the
 * same storage (Azurite): every rotation resumes and ends with working credentials, having rotated
 * each secret exactly once. To stop exactly at a step, each slug gets a simulator fault that holds
 * the first request of that step forever (a `timeout` fault, fired once): the step's activity has
 * started but changed nothing (or, for the "between" cases, done its first write only) when the
 * host is stopped. One slug per step, all held at once, then one restart.
 */
let world: MaintenanceWorld;
const DAY = 86_400_000;

type Kind = 'gateway-token' | 'storage-key' | 'entra-client-secret';
interface Boundary {
  slug: string;
  kind: Kind;
  step: string;
  fault: (slug: string) => FaultSpec;
}

const app = (slug: string) => `/resourceGroups/claw-${slug}/providers/Microsoft.App/containerApps/ca-${slug}`;
const vaultPath = (slug: string, secret: string) =>
  `/keyvault/${world.names(slug).keyVault}/secrets/${secret}`;

const BOUNDARIES: Boundary[] = [
  {
    slug: 'fg-write',
    kind: 'gateway-token',
    step: 'writing the new version',
    fault: (slug) => ({ kind: 'timeout', method: 'PUT', path: `${vaultPath(slug, 'gateway-token')}$` }),
  },
  {
    slug: 'fg-deliver',
    kind: 'gateway-token',
    step: 're-setting the references',
    fault: (slug) => ({ kind: 'timeout', method: 'PATCH', path: `${app(slug)}$` }),
  },
  {
    slug: 'fg-restart',
    kind: 'gateway-token',
    step: 'between re-setting the references and the restart',
    fault: (slug) => ({ kind: 'timeout', method: 'POST', path: `${app(slug)}/revisions/[^/]+/restart$` }),
  },
  {
    slug: 'fg-verify',
    kind: 'gateway-token',
    step: 'asking the gateway',
    fault: (slug) => ({ kind: 'timeout', method: 'POST', path: `/openclaw/ca-${slug}/api/v1/admin/rpc$` }),
  },
  {
    slug: 'fg-retire',
    kind: 'gateway-token',
    step: 'disabling the old version',
    fault: (slug) => ({ kind: 'timeout', method: 'PATCH', path: `${vaultPath(slug, 'gateway-token')}/` }),
  },
  {
    slug: 'fs-move',
    kind: 'storage-key',
    step: 'moving the share registration',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'PUT',
      path: `/resourceGroups/claw-${slug}/providers/Microsoft.App/managedEnvironments/cae-${slug}/storages/`,
    }),
  },
  {
    slug: 'fs-store',
    kind: 'storage-key',
    step: 'between the share registration and the stored secret',
    fault: (slug) => ({ kind: 'timeout', method: 'PUT', path: `${vaultPath(slug, 'storage-account-key')}$` }),
  },
  {
    slug: 'fs-verify',
    kind: 'storage-key',
    step: 'opening the share with the new key',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'GET',
      path: `/file/${world.names(slug).storageAccount}/openclaw-state`,
    }),
  },
  {
    slug: 'fs-regen',
    kind: 'storage-key',
    step: 'regenerating the old key',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'POST',
      path: `/storageAccounts/${world.names(slug).storageAccount}/regenerateKey$`,
    }),
  },
  {
    slug: 'fe-add',
    kind: 'entra-client-secret',
    step: 'adding the client secret',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'POST',
      path: `/applications/${entraObjectId(slug)}/addPassword$`,
    }),
  },
  {
    slug: 'fe-store',
    kind: 'entra-client-secret',
    step: 'between adding the client secret and storing it',
    fault: (slug) => ({ kind: 'timeout', method: 'PUT', path: `${vaultPath(slug, 'entra-client-secret')}$` }),
  },
  {
    slug: 'fe-verify',
    kind: 'entra-client-secret',
    step: "reading what the app's auth holds",
    fault: (slug) => ({ kind: 'timeout', method: 'POST', path: `${app(slug)}/listSecrets$` }),
  },
];

function entraObjectId(slug: string): string {
  const applications = (
    world.world.graph.snapshot() as { applications: { displayName: string; id: string }[] }
  ).applications;
  return applications.find((application) => application.displayName === `claw-${slug}`)!.id;
}

const SECRET_NAME: Record<Kind, string> = {
  'gateway-token': 'gateway-token',
  'storage-key': 'storage-account-key',
  'entra-client-secret': 'entra-client-secret',
};

beforeAll(async () => {
  world = await MaintenanceWorld.start({ settings: { AZURE_MAX_RETRIES: '2' } });
  await world.provisionAll([...BOUNDARIES.map((b) => b.slug), 'fg-late']);
}, 150_000);

afterAll(async () => {
  await world?.stop();
});

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await world.advance(1_000);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a rotation interrupted by a host restart', () => {
  const before = new Map<string, number>();

  it('stops at each step, and a new host on the same storage resumes every rotation to the end', async () => {
    const faults = BOUNDARIES.map((boundary) => ({
      boundary,
      fault: world.sim.admin.addFault({ count: 1, ...boundary.fault(boundary.slug) }),
    }));
    for (const { slug, kind } of BOUNDARIES) {
      before.set(slug, world.secretVersions(slug, SECRET_NAME[kind]).length);
      await world.enqueue('rotate-secrets', slug, `rot-${slug}`, { secrets: [kind] });
    }
    world.clock.detached = true;
    const fired = (id: string) => world.sim.admin.faults().find((fault) => fault.id === id)?.fired ?? 0;
    await eventually(
      () => faults.every(({ fault }) => fired(fault.id) === 1),
      'every rotation to reach its step',
    );
    await world.world.restartHost();
    world.sim.admin.clearFaults();
    world.clock.detached = false;

    for (const { slug, step } of BOUNDARIES) {
      const view = await world.settle(`rot-${slug}`);
      expect(view, `${slug} (held while ${step}): ${JSON.stringify(view)}`).toMatchObject({
        status: 'succeeded',
      });
    }
  });

  it('rotated each secret exactly once: one new version per rotation, never two', () => {
    for (const { slug, kind } of BOUNDARIES) {
      expect(world.secretVersions(slug, SECRET_NAME[kind]), slug).toHaveLength(before.get(slug)! + 1);
    }
  });

  it('ends with a gateway that accepts the new token and refuses the old one', async () => {
    for (const { slug } of BOUNDARIES.filter((b) => b.kind === 'gateway-token')) {
      const [old, fresh] = world.secretVersions(slug, 'gateway-token');
      expect(world.sim.containerApp(`ca-${slug}`)?.env['OPENCLAW_GATEWAY_TOKEN'], slug).toBe(fresh!.value);
      expect(await world.gatewayRpcStatus(slug, fresh!.value), slug).toBe(200);
      expect(await world.gatewayRpcStatus(slug, old!.value), slug).toBe(401);
      expect(old!.enabled, slug).toBe(false);
    }
  });

  it('ends with every storage consumer on one current key, having regenerated only the key no longer in use', () => {
    for (const { slug } of BOUNDARIES.filter((b) => b.kind === 'storage-key')) {
      const names = world.names(slug);
      const account = [...world.sim.arm.resources.values()].find((r) => r.name === names.storageAccount)!;
      const keys = (account.hidden['keys'] as { keyName: string; value: string }[]).map((key) => key.value);
      const share = world.sim.arm.get(
        `/subscriptions/${world.sim.subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.App/managedEnvironments/${names.managedEnvironment}/storages/${names.environmentStorage}`,
      )!.hidden['accountKey'];
      const stored = world.secretVersions(slug, 'storage-account-key').at(-1)!.value;
      expect(share, slug).toBe(stored);
      expect(keys, slug).toContain(stored);
      const regenerations = world.regenerations.filter((r) => r.account === names.storageAccount);
      expect(regenerations, slug).toHaveLength(1);
      expect(regenerations[0], slug).toMatchObject({
        usedByShareRegistration: false,
        usedByStoredSecret: false,
      });
    }
  });

  it('ends with the app signing in with a client secret Entra knows, no orphaned secret left after the grace', async () => {
    const graph = world.world.graph;
    const appId = (slug: string) =>
      (graph.snapshot() as { applications: { displayName: string; appId: string }[] }).applications.find(
        (a) => a.displayName === `claw-${slug}`,
      )!.appId;
    await world.advance(DAY + 60_000);
    for (const { slug } of BOUNDARIES.filter((b) => b.kind === 'entra-client-secret')) {
      const stored = world.secretVersions(slug, 'entra-client-secret').at(-1)!.value;
      const held = (
        (world.sim.arm.get(`/subscriptions/${world.sim.subscriptionId}${app(slug)}`)?.hidden['secrets'] ??
          []) as {
          name: string;
          value?: string;
        }[]
      ).find((secret) => secret.name === 'microsoft-provider-authentication-secret')?.value;
      expect(held, slug).toBe(stored);
      expect(graph.verifyClientSecret(appId(slug), stored, world.sim.clock.now()), slug).toBe(true);
      const passwords = (graph.application(appId(slug)) as { passwordCredentials: unknown[] })
        .passwordCredentials;
      expect(passwords, slug).toHaveLength(1);
    }
  });
});

describe('a rotation that resumes after a newer one', () => {
  it('refuses its late step and leaves the newer credential in place', async () => {
    const slug = 'fg-late';
    const fault = world.sim.admin.addFault({
      kind: 'timeout',
      method: 'PATCH',
      path: `${app(slug)}$`,
      count: 1,
    });
    await world.enqueue('rotate-secrets', slug, `rot-${slug}`, { secrets: ['gateway-token'] });
    world.clock.detached = true;
    await eventually(
      () => (world.sim.admin.faults().find((f) => f.id === fault.id)?.fired ?? 0) === 1,
      'the rotation to reach delivery',
    );
    // Meanwhile an operator rotated by hand: a newer version than the one the held rotation wrote.
    const operatorToken = 'f'.repeat(64);
    await world.vault(slug).setSecret('gateway-token', operatorToken);
    await world.world.restartHost();
    world.sim.admin.clearFaults();
    world.clock.detached = false;

    const view = await world.settle(`rot-${slug}`);
    expect(view.status).toBe('rejected');
    expect(view.reason).toMatch(
      /gateway-token refused: precondition failed: gateway-token is at version \w{8}, not \w{8}: a newer one exists; the app was left alone/,
    );
    const versions = world.secretVersions(slug, 'gateway-token');
    expect(versions.at(-1)!.value).toBe(operatorToken);
    expect(versions.every((version) => version.enabled)).toBe(true);
  });
});
