import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../sandbox/sim/faults.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { ProvisionWorld } from './provisionWorld.js';

/**
 * The host dies at each step boundary in turn and a new host takes over the same storage.
 *
 * To stop exactly at a boundary, each slug gets a simulator fault that holds one step's first
 * request, or its first write, forever (a `timeout` fault, fired once): that step's activity has
 * started but made no change when the host is stopped. (In a group the run created, steps write
 * without reading first, so their first request is the write.) One slug per boundary, all held at once, then one restart; every
 * slug must converge to ready with no duplicate anywhere (role assignments, Entra objects, client
 * secrets, Key Vault secret versions).
 */
const BOUNDARIES: { slug: string; step: string; fault: FaultSpec }[] = [
  {
    slug: 'k-prep',
    step: 'prepare',
    fault: {
      kind: 'timeout',
      method: 'GET',
      path: '/resourceGroups/claw-k-prep/providers/Microsoft.KeyVault/vaults/',
    },
  },
  {
    slug: 'k-rg',
    step: 'resourceGroup',
    fault: { kind: 'timeout', method: 'GET', path: '/resourceGroups/claw-k-rg$' },
  },
  {
    slug: 'k-id',
    step: 'identity',
    fault: { kind: 'timeout', method: 'PUT', path: '/resourceGroups/claw-k-id/.*/userAssignedIdentities/' },
  },
  {
    slug: 'k-kv',
    step: 'keyVault',
    // prepare reads the vault first; the keyVault step's read is the second.
    fault: { kind: 'timeout', method: 'GET', path: '/resourceGroups/claw-k-kv/.*/vaults/[^/]+$', skip: 1 },
  },
  {
    slug: 'k-st',
    step: 'storage',
    fault: {
      kind: 'timeout',
      method: 'PUT',
      path: '/resourceGroups/claw-k-st/.*/storageAccounts/[^/]+$',
    },
  },
  {
    slug: 'k-log',
    step: 'logAnalytics',
    fault: { kind: 'timeout', method: 'PUT', path: '/resourceGroups/claw-k-log/.*/workspaces/[^/]+$' },
  },
  {
    slug: 'k-roles',
    step: 'roleAssignments',
    fault: { kind: 'timeout', method: 'PUT', path: '/resourceGroups/claw-k-roles/.*/roleAssignments/' },
  },
  {
    slug: 'k-appi',
    step: 'appInsights',
    fault: { kind: 'timeout', method: 'PUT', path: '/resourceGroups/claw-k-appi/.*/components/' },
  },
  {
    slug: 'k-env',
    step: 'managedEnvironment',
    fault: {
      kind: 'timeout',
      method: 'PUT',
      path: '/resourceGroups/claw-k-env/.*/managedEnvironments/cae-k-env$',
    },
  },
  {
    slug: 'k-envst',
    step: 'environmentStorage',
    fault: {
      kind: 'timeout',
      method: 'PUT',
      path: '/managedEnvironments/cae-k-envst/storages/openclawstate$',
    },
  },
  {
    slug: 'k-secrets',
    step: 'secrets',
    fault: { kind: 'timeout', method: 'GET', path: '/keyvault/kv-k-secrets-[^/]+/secrets/gateway-token' },
  },
  {
    slug: 'k-entra',
    step: 'entra',
    fault: { kind: 'timeout', method: 'GET', path: '/keyvault/kv-k-entra-[^/]+/secrets/entra-client-secret' },
  },
  {
    slug: 'k-app',
    step: 'containerApp',
    fault: { kind: 'timeout', method: 'PUT', path: '/resourceGroups/claw-k-app/.*/containerApps/ca-k-app$' },
  },
  {
    slug: 'k-auth',
    step: 'authConfig',
    fault: { kind: 'timeout', method: 'PUT', path: '/resourceGroups/claw-k-auth/.*/authConfigs/current$' },
  },
  {
    slug: 'k-ready',
    step: 'readiness',
    fault: { kind: 'timeout', method: 'GET', path: '/openclaw/ca-k-ready/readyz$' },
  },
  // Inside a step, between its two writes: the client secret exists in Entra but not yet in Key
  // Vault, and the gateway token was generated but not stored.
  {
    slug: 'k-entra-mid',
    step: 'entra (between addPassword and the vault write)',
    fault: {
      kind: 'timeout',
      method: 'PUT',
      path: '/keyvault/kv-k-entra-mi-[^/]+/secrets/entra-client-secret$',
    },
  },
  {
    slug: 'k-token-mid',
    step: 'secrets (between generating and storing the gateway token)',
    fault: { kind: 'timeout', method: 'PUT', path: '/keyvault/kv-k-token-mi-[^/]+/secrets/gateway-token$' },
  },
];

