import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appStateShare } from '../../sandbox/sim/index.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import { stateSchema } from './support.js';

/**
 * The broker's upgrade on real gateways (`npm run sandbox -- --real-openclaw`): the share the
 * broker snapshots and restores through the Azure Files API is the state dir a real gateway runs
 * on (laid out at its start, written back when its revision is deactivated). 2026.8.2 writes real
 * state and 2026.9.6 migrates it at start; a forced gate failure rolls back, and 2026.8.2 starts
 * again, ready, on the restored snapshot. That an older release refuses migrated state (exit 78) and
 * starts on a restored copy is proven on the gateways themselves: test/openclaw-real/upgrade.test.ts.
 */
const FROM = '2026.8.2';
const TO = '2026.9.6';
let world: ProvisionWorld;

beforeAll(async () => {
  world = await ProvisionWorld.start({
    realOpenClaw: {},
    settings: {
      DURABLE_TASK_HUB: 'clawrealupgrade',
      PROVISION_READY_TIMEOUT: '5m',
      UPGRADE_POLL_INTERVAL: '2s',
      UPGRADE_READY_TIMEOUT: '3m',
      UPGRADE_STOP_TIMEOUT: '2m',
      UPGRADE_SOAK: '5s',
    },
  });
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

/** The schema of the state database the share holds (as the stopped gateway left it). */
async function shareSchema(app: string): Promise<number | undefined> {
  const share = appStateShare(world.sim.arm, app)!;
  const dir = mkdtempSync(path.join(tmpdir(), 'share-db-'));
  try {
    let found = false;
    for (const suffix of ['', '-wal', '-shm']) {
      const bytes = world.sim.files.readBytes(share.account, share.share, `state/openclaw.sqlite${suffix}`);
      if (!bytes) continue;
      writeFileSync(path.join(dir, `openclaw.sqlite${suffix}`), bytes);
      found ||= suffix === '';
    }
    if (!found) return undefined;
    return (await stateSchema(path.join(dir, 'openclaw.sqlite'))).userVersion;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function upgrade(slug: string, requestId: string) {
  const answer = await world.api('POST', '/api/requests', {
    op: 'upgrade',
    slug,
    requestId,
    params: { targetVersion: TO },
  });
  expect(answer.status).toBe(202);
}

describe('upgrades on real gateways', { timeout: 600_000 }, () => {
  it('upgrades a slug whose share holds 2026.8.2 state: 2026.9.6 migrates it and reports ready', async () => {
    const provisioned = await world.provision('realup', 'real-prov-up', {
      channels: [],
      openclawVersion: FROM,
    });
    expect(provisioned.status).toBe('succeeded');
    expect(world.realOpenClaw!.list()).toMatchObject([{ app: 'ca-realup', version: FROM, ready: true }]);

    await upgrade('realup', 'real-up-1');
    const view = await world.untilFinished('real-up-1', 480_000);
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    expect(world.realOpenClaw!.list()).toMatchObject([{ app: 'ca-realup', version: TO, ready: true }]);
    // The snapshot was taken of 2026.8.2's real state (schema 15); the share now follows 2026.9.6.
    const environment = (await world.environment('realup')) as { openclawVersion: string };
    expect(environment.openclawVersion).toBe(TO);
    await world.realOpenClaw!.stopApp('ca-realup');
    expect(await shareSchema('ca-realup')).toBe(18);
  });

  it('rolls a forced gate failure back: 2026.8.2 starts again, ready, on the restored state', async () => {
    const provisioned = await world.provision('realback', 'real-prov-back', {
      channels: [],
      openclawVersion: FROM,
    });
    expect(provisioned.status).toBe('succeeded');
    // The target's gateway runs (and migrates the share) but its /readyz never reaches the broker
    // as ready: the gate fails at its timeout. The fault goes when the rollback starts.
    const fault = world.sim.admin.addFault({
      kind: 'http',
      surface: 'openclaw',
      path: '^/openclaw/ca-realback/readyz$',
      status: 503,
    });
    await upgrade('realback', 'real-back-1');
    // The sandbox starts a real gateway when a request reaches its app, and every request the
    // broker makes (/readyz) is faulted: the target's revision runs in the simulator but its real
    // gateway never starts, so this test does not make it migrate the share before the rollback
    // (upgrade.test.ts proves migration, refusal and restore on the gateways themselves).
    await world.until(
      'real-back-1',
      (request) =>
        String(request.step ?? '').startsWith('rollback') ||
        ['succeeded', 'failed', 'rejected'].includes(request.status),
      'the rollback to start',
      480_000,
    );
    world.sim.admin.removeFault(fault.id);
    const view = await world.untilFinished('real-back-1', 480_000);
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(/rolled back: gate: still not done after 180s/);
    expect(world.realOpenClaw!.list()).toMatchObject([{ app: 'ca-realback', version: FROM, ready: true }]);
    const environment = (await world.environment('realback')) as {
      openclawVersion: string;
      upgrades?: { last?: { outcome: string } };
    };
    expect(environment.openclawVersion).toBe(FROM);
    expect(environment.upgrades?.last?.outcome).toBe('rolled-back');
    await world.realOpenClaw!.stopApp('ca-realback');
    expect(await shareSchema('ca-realback')).toBe(15);
  });
});
