import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltInRoles } from '../../shared/azure/roleAssignments.js';
import { MaintenanceWorld } from '../rotation/maintenanceWorld.js';

/**
 * renew-sas against the simulated Storage blob data plane, which checks SAS signatures, permissions
 * and expiry in simulated time: the SAS the broker issues writes logs and does nothing else, is
 * signed with the broker's user-delegation key, reaches the app, and is renewed before it expires;
 * a renewal that fails is retried with back-off and told to the admin chat before expiry.
 */
let world: MaintenanceWorld;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

beforeAll(async () => {
  world = await MaintenanceWorld.start();
  for (const slug of ['logs-a', 'logs-b']) {
    const view = await world.provision(slug);
    if (view.status !== 'succeeded') throw new Error(`provisioning ${slug}: ${JSON.stringify(view)}`);
  }
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

const currentSas = (slug: string) => world.secretVersions(slug, 'log-shipping-sas').at(-1)!;

/** HTTP status of a blob operation made with the SAS (0 when it succeeded). */
async function statusOf(operation: () => Promise<unknown>): Promise<number> {
  try {
    await operation();
    return 0;
  } catch (error) {
    return (error as { statusCode?: number }).statusCode ?? -1;
  }
}

describe('renewing the log-shipping SAS', () => {
  it('issues a write-and-create SAS signed with a user-delegation key, stores it with its expiry, and delivers it to the app', async () => {
    await world.enqueue('renew-sas', 'logs-a', 'sas-a-1');
    const view = await world.settle('sas-a-1');
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });

    const stored = currentSas('logs-a');
    const sas = new URL(stored.value);
    expect(sas.pathname).toMatch(/\/openclaw-logs$/);
    expect(Object.fromEntries(sas.searchParams)).toMatchObject({ sp: 'cw', sr: 'c', spr: 'https' });
    expect(sas.searchParams.get('skoid')).toBe(world.sim.broker.objectId);
    expect(sas.searchParams.has('sig')).toBe(true);
    const expiresAt = Date.parse(sas.searchParams.get('se')!);
    expect(stored.expires).toBe(Math.floor(expiresAt / 1000) * 1000);
    expect(expiresAt - world.clock.now()).toBeLessThanOrEqual(7 * DAY);

    const environment = await world.environment('logs-a');
    expect(Date.parse(environment.sasExpiresAt!)).toBe(expiresAt);
    const issuedAt = Date.parse(environment.maintenance!.sasIssuedAt!);
    const renewAt = Date.parse(environment.maintenance!.sasRenewAt!);
    const fraction = (renewAt - issuedAt) / (expiresAt - issuedAt);
    expect(fraction).toBeGreaterThanOrEqual(0.6);
    expect(fraction).toBeLessThanOrEqual(0.72);

    const account = world.names('logs-a').storageAccount;
    const brokerRoles = [...world.sim.arm.roleAssignments.values()]
      .filter((a) => a.principalId === world.sim.broker.objectId && a.scope.endsWith(`/${account}`))
      .map((a) => a.roleDefinitionId.split('/').pop())
      .sort();
    expect(brokerRoles).toEqual(
      [BuiltInRoles.storageBlobDelegator, BuiltInRoles.storageBlobDataContributor].sort(),
    );

    const held = (world.sim.arm.get(containerAppId('logs-a'))?.hidden['secrets'] ?? []) as {
      name: string;
      value?: string;
    }[];
    expect(held.find((secret) => secret.name === 'log-shipping-sas')?.value).toBe(stored.value);
  });

  it('writes and creates log blobs with the SAS, and can do nothing else', async () => {
    const container = new ContainerClient(currentSas('logs-a').value);
    const blob = container.getBlockBlobClient('gateway/2026-01-01.jsonl');
    expect(await statusOf(() => blob.upload('{"msg":"hello"}\n', 16))).toBe(0);
    expect(await statusOf(() => blob.download())).toBe(403);
    expect(await statusOf(() => container.listBlobsFlat().next())).toBe(403);
    expect(await statusOf(() => blob.delete())).toBe(403);

    const sas = new URL(currentSas('logs-a').value);
    const elsewhere = new ContainerClient(
      `${sas.origin}${sas.pathname.replace(/openclaw-logs$/, 'other')}${sas.search}`,
    );
    expect(await statusOf(() => elsewhere.getBlockBlobClient('x.log').upload('x', 1))).toBe(403);

    const otherAccount = new URL(
      currentSas('logs-a').value.replace(
        world.names('logs-a').storageAccount,
        world.names('logs-b').storageAccount,
      ),
    );
    expect(
      await statusOf(() => new ContainerClient(otherAccount.href).getBlockBlobClient('x.log').upload('x', 1)),
    ).toBe(403);

    const stored = world.sim.blob
      .account(world.names('logs-a').storageAccount)
      ?.containers.get('openclaw-logs');
    expect([...(stored?.blobs.keys() ?? [])]).toEqual(['gateway/2026-01-01.jsonl']);
  });

  it('keeps the SAS reference through a provision request that converges the footprint', async () => {
    const writesBefore = world.world.lastSeq();
    await world.world.requestProvision('logs-a', 'prov-logs-a-again', {});
    const view = await world.settle('prov-logs-a-again');
    expect(view.summary).toMatch(/^logs-a converged: nothing had drifted/);
    const appWrites = world.world
      .requests(writesBefore)
      .filter(
        (entry) =>
          entry.surface === 'arm' && entry.method !== 'GET' && entry.path.includes('/containerApps/'),
      );
    expect(appWrites).toEqual([]);
    const held = (world.sim.arm.get(containerAppId('logs-a'))?.hidden['secrets'] ?? []) as { name: string }[];
    expect(held.map((secret) => secret.name)).toContain('log-shipping-sas');
  });

  it('refuses a renewal requested before the current SAS was issued', async () => {
    const before = world.secretVersions('logs-a', 'log-shipping-sas').length;
    const madeEarlier = new Date(world.clock.now() - HOUR).toISOString();
    await world.enqueue('renew-sas', 'logs-a', 'sas-a-late', {}, madeEarlier);
    const view = await world.settle('sas-a-late');
    expect(view.status).toBe('rejected');
    expect(view.reason).toMatch(/was renewed at .+, after this request was made/);
    expect(world.secretVersions('logs-a', 'log-shipping-sas')).toHaveLength(before);
  });
});

