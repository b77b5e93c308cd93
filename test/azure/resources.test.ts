import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureFailureOf, isTransient } from '../../shared/azure/azureErrors.js';
import { ensureManagedEnvironment } from '../../shared/azure/containerApps.js';
import { ensureKeyVault, keyVaultNameUsable } from '../../shared/azure/keyVault.js';
import { ensureManagedIdentity } from '../../shared/azure/managedIdentity.js';
import {
  APP_INSIGHTS_API_VERSION,
  ensureAppInsights,
  ensureLogAnalyticsWorkspace,
  logAnalyticsNameReserved,
} from '../../shared/azure/monitoring.js';
import { ensureResourceGroup, listResourcesInGroup } from '../../shared/azure/resourceGroups.js';
import { ensureStorage, storageAccountKey, storageAccountNameUsable } from '../../shared/azure/storage.js';
import { isBrokerError } from '../../shared/errors.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

/**
 * Contract tests of the footprint's resource adapters against the simulated ARM: each creates what
 * is missing, makes no write when everything is as desired, and repairs what drifted.
 */
let t: AzureFixture;
const rg = 'claw-contract';
const base = { resourceGroup: rg, slug: 'contract', location: 'westeurope' };

beforeAll(async () => {
  t = await startAzureFixture();
  await ensureResourceGroup(t.azure, { name: rg, slug: 'contract', location: 'westeurope' });
});

afterAll(async () => {
  await t?.sim.stop();
});

describe('resource group', () => {
  it('is created with the ownership tags, read and left alone the second time', async () => {
    const first = await ensureResourceGroup(t.azure, {
      name: 'claw-rg-a',
      slug: 'rg-a',
      location: 'westeurope',
    });
    expect(first.change).toEqual({ resource: 'resource group claw-rg-a', action: 'created' });
    const before = t.lastSeq();
    const second = await ensureResourceGroup(t.azure, {
      name: 'claw-rg-a',
      slug: 'rg-a',
      location: 'westeurope',
    });
    expect(first.value.created).toBe(true);
    expect(second).toEqual({ value: { id: first.value.id, created: false } });
    expect(t.armWrites(before)).toEqual([]);
  });

  it('gets a removed slug tag back and keeps tags others added', async () => {
    await t.azure.resources.resourceGroups.createOrUpdate('claw-rg-a', {
      location: 'westeurope',
      tags: { 'managed-by': 'claw-broker', 'cost-center': 'x1' },
    });
    const repaired = await ensureResourceGroup(t.azure, {
      name: 'claw-rg-a',
      slug: 'rg-a',
      location: 'westeurope',
    });
    expect(repaired.change).toMatchObject({ action: 'updated', fields: ['tags.claw-broker-slug'] });
    expect((await t.azure.resources.resourceGroups.get('claw-rg-a')).tags).toEqual({
      'managed-by': 'claw-broker',
      'claw-broker-slug': 'rg-a',
      'cost-center': 'x1',
    });
  });

  it('refuses a group of that name the broker does not own', async () => {
    await t.azure.resources.resourceGroups.createOrUpdate('claw-taken', { location: 'westeurope' });
    const error = await ensureResourceGroup(t.azure, {
      name: 'claw-taken',
      slug: 'taken',
      location: 'westeurope',
    }).catch((e: unknown) => e);
    expect(isBrokerError(error) && error.code).toBe('ResourceNotOwned');
  });
});

