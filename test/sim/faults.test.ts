import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

describe('faults injected into the simulator, seen through the real SDK clients', () => {
  let t: TrustedSimulator;
  let resources: ResourceManagementClient;
  let vaults: KeyVaultManagementClient;
  const vaultParameters = () => ({
    location: 'westeurope',
    properties: {
      tenantId: t.sim.tenantId,
      sku: { family: 'A' as const, name: 'standard' as const },
      enableRbacAuthorization: true,
    },
  });

  beforeAll(async () => {
    t = await startTrustedSimulator();
    resources = new ResourceManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    vaults = new KeyVaultManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    await resources.resourceGroups.createOrUpdate('claw-faults', { location: 'westeurope' });
  });
  afterEach(() => t.sim.admin.clearFaults());
  afterAll(async () => {
    await t.sim.stop();
  });

  const logFor = (fault: { id: string }) =>
    t.sim.admin.requests().filter((entry) => entry.fault === fault.id);

  it('answers 429 with Retry-After, which the SDK retry policy honours before succeeding', async () => {
    const fault = t.sim.admin.addFault({
      kind: 'http',
      status: 429,
      surface: 'arm',
      method: 'GET',
      path: '/resourcegroups/claw-faults$',
      count: 1,
      retryAfterSeconds: 1,
    });
    const group = await resources.resourceGroups.get('claw-faults');
    expect(group.name).toBe('claw-faults');
    expect(logFor(fault).map((entry) => entry.status)).toEqual([429]);
    const after = t.sim.admin
      .requests()
      .filter((entry) => entry.path.endsWith('/claw-faults') && entry.method === 'GET');
    expect(after.at(-1)?.status).toBe(200);
  });

  it('answers 503 and 500, which the SDK retries', async () => {
    const unavailable = t.sim.admin.addFault({
      kind: 'http',
      status: 503,
      surface: 'arm',
      path: 'claw-faults$',
      count: 1,
      retryAfterSeconds: 0,
    });
    const internal = t.sim.admin.addFault({
      kind: 'http',
      status: 500,
      surface: 'arm',
      path: 'claw-faults$',
      count: 1,
    });
    await expect(resources.resourceGroups.get('claw-faults')).resolves.toMatchObject({ name: 'claw-faults' });
    expect(logFor(unavailable)).toHaveLength(1);
    expect(logFor(internal)).toHaveLength(1);
  });

  it('surfaces a persistent 500 as an error once retries are spent', async () => {
    t.sim.admin.addFault({
      kind: 'http',
      status: 500,
      surface: 'arm',
      path: 'claw-faults$',
      code: 'InternalServerError',
    });
    await expect(resources.resourceGroups.get('claw-faults')).rejects.toMatchObject({
      statusCode: 500,
      code: 'InternalServerError',
    });
  });

  it('resets the connection, which the SDK retries as a network error', async () => {
    const fault = t.sim.admin.addFault({ kind: 'reset', surface: 'arm', path: 'claw-faults$', count: 1 });
    await expect(resources.resourceGroups.get('claw-faults')).resolves.toMatchObject({ name: 'claw-faults' });
    expect(logFor(fault).map((entry) => entry.status)).toEqual([0]);
  });

  it('hangs a request until the client gives up', async () => {
    const fault = t.sim.admin.addFault({ kind: 'timeout', surface: 'arm', path: 'claw-faults$' });
    await expect(
      resources.resourceGroups.get('claw-faults', { abortSignal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    t.sim.admin.removeFault(fault.id);
    await expect(resources.resourceGroups.get('claw-faults')).resolves.toMatchObject({ name: 'claw-faults' });
  });

  it('ends a long-running operation Failed, which pollUntilDone raises', async () => {
    t.sim.admin.addFault({
      kind: 'lroFailed',
      method: 'PUT',
      path: '/vaults/kv-claw-fail$',
      code: 'VaultProvisioningFailed',
      count: 1,
    });
    await expect(
      vaults.vaults.createOrUpdate('claw-faults', 'kv-claw-fail', vaultParameters(), t.poll),
    ).rejects.toThrow();
    expect((await vaults.vaults.get('claw-faults', 'kv-claw-fail')).properties.provisioningState).toBe(
      'Failed',
    );
    await expect(
      vaults.vaults.createOrUpdate('claw-faults', 'kv-claw-fail', vaultParameters(), t.poll),
    ).resolves.toMatchObject({
      properties: { provisioningState: 'Succeeded' },
    });
  });

  it('keeps provisioning running for the simulated seconds a slowProvisioning fault asks for', async () => {
    t.sim.admin.addFault({
      kind: 'slowProvisioning',
      method: 'PUT',
      path: '/vaults/kv-claw-slow$',
      seconds: 600,
      count: 1,
    });
    const poller = await vaults.vaults.beginCreateOrUpdate(
      'claw-faults',
      'kv-claw-slow',
      vaultParameters(),
      t.poll,
    );
    await poller.poll();
    await poller.poll();
    expect(poller.isDone()).toBe(false);
    expect((await vaults.vaults.get('claw-faults', 'kv-claw-slow')).properties.provisioningState).toBe(
      'RegisteringDns',
    );
    t.sim.admin.advance(600_000);
    expect((await poller.pollUntilDone()).properties.provisioningState).toBe('Succeeded');
  });

  it('fires a fault only after its skip count and only as often as its count says', async () => {
    const fault = t.sim.admin.addFault({
      kind: 'http',
      status: 500,
      surface: 'arm',
      path: 'claw-faults$',
      skip: 1,
      count: 1,
    });
    await resources.resourceGroups.get('claw-faults');
    expect(t.sim.admin.faults().find((candidate) => candidate.id === fault.id)).toMatchObject({
      seen: 1,
      fired: 0,
    });
    await resources.resourceGroups.get('claw-faults');
    expect(t.sim.admin.faults().find((candidate) => candidate.id === fault.id)).toMatchObject({ fired: 1 });
  });
});

describe('ARM throttling in the simulator', () => {
  let t: TrustedSimulator;
  beforeAll(async () => {
    t = await startTrustedSimulator({ throttle: { buckets: { write: { burst: 2, perSecond: 1 } } } });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('empties the write bucket per principal, answers 429 with Retry-After, and the SDK waits and succeeds', async () => {
    const client = new ResourceManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    for (const name of ['claw-t1', 'claw-t2', 'claw-t3'])
      await client.resourceGroups.createOrUpdate(name, { location: 'westeurope' });
    const writes = t.sim.admin.requests().filter((entry) => entry.method === 'PUT');
    expect(writes.map((entry) => entry.status)).toEqual([201, 201, 429, 201]);
    expect(writes[2]?.throttled).toBe(true);
  });

  it('reports the remaining reads in x-ms-ratelimit-remaining-subscription-reads', async () => {
    const token = await t.credential.getToken(`${t.sim.url}/.default`);
    const response = await fetch(
      `${t.sim.url}/subscriptions/${t.sim.subscriptionId}/resourcegroups?api-version=2025-04-01`,
      {
        headers: { authorization: `Bearer ${token.token}` },
      },
    );
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('x-ms-ratelimit-remaining-subscription-reads'))).toBeGreaterThan(200);
    expect(response.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