function containerAppId(slug: string): string {
  return `/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-${slug}/providers/Microsoft.App/containerApps/ca-${slug}`;
}

describe('renewal over time', () => {
  it('is retried with growing back-off and told to the admin chat, and renewed before the SAS expires', async () => {
    const slug = 'logs-a';
    const first = await world.environment(slug);
    const expiresAt = Date.parse(first.sasExpiresAt!);
    const renewAt = Date.parse(first.maintenance!.sasRenewAt!);
    const account = world.names(slug).storageAccount;
    const fault = world.sim.admin.addFault({
      kind: 'http',
      status: 400,
      code: 'InvalidHeaderValue',
      message: 'The value for one of the HTTP headers is not in the correct format.',
      surface: 'blob',
      method: 'POST',
      path: `/blob/${account}/?$`,
      count: 2,
    });
    const alertsBefore = world.adminMessages().length;

    await world.advance(renewAt - world.clock.now());
    let renewed = await world.environment(slug);
    for (let hours = 0; hours < 48 && renewed.sasExpiresAt === first.sasExpiresAt; hours += 6) {
      await world.advance(6 * HOUR);
      renewed = await world.environment(slug);
    }
    expect(world.sim.admin.faults().find((f) => f.id === fault.id)?.fired).toBe(2);
    expect(Date.parse(renewed.sasExpiresAt!)).toBeGreaterThan(expiresAt);
    expect(renewed.maintenance?.sasRenewal).toBeUndefined();

    const alerts = world.adminMessages().slice(alertsBefore);
    expect(alerts).toHaveLength(2);
    for (const [index, alert] of alerts.entries()) {
      expect(alert.text).toContain(`renewing the log-shipping SAS of ${slug} failed (attempt ${index + 1})`);
      expect(alert.text).toContain(`The current SAS expires at ${first.sasExpiresAt}`);
      expect(alert.at).toBeLessThan(expiresAt);
    }
    const issued = Date.parse(renewed.maintenance!.sasIssuedAt!);
    expect(issued).toBeLessThan(expiresAt);

    // Each attempt has its own request id; the wait before the next one doubles.
    const expiry = first.sasExpiresAt!.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const waits: number[] = [];
    for (const [index, alert] of alerts.entries()) {
      const attempt = (await world.world.api('GET', `/api/requests/sas:${slug}:1:${expiry}:${index}`))
        .body as {
        status: string;
        reason: string;
        finishedAt: string;
      };
      expect(attempt.status).toBe('failed');
      expect(attempt.reason).toContain('InvalidHeaderValue');
      const retryAt = /the next attempt runs after (\S+)\.$/.exec(alert.text)![1]!;
      waits.push(Date.parse(retryAt) - Date.parse(attempt.finishedAt));
    }
    expect(waits[0]).toBe(30 * 60_000);
    expect(waits[1]).toBe(60 * 60_000);
    expect((await world.world.request(`sas:${slug}:1:${expiry}:2`)).status).toBe('succeeded');
  });

  it('a SAS stops working at its expiry, in simulated time', async () => {
    // The SAS sweep issued logs-b's SAS while the tests above moved time on.
    const blob = new ContainerClient(currentSas('logs-b').value).getBlockBlobClient('late.log');
    const expiresAt = Date.parse((await world.environment('logs-b')).sasExpiresAt!);
    await world.world.api('POST', '/api/sweeps/pause', { reason: 'hold renewals for this check' });
    await world.advance(expiresAt - world.clock.now() - 60_000);
    expect(await statusOf(() => blob.upload('x', 1))).toBe(0);
    await world.advance(2 * 60_000);
    expect(await statusOf(() => blob.upload('x', 1))).toBe(403);
    await world.world.api('POST', '/api/sweeps/resume');
  });
});