describe('managed identity, Key Vault, storage and monitoring', () => {
  it('creates a user-assigned identity once, keeping its principal', async () => {
    const first = await ensureManagedIdentity(t.azure, { ...base, name: 'id-contract' });
    const before = t.lastSeq();
    const second = await ensureManagedIdentity(t.azure, { ...base, name: 'id-contract' });
    expect(first.change?.action).toBe('created');
    expect(second).toEqual({ value: first.value });
    expect(t.armWrites(before)).toEqual([]);
  });

  it('skips the read of what cannot exist yet inside a group this run created, and converges on a repeat all the same', async () => {
    const before = t.lastSeq();
    const first = await ensureManagedIdentity(t.azure, { ...base, name: 'id-fresh' }, { inNewGroup: true });
    expect(
      t.requests(before).filter((entry) => entry.method === 'GET' && entry.path.endsWith('/id-fresh')),
    ).toEqual([]);
    const repeated = await ensureManagedIdentity(
      t.azure,
      { ...base, name: 'id-fresh' },
      { inNewGroup: true },
    );
    expect(repeated.value).toEqual(first.value);
  });

  it('creates a Key Vault in RBAC mode with soft delete, and turns RBAC mode back on when someone switched it off', async () => {
    const input = { ...base, name: 'kv-contract-1', tenantId: t.sim.tenantId };
    const created = await ensureKeyVault(t.azure, input);
    expect(created.change?.action).toBe('created');
    const vault = await t.azure.keyVaults.vaults.get(rg, 'kv-contract-1');
    expect(vault.properties).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
    });

    const before = t.lastSeq();
    expect((await ensureKeyVault(t.azure, input)).change).toBeUndefined();
    expect(t.armWrites(before)).toEqual([]);

    await t.azure.keyVaults.vaults.beginCreateOrUpdateAndWait(rg, 'kv-contract-1', {
      location: 'westeurope',
      tags: vault.tags,
      properties: { ...vault.properties, enableRbacAuthorization: false },
    });
    const repaired = await ensureKeyVault(t.azure, input);
    expect(repaired.change).toMatchObject({
      action: 'updated',
      fields: ['properties.enableRbacAuthorization'],
    });
    expect((await t.azure.keyVaults.vaults.get(rg, 'kv-contract-1')).properties.enableRbacAuthorization).toBe(
      true,
    );
  });

  it('reads a vault whose GET leaves out the security settings (as the 2026-02-01 example does) as their spec defaults: no drift', async () => {
    const input = { ...base, name: 'kv-contract-3', tenantId: t.sim.tenantId };
    const created = await ensureKeyVault(t.azure, input);
    // The other answer a real GET may give: the settings absent (getVault.json shows none of them).
    const stored = t.sim.arm.get(created.value.id)!.body['properties'] as Record<string, unknown>;
    delete stored['enableRbacAuthorization'];
    delete stored['enableSoftDelete'];
    delete stored['publicNetworkAccess'];
    const before = t.lastSeq();
    expect((await ensureKeyVault(t.azure, input)).change).toBeUndefined();
    expect(t.armWrites(before)).toEqual([]);
  });

  it('recovers its own soft-deleted vault, and calls a name held by a soft-deleted vault unusable for a new one', async () => {
    const input = { ...base, name: 'kv-contract-2', tenantId: t.sim.tenantId };
    await ensureKeyVault(t.azure, input);
    await t.azure.keyVaults.vaults.delete(rg, 'kv-contract-2');
    expect(await keyVaultNameUsable(t.azure, { resourceGroup: 'claw-other', name: 'kv-contract-2' })).toBe(
      false,
    );
    const recovered = await ensureKeyVault(t.azure, input);
    expect(recovered.change?.action).toBe('recovered');
    expect(await keyVaultNameUsable(t.azure, { resourceGroup: rg, name: 'kv-contract-2' })).toBe(true);
    expect(await keyVaultNameUsable(t.azure, { resourceGroup: rg, name: 'kv-contract-new' })).toBe(true);
  });

  it('creates the storage account with its state share and log container, reads them all the second time', async () => {
    const input = {
      ...base,
      accountName: 'stcontract1',
      shareName: 'openclaw-state',
      containerName: 'openclaw-logs',
    };
    const created = await ensureStorage(t.azure, input);
    expect(created.changes.map((change) => change.action)).toEqual(['created', 'created', 'created']);
    const account = await t.azure.storage.storageAccounts.getProperties(rg, 'stcontract1');
    expect(account).toMatchObject({
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
      enableHttpsTrafficOnly: true,
    });
    const before = t.lastSeq();
    expect((await ensureStorage(t.azure, input)).changes).toEqual([]);
    expect(t.armWrites(before)).toEqual([]);
    expect(await storageAccountKey(t.azure, { resourceGroup: rg, accountName: 'stcontract1' })).toMatch(
      /^[A-Za-z0-9+/=]{40,}$/,
    );
    expect(
      await storageAccountNameUsable(t.azure, {
        resourceGroup: 'claw-elsewhere',
        accountName: 'stcontract1',
      }),
    ).toBe(false);
  });

  it('creates a Log Analytics workspace and a workspace-based Application Insights component', async () => {
    const workspace = await ensureLogAnalyticsWorkspace(t.azure, { ...base, name: 'log-contract-1' });
    expect(workspace.value.customerId).toMatch(/^[0-9a-f-]{36}$/);
    const component = await ensureAppInsights(t.azure, {
      ...base,
      name: 'appi-contract',
      workspaceId: workspace.value.id,
    });
    expect(component.change?.action).toBe('created');
    const stored = await t.azure.resources.resources.getById(component.value.id, APP_INSIGHTS_API_VERSION);
    expect(stored.properties).toMatchObject({
      WorkspaceResourceId: workspace.value.id,
      IngestionMode: 'LogAnalytics',
    });
    const before = t.lastSeq();
    expect(
      (await ensureLogAnalyticsWorkspace(t.azure, { ...base, name: 'log-contract-1' })).change,
    ).toBeUndefined();
    expect(
      (await ensureAppInsights(t.azure, { ...base, name: 'appi-contract', workspaceId: workspace.value.id }))
        .change,
    ).toBeUndefined();
    expect(t.armWrites(before)).toEqual([]);
  });

  it('knows a workspace name stays reserved after its deletion', async () => {
    await ensureLogAnalyticsWorkspace(t.azure, { ...base, name: 'log-contract-2' });
    expect(await logAnalyticsNameReserved(t.azure, 'log-contract-2')).toBe(false);
    await t.azure.logAnalytics.workspaces.beginDeleteAndWait(rg, 'log-contract-2', {
      updateIntervalInMs: 10,
    });
    expect(await logAnalyticsNameReserved(t.azure, 'log-contract-2')).toBe(true);
  });

  it('lists what a group holds, for failure reports', async () => {
    const listed = await listResourcesInGroup(t.azure, rg);
    expect(listed).toContainEqual({ type: 'Microsoft.KeyVault/vaults', name: 'kv-contract-1' });
    expect(await listResourcesInGroup(t.azure, 'claw-never-made')).toEqual([]);
  });
});

