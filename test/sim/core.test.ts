import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

describe('the simulator core', () => {
  let t: TrustedSimulator;
  beforeAll(async () => {
    t = await startTrustedSimulator();
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('issues tokens to the broker through ClientSecretCredential over trusted TLS', async () => {
    const token = await t.credential.getToken(`${t.sim.url}/.default`);
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      oid: t.sim.broker.objectId,
      appid: t.sim.broker.clientId,
      tid: t.sim.tenantId,
      aud: t.sim.url,
    });
  });

  it('creates, reads and lists resource groups with the real ResourceManagementClient', async () => {
    const client = new ResourceManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    const created = await client.resourceGroups.createOrUpdate('claw-alpha', {
      location: 'westeurope',
      tags: { slug: 'alpha' },
    });
    expect(created.properties?.provisioningState).toBe('Succeeded');
    expect((await client.resourceGroups.get('claw-alpha')).tags).toEqual({ slug: 'alpha' });
    expect((await client.resourceGroups.checkExistence('claw-alpha')).body).toBe(true);
    expect((await client.resourceGroups.checkExistence('claw-missing')).body).toBe(false);
    const names: string[] = [];
    for await (const group of client.resourceGroups.list()) names.push(group.name!);
    expect(names).toContain('claw-alpha');
  });
});

describe('the simulator in real-time mode (the sandbox)', () => {
  let t: TrustedSimulator;
  beforeAll(async () => {
    t = await startTrustedSimulator({ clock: { mode: 'real' }, provisioningSeconds: 0.2 });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('finishes provisioning as wall-clock time passes, without anyone advancing the clock', async () => {
    const client = new ResourceManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    await client.resourceGroups.createOrUpdate('claw-real', { location: 'westeurope' });
    const poller = await client.resourceGroups.beginDelete('claw-real', { updateIntervalInMs: 50 });
    await poller.pollUntilDone();
    const polls = t.sim.admin.requests().filter((entry) => /operationresults/i.test(entry.path));
    expect(polls.at(-1)?.status).toBe(200);
    expect(t.sim.admin.requests().find((entry) => entry.method === 'DELETE')?.status).toBe(202);
    expect(t.sim.clock.mode).toBe('real');
  });
});
