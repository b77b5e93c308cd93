import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../sandbox/sim/faults.js';
import { SIMULATED_STATE_SCHEMA_PATH } from '../../sandbox/sim/openclaw.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { revisionSuffixOf } from '../../shared/upgrades/upgradeSteps.js';
import { ProvisionWorld } from './provisionWorld.js';

/**
 * The host dies at each step of an upgrade in turn and a new host takes over the same storage. As
 * in provisionRestart.test.ts, a `timeout` fault fired once holds one step's first request forever,
 * so the step's activity has started and changed nothing when the host stops. One slug per
 * boundary, all held at once, then one restart: every upgrade must converge to the target with one
 * new revision, one writer on its share and the state migrated once.
 */
const FROM = '2026.8.2';
const TO = '2026.9.6';
const SALT = 'scenario';
const names = (slug: string) => footprintNames(slug, { salt: SALT, incarnation: 1 });

const BOUNDARIES: { slug: string; step: string; fault: (slug: string) => FaultSpec }[] = [
  {
    slug: 'u-plan',
    step: 'plan',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'GET',
      path: `/resourceGroups/claw-${slug}/providers/Microsoft.KeyVault/vaults/`,
    }),
  },
  {
    slug: 'u-pre',
    step: 'preflight',
    fault: (slug) => ({ kind: 'timeout', method: 'GET', path: `/containerApps/ca-${slug}$` }),
  },
  {
    slug: 'u-stop',
    step: 'stop',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'POST',
      path: `/containerApps/ca-${slug}/revisions/[^/]+/deactivate$`,
    }),
  },
  {
    slug: 'u-snap',
    step: 'snapshot',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'PUT',
      path: `^/file/${names(slug).storageAccount}/openclaw-state$`,
    }),
  },
  {
    slug: 'u-start',
    step: 'start',
    fault: (slug) => ({ kind: 'timeout', method: 'PUT', path: `/containerApps/ca-${slug}$` }),
  },
  {
    slug: 'u-gate',
    step: 'gate',
    fault: (slug) => ({
      kind: 'timeout',
      method: 'GET',
      path: `/containerApps/ca-${slug}/revisions/[^/]+/replicas$`,
    }),
  },
  {
    slug: 'u-commit',
    step: 'commit (pruning snapshots)',
    fault: (slug) => ({ kind: 'timeout', method: 'GET', path: `^/file/${names(slug).storageAccount}/?$` }),
  },
];

let world: ProvisionWorld;

beforeAll(async () => {
  const hostJson = JSON.parse(readFileSync('host.json', 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  hostJson.extensions.durableTask['maxConcurrentActivityFunctions'] = 64;
  world = await ProvisionWorld.start({
    host: { hostJson },
    settings: {
      UPGRADE_POLL_INTERVAL: '1s',
      UPGRADE_READY_TIMEOUT: '1m',
      UPGRADE_STOP_TIMEOUT: '1m',
      UPGRADE_SOAK: '2s',
    },
  });
  await Promise.all(
    BOUNDARIES.map(async ({ slug }) => {
      const view = await world.provision(slug, `prov-${slug}`, { openclawVersion: FROM, channels: [] });
      if (view.status !== 'succeeded') throw new Error(`provisioning ${slug}: ${JSON.stringify(view)}`);
    }),
  );
}, 240_000);

afterAll(async () => {
  await world?.stop();
});

async function eventually(check: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a host killed at each step of an upgrade', { timeout: 240_000 }, () => {
  it('converges after a restart on the same storage: upgraded once, one writer, state migrated', async () => {
    const faults = BOUNDARIES.map(({ slug, fault }) =>
      world.sim.admin.addFault({ ...fault(slug), count: 1 }),
    );
    for (const { slug } of BOUNDARIES) {
      const answer = await world.api('POST', '/api/requests', {
        op: 'upgrade',
        slug,
        requestId: `up-${slug}`,
        params: { targetVersion: TO },
      });
      expect(answer.status).toBe(202);
    }
    const fired = (index: number) =>
      world.sim.admin.faults().find((fault) => fault.id === faults[index]!.id)?.fired === 1;
    await eventually(
      () => BOUNDARIES.every((_, index) => fired(index)),
      () =>
        `every upgrade to reach its boundary; still on the way: ${BOUNDARIES.filter(
          (_, index) => !fired(index),
        )
          .map((boundary) => boundary.step)
          .join(', ')}`,
    );

    await world.restartHost();

    for (const { slug, step } of BOUNDARIES) {
      const view = await world.untilFinished(`up-${slug}`, 120_000);
      expect(view, `killed in ${step}: ${JSON.stringify(view)}`).toMatchObject({ status: 'succeeded' });
      const environment = (await world.environment(slug)) as {
        state: string;
        openclawVersion: string;
        upgrades?: { current?: { revision: string }; inFlight?: unknown };
      };
      expect(environment, step).toMatchObject({ state: 'ready', openclawVersion: TO });
      expect(environment.upgrades?.current?.revision, step).toBe(
        `ca-${slug}--${revisionSuffixOf(`up-${slug}`)}`,
      );
      expect(environment.upgrades?.inFlight, step).toBeUndefined();
      const replicas = world.sim.replicaRecord(`ca-${slug}`);
      const revisions = new Set(replicas.map((replica) => replica.revisionName));
      expect(revisions.size, `${step}: the provisioned revision and one new one`).toBe(2);
      const { storageAccount } = names(slug);
      expect(world.sim.maxConcurrentMounts(`${storageAccount}/openclaw-state`), `${step}: one writer`).toBe(
        1,
      );
      expect(
        world.sim.files.read(storageAccount, 'openclaw-state', SIMULATED_STATE_SCHEMA_PATH),
        step,
      ).toContain(TO);
    }
  });

  it('leaves no secret value the simulator holds anywhere the broker writes', async () => {
    const secrets = world.secretValues();
    const places = [
      ...(await world.observableText()),
      ...world.instanceText(BOUNDARIES.map(({ slug }) => `op:up-${slug}`)),
    ];
    const leaks = places.flatMap((place) =>
      secrets
        .filter((secret) => place.text.includes(secret))
        .map((secret) => `${place.where}: ${secret.slice(0, 4)}…`),
    );
    expect(leaks).toEqual([]);
  });
});
