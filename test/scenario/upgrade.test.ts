import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_OPENCLAW_REPOSITORY } from '../../sandbox/sim/index.js';
import { SIMULATED_STATE_SCHEMA_PATH } from '../../sandbox/sim/openclaw.js';
import type { EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { revisionSuffixOf } from '../../shared/upgrades/upgradeSteps.js';
import { loadConfig } from '../../shared/config.js';
import { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import type { UpgradeState } from '../../shared/domain/upgradeState.js';
import { MaintenanceWorld } from '../rotation/maintenanceWorld.js';
import { runCli } from '../../cli/main.js';

/**
 * upgrade on the local host against the simulated Azure (multiple revision mode, replicas with
 * lifetimes, share snapshots), the OpenClaw stand-in (state migrates forward; an older version
 * refuses newer state and exits 78) and the registry stand-ins, in simulated time.
 */
let world: MaintenanceWorld;
const FROM = '2026.8.2';
const TO = '2026.9.6';

beforeAll(async () => {
  world = await MaintenanceWorld.start({
    settings: {
      UPGRADE_POLL_INTERVAL: '15s',
      UPGRADE_READY_TIMEOUT: '5m',
      UPGRADE_SOAK: '2m',
    },
  });
  for (const slug of ['up-one', 'up-two', 'up-three', 'up-four', 'up-five']) {
    const view = await world.provision(slug, { openclawVersion: FROM });
    if (view.status !== 'succeeded') throw new Error(`provisioning ${slug}: ${JSON.stringify(view)}`);
  }
}, 180_000);

afterAll(async () => {
  await world?.stop();
});

/** Sets the slug's upgrade state in the registry, as the operator controls do. */
async function setUpgrades(slug: string, change: (upgrades: UpgradeState) => UpgradeState): Promise<void> {
  const registry = new EnvironmentRegistry(new BrokerStorage(loadConfig(world.world.settings)));
  await registry.update(slug, (record) => {
    if (!record) return undefined;
    const { etag: _etag, createdAt: _created, updatedAt: _updated, ...rest } = record;
    return { ...rest, upgrades: change(rest.upgrades ?? {}) };
  });
}

function share(slug: string): { account: string; share: string } {
  return { account: world.names(slug).storageAccount, share: 'openclaw-state' };
}

function stateSchema(slug: string): string | undefined {
  const { account, share: name } = share(slug);
  return world.world.sim.files.read(account, name, SIMULATED_STATE_SCHEMA_PATH);
}

async function revisions(slug: string) {
  const apps = world.arm().apps;
  const listed = [];
  for await (const revision of apps.containerAppsRevisions.listRevisions(`claw-${slug}`, `ca-${slug}`))
    listed.push(revision);
  return listed;
}

describe('upgrading one slug', { timeout: 240_000 }, () => {
  it('stops the old revision, snapshots, starts the target by digest, gates, soaks and commits', async () => {
    expect(stateSchema('up-one')).toContain(FROM);
    await world.enqueue('upgrade', 'up-one', 'up-one-1', { targetVersion: TO });
    const view = await world.settle('up-one-1', 5_000);
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });

    const digest = world.world.sim.oci.digestOf(SIM_OPENCLAW_REPOSITORY, TO);
    const environment: EnvironmentRecord = await world.environment('up-one');
    expect(environment.state).toBe('ready');
    expect(environment.openclawVersion).toBe(TO);
    expect(environment.upgrades?.current).toMatchObject({
      version: TO,
      digest,
      revision: `ca-up-one--${revisionSuffixOf('up-one-1')}`,
      configSecret: 'openclaw-config-2026-9-6',
    });
    expect(environment.upgrades?.previous?.version).toBe(FROM);
    expect(environment.upgrades?.last).toMatchObject({ outcome: 'upgraded', targetVersion: TO });
    expect(environment.upgrades?.inFlight).toBeUndefined();

    const active = (await revisions('up-one')).filter((revision) => revision.active);
    expect(active.map((revision) => revision.name)).toEqual([environment.upgrades?.current?.revision]);
    expect(active[0]!.template?.containers?.[0]?.image).toMatch(new RegExp(`:${TO}@${digest}$`));
    expect(world.world.sim.containerApp('ca-up-one')).toMatchObject({ running: true });
    expect(stateSchema('up-one')).toContain(TO);
    // One writer: never two replicas on the share, across provisioning and the upgrade.
    const { account } = share('up-one');
    expect(world.world.sim.maxConcurrentMounts(`${account}/openclaw-state`)).toBe(1);
    expect(world.world.sim.replicaRecord('ca-up-one').length).toBeGreaterThanOrEqual(2);
  });

  it('answers up to date when the slug already runs the target', async () => {
    await world.enqueue('upgrade', 'up-one', 'up-one-2', { targetVersion: TO });
    const view = await world.settle('up-one-2', 5_000);
    expect(view).toMatchObject({ status: 'succeeded' });
    expect(view.summary).toMatch(/already runs OpenClaw 2026\.9\.6/);
  });

  it('rolls a target that never becomes ready back within the timeout plus one poll, onto the restored state', async () => {
    const before = await revisions('up-two');
    const previous = before.find((revision) => revision.active)!;
    // The target's gateway answers /readyz 503 for as long as the gate polls (5 min every 15 s).
    world.world.sim.admin.addFault({
      kind: 'http',
      surface: 'openclaw',
      path: '^/openclaw/ca-up-two/readyz$',
      status: 503,
      count: 21,
    });
    await world.enqueue('upgrade', 'up-two', 'up-two-1', { targetVersion: TO });
    const view = await world.settle('up-two-1', 5_000);
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(/rolled back: gate: still not done after 300s/);

    const environment = await world.environment('up-two');
    expect(environment.state).toBe('ready');
    expect(environment.openclawVersion).toBe(FROM);
    expect(environment.upgrades?.last).toMatchObject({ outcome: 'rolled-back', targetVersion: TO });
    expect(Object.keys(environment.upgrades?.failed ?? {})).toEqual([TO]);
    const after = await revisions('up-two');
    expect(after.filter((revision) => revision.active).map((revision) => revision.name)).toEqual([
      previous.name,
    ]);
    // The previous revision, image and config, exactly as they ran before.
    const running = after.find((revision) => revision.active)!;
    expect(running.template?.containers?.[0]?.image).toBe(previous.template?.containers?.[0]?.image);
    expect(running.template?.containers?.[0]?.image).toMatch(/:2026\.8\.2$/);
    const configVolume = running.template?.volumes?.find((volume) => volume.name === 'openclaw-config');
    expect(configVolume?.secrets?.[0]?.secretRef).toBe('openclaw-config-2026-8-2');
    expect(environment.upgrades?.current?.revision).toBe(previous.name);
    // The previous version runs again on the state as it was before the target migrated it.
    expect(stateSchema('up-two')).toContain(FROM);
    expect(stateSchema('up-two')).not.toContain(TO);
    expect(world.world.sim.containerApp('ca-up-two')).toMatchObject({ running: true });
    const { account } = share('up-two');
    expect(world.world.sim.maxConcurrentMounts(`${account}/openclaw-state`)).toBe(1);
    expect(world.adminMessages().some((message) => /up-two .*rolled back/.test(message.text))).toBe(true);
  });

  it('rolls back a crash-looping target, and a rotation afterwards restarts the active revision', async () => {
    const revision = `ca-up-three--${revisionSuffixOf('up-three-1')}`;
    world.world.sim.admin.addFault({
      kind: 'containerExit',
      path: `/revisions/${revision}/replicas/`,
      exitCode: 1,
      message: 'simulated crash',
    });
    await world.enqueue('upgrade', 'up-three', 'up-three-1', { targetVersion: TO });
    const view = await world.settle('up-three-1', 5_000);
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(/crash-looping/);
    const environment = await world.environment('up-three');
    expect(environment.upgrades?.last?.outcome).toBe('rolled-back');
    const active = (await revisions('up-three')).find((candidate) => candidate.active)!;
    expect(active.name).not.toBe(revision);

    await world.enqueue('rotate-secrets', 'up-three', 'up-three-rot', { secrets: ['gateway-token'] });
    const rotated = await world.settle('up-three-rot');
    expect(rotated, JSON.stringify(rotated)).toMatchObject({ status: 'succeeded' });
    const restarted = (await revisions('up-three')).filter((candidate) => candidate.active);
    expect(restarted.map((candidate) => candidate.name)).toEqual([active.name]);
  });

  it('upgrades with the command the README shows: claw-broker request upgrade <slug> --param targetVersion=... --wait', async () => {
    const out: string[] = [];
    const code = await runCli(
      [
        '--url',
        world.world.host.baseUrl,
        ...'request upgrade up-five --param targetVersion=2026.9.6 --wait'.split(' '),
      ],
      {
        out: (text) => out.push(text),
        err: (text) => out.push(text),
        // --wait polls while simulated time moves on (the soak is minutes of it).
        sleep: () => world.advance(5_000),
        env: { CLAW_BROKER_KEY: world.world.host.functionKey },
      },
    );
    expect(code, out.join('\n')).toBe(0);
    expect(out.at(-1)).toMatch(/^succeeded: upgraded up-five from OpenClaw 2026\.8\.2 to 2026\.9\.6/);
    expect(out.some((line) => /running: (stop|snapshot|gate|soak)/.test(line))).toBe(true);
    expect((await world.environment('up-five')).openclawVersion).toBe(TO);
  });

  it('refuses a held slug, a version below what runs, and a tag that moved', async () => {
    const at = new Date(world.clock.now()).toISOString();
    await setUpgrades('up-four', (upgrades) => ({ ...upgrades, hold: { at, by: 'alice' } }));
    await world.enqueue('upgrade', 'up-four', 'up-four-held', { targetVersion: TO });
    const held = await world.settle('up-four-held');
    expect(held.status).toBe('rejected');
    expect(held.reason).toMatch(/^up-four is held from upgrades: set by alice/);
    await setUpgrades('up-four', ({ hold: _hold, ...upgrades }) => upgrades);

    await world.enqueue('upgrade', 'up-one', 'up-one-down', { targetVersion: FROM });
    const down = await world.settle('up-one-down');
    expect(down.status).toBe('rejected');
    expect(down.reason).toMatch(/older, and OpenClaw's state migrations only go forward/);

    // The digest of 2026.9.6 was frozen by the first upgrade; the tag now points elsewhere.
    world.world.sim.oci.retag(SIM_OPENCLAW_REPOSITORY, TO);
    await world.enqueue('upgrade', 'up-four', 'up-four-moved', { targetVersion: TO });
    const moved = await world.settle('up-four-moved');
    expect(moved.status).toBe('rejected');
    expect(moved.reason).toMatch(/^TagMoved: /);
    expect((await world.environment('up-four')).openclawVersion).toBe(FROM);
  });
});