describe('Azure errors and throttling', () => {
  it('waits Retry-After on ARM 429s and then succeeds', async () => {
    const fault = t.sim.admin.addFault({
      kind: 'http',
      status: 429,
      retryAfterSeconds: 1,
      method: 'GET',
      path: '/resourceGroups/claw-throttled$',
      count: 2,
    });
    const before = t.lastSeq();
    await t.azure.resources.resourceGroups.createOrUpdate('claw-throttled', { location: 'westeurope' });
    const started = Date.now();
    await t.azure.resources.resourceGroups.get('claw-throttled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(t.sim.admin.faults().find((f) => f.id === fault.id)?.fired).toBe(2);
    const gets = t
      .requests(before)
      .filter((entry) => entry.method === 'GET' && entry.path.endsWith('claw-throttled'));
    expect(gets.map((entry) => entry.status)).toEqual([429, 429, 200]);
  });

  it('reports throttling that outlasts the retries as transient, with Azure’s code', async () => {
    t.sim.admin.addFault({
      kind: 'http',
      status: 429,
      retryAfterSeconds: 1,
      path: '/resourceGroups/claw-storm$',
      count: 5,
    });
    const error = await t
      .clients({ AZURE_MAX_RETRIES: '1' })
      .resources.resourceGroups.get('claw-storm')
      .catch((e: unknown) => e);
    expect(isTransient(error)).toBe(true);
    expect(azureFailureOf(error)).toMatchObject({ code: 'TooManyRequests', status: 429 });
  });

  it('reports a failed long-running operation with Azure’s code and message, as not transient, and redeploys what it left Failed', async () => {
    const workspace = await ensureLogAnalyticsWorkspace(t.azure, { ...base, name: 'log-contract-1' });
    t.sim.admin.addFault({
      kind: 'lroFailed',
      method: 'PUT',
      path: '/managedEnvironments/cae-contract-failed$',
      code: 'ManagedEnvironmentProvisioningError',
      message: 'The environment could not be provisioned.',
      count: 1,
    });
    const input = {
      ...base,
      name: 'cae-contract-failed',
      workspace: { resourceGroup: rg, name: 'log-contract-1', customerId: workspace.value.customerId },
    };
    const error = await ensureManagedEnvironment(t.azure, input).catch((e: unknown) => e);
    expect(azureFailureOf(error)).toEqual({
      code: 'ManagedEnvironmentProvisioningError',
      message: 'The environment could not be provisioned.',
    });
    expect(isTransient(error)).toBe(false);
    const retried = await ensureManagedEnvironment(t.azure, input);
    expect(retried.change).toMatchObject({ action: 'updated', fields: ['provisioningState (Failed)'] });
  });
});
