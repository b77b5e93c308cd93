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
  world = await MaintenanceWorld.start();
  for (const slug of ['gw-one']) {
    const view = await world.provision(slug);
    if (view.status !== 'succeeded') throw new Error(`provisioning ${slug}: ${JSON.stringify(view)}`);
  }
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

/** What the gateway answers to its admin RPC with this bearer token. */
async function rpcStatus(app: string, token: string): Promise<number> {
  const response = await fetch(`${world.sim.url}/openclaw/${app}/rpc`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: '1', method: 'device.pair.list', params: {} }),
  });
  await response.arrayBuffer();
  return response.status;
}

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
    expect(await rpcStatus('ca-gw-one', fresh.value)).toBe(200);
    expect(await rpcStatus('ca-gw-one', old.value)).toBe(401);

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
