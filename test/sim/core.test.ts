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