let world: ProvisionWorld;

beforeAll(async () => {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  // Every held activity keeps a slot until the host stops; leave room for the others to reach their boundary.
  hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 64;
  world = await ProvisionWorld.start({ host: { hostJson } });
});

afterAll(async () => {
  await world?.stop();
});

async function eventually(check: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 35_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a host killed at a step boundary', () => {
  it('converges after a restart on the same storage, for a kill before each step and inside two', async () => {
    const faults = BOUNDARIES.map((boundary) => world.sim.admin.addFault({ ...boundary.fault, count: 1 }));
    for (const { slug } of BOUNDARIES) {
      const ref = await world.stageSecret(
        `kill-${slug}`,
        `7000000042:AAH0restart${slug.replace('-', '')}Token0123456789abcdef`,
      );
      await world.requestProvision(slug, `kill-${slug}`, { telegramBotToken: { secretRef: ref } });
    }
    await eventually(
      () =>
        world.sim.admin.faults().filter((fault) => faults.some((f) => f.id === fault.id) && fault.fired === 1)
          .length === faults.length,
      () =>
        `every slug to reach its boundary; still on the way: ${BOUNDARIES.filter(
          (_, index) => world.sim.admin.faults().find((fault) => fault.id === faults[index]!.id)?.fired !== 1,
        )
          .map((boundary) => boundary.step)
          .join(', ')}`,
    );
    for (const { slug, step } of BOUNDARIES) {
      expect((await world.request(`kill-${slug}`)).status, `${slug} held before ${step}`).toBe('running');
    }

    await world.restartHost();

    for (const { slug, step } of BOUNDARIES) {
      const view = await world.untilFinished(`kill-${slug}`);
      expect(view, `killed before ${step}: ${JSON.stringify(view)}`).toMatchObject({ status: 'succeeded' });
      expect(await world.environment(slug)).toMatchObject({ state: 'ready' });
    }
  });

  it('leaves no duplicate role assignment, Entra object, client secret or generated secret version', () => {
    const assignments = [...world.sim.arm.roleAssignments.values()].map(
      (a) => `${a.principalId}|${a.roleDefinitionId.split('/').pop()}|${a.scope.toLowerCase()}`,
    );
    expect(new Set(assignments).size).toBe(assignments.length);

    const graph = world.graph.snapshot() as {
      applications: { displayName: string; passwordCredentials: unknown[] }[];
      servicePrincipals: { appDisplayName?: string; appId: string }[];
      groups: { displayName: string }[];
    };
    const vaults = world.sim.keyVault.exportState();
    for (const { slug, step } of BOUNDARIES) {
      const apps = graph.applications.filter((app) => app.displayName === `claw-${slug}`);
      expect(apps, `${step}: one app registration`).toHaveLength(1);
      expect(apps[0]!.passwordCredentials, `${step}: one client secret`).toHaveLength(1);
      expect(
        graph.groups.filter((group) => group.displayName === `shire-${slug}`),
        `${step}: one group`,
      ).toHaveLength(1);
      const vaultName = footprintNames(slug, { salt: world.settings['NAME_SALT']!, incarnation: 1 }).keyVault;
      const vault = vaults.find(([, data]) => data.name === vaultName);
      expect(vault, `${step}: the slug's vault`).toBeDefined();
      for (const [name, secret] of vault![1].secrets) {
        expect(secret.versions, `${step}: one version of ${name}`).toHaveLength(1);
      }
      expect(world.sim.containerApp(`ca-${slug}`)?.running, `${step}: the gateway runs`).toBe(true);
    }
    const servicePrincipalApps = graph.servicePrincipals.map((sp) => sp.appId);
    expect(new Set(servicePrincipalApps).size).toBe(servicePrincipalApps.length);
  });

  it('leaves no secret value the simulator holds anywhere the broker writes', async () => {
    const secrets = world.secretValues();
    const places = [
      ...(await world.observableText()),
      ...world.instanceText(BOUNDARIES.map(({ slug }) => `op:kill-${slug}`)),
    ];
    const leaks = places.flatMap((place) =>
      secrets
        .filter((secret) => place.text.includes(secret))
        .map((secret) => `${place.where}: ${secret.slice(0, 4)}…`),
    );
    expect(leaks).toEqual([]);
  });
});
