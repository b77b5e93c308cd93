import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SecretClient } from '@azure/keyvault-secrets';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

const secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7';

describe('Key Vault in the simulator', () => {
  let t: TrustedSimulator;
  let vaults: KeyVaultManagementClient;
  let authorization: AuthorizationManagementClient;
  let resources: ResourceManagementClient;

  const vaultParameters = (tenantId: string) => ({
    location: 'westeurope',
    properties: {
      tenantId,
      sku: { family: 'A' as const, name: 'standard' as const },
      enableRbacAuthorization: true,
      softDeleteRetentionInDays: 7,
    },
  });

  const grantOfficer = (scope: string) =>
    authorization.roleAssignments.create(scope, randomUUID(), {
      roleDefinitionId: `/subscriptions/${t.sim.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${secretsOfficer}`,
      principalId: t.sim.broker.objectId,
      principalType: 'ServicePrincipal',
    });

  const secretClient = (vaultUri: string) =>
    new SecretClient(vaultUri, t.credential, {
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 1, retryDelayInMs: 10 },
    });

  beforeAll(async () => {
    t = await startTrustedSimulator({ dataPlanePropagationSeconds: 30 });
    vaults = new KeyVaultManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    authorization = new AuthorizationManagementClient(t.credential, t.sim.subscriptionId, {
      ...t.armOptions,
    });
    resources = new ResourceManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    await resources.resourceGroups.createOrUpdate('claw-kv', { location: 'westeurope' });
    await resources.resourceGroups.createOrUpdate('claw-other', { location: 'westeurope' });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('creates an RBAC vault through a polled RegisteringDns -> Succeeded transition and reports its own vaultUri', async () => {
    const poller = await vaults.vaults.beginCreateOrUpdate(
      'claw-kv',
      'kv-claw-alpha',
      vaultParameters(t.sim.tenantId),
      t.poll,
    );
    expect(poller.getOperationState().status).toBe('running');
    const vault = await poller.pollUntilDone();
    expect(vault.properties.provisioningState).toBe('Succeeded');
    expect(vault.properties.enableRbacAuthorization).toBe(true);
    expect(vault.properties.vaultUri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const log = t.sim.admin.requests().filter((entry) => entry.path.endsWith('/vaults/kv-claw-alpha'));
    expect(log.map((entry) => `${entry.method} ${entry.status}`)).toEqual(
      expect.arrayContaining(['PUT 201', 'GET 200']),
    );
    expect(log.every((entry) => entry.apiVersion === '2026-02-01')).toBe(true);
  });

  it('answers a challenge first, then refuses data access with ForbiddenByRbac until a Secrets Officer grant has propagated', async () => {
    const vault = await vaults.vaults.get('claw-kv', 'kv-claw-alpha');
    const client = secretClient(vault.properties.vaultUri!);
    await expect(client.setSecret('gateway-token', 'a'.repeat(64))).rejects.toMatchObject({
      statusCode: 403,
      code: 'Forbidden',
    });
    const challenged = t.sim.admin.requests().filter((entry) => entry.surface === 'keyvault');
    expect(challenged[0]?.status).toBe(401);

    await grantOfficer(vault.id!);
    const refused = await client.setSecret('gateway-token', 'a'.repeat(64)).catch((error: unknown) => error);
    expect(refused).toMatchObject({ statusCode: 403 });
    expect(JSON.stringify((refused as { details?: unknown }).details ?? refused)).toContain(
      'ForbiddenByRbac',
    );

    t.sim.admin.advance(30_000);
    const stored = await client.setSecret('gateway-token', 'a'.repeat(64), {
      contentType: 'text/plain',
      tags: { slug: 'alpha' },
    });
    expect(stored.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect((await client.getSecret('gateway-token')).value).toBe('a'.repeat(64));
  });

  it('keeps versions, reads one by version, updates properties, and soft-deletes, recovers and purges secrets', async () => {
    const vault = await vaults.vaults.get('claw-kv', 'kv-claw-alpha');
    const client = secretClient(vault.properties.vaultUri!);
    const first = await client.setSecret('storage-key', 'one');
    const second = await client.setSecret('storage-key', 'two');
    expect((await client.getSecret('storage-key')).value).toBe('two');
    expect((await client.getSecret('storage-key', { version: first.properties.version! })).value).toBe('one');
    const versions: string[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions('storage-key'))
      versions.push(properties.version!);
    expect(versions.sort()).toEqual([first.properties.version, second.properties.version].sort());

    const expiresOn = new Date(t.sim.clock.now() + 3600_000);
    const updated = await client.updateSecretProperties('storage-key', first.properties.version!, {
      enabled: false,
      expiresOn,
    });
    expect(updated.enabled).toBe(false);
    await expect(
      client.getSecret('storage-key', { version: first.properties.version! }),
    ).rejects.toMatchObject({ statusCode: 403 });

    const deletion = await client.beginDeleteSecret('storage-key', { intervalInMs: 5 });
    await deletion.pollUntilDone();
    await expect(client.getSecret('storage-key')).rejects.toMatchObject({
      statusCode: 404,
      code: 'SecretNotFound',
    });
    await expect(client.setSecret('storage-key', 'three')).rejects.toMatchObject({ statusCode: 409 });
    expect((await client.getDeletedSecret('storage-key')).properties.recoveryId).toContain(
      '/deletedsecrets/storage-key',
    );

    const recovery = await client.beginRecoverDeletedSecret('storage-key', { intervalInMs: 5 });
    await recovery.pollUntilDone();
    expect((await client.getSecret('storage-key')).value).toBe('two');

    await (await client.beginDeleteSecret('storage-key', { intervalInMs: 5 })).pollUntilDone();
    await client.purgeDeletedSecret('storage-key');
    await expect(client.getDeletedSecret('storage-key')).rejects.toMatchObject({ statusCode: 404 });
    const stored = await client.setSecret('storage-key', 'fresh');
    expect(stored.value).toBe('fresh');
  });

  it('reserves a soft-deleted vault name until it is purged, in every resource group', async () => {
    await vaults.vaults.createOrUpdate('claw-kv', 'kv-claw-beta', vaultParameters(t.sim.tenantId), t.poll);
    await vaults.vaults.delete('claw-kv', 'kv-claw-beta');

    const deleted: string[] = [];
    for await (const vault of vaults.vaults.listDeleted()) deleted.push(vault.name!);
    expect(deleted).toContain('kv-claw-beta');
    expect((await vaults.vaults.getDeleted('kv-claw-beta', 'westeurope')).properties?.vaultId).toContain(
      '/resourceGroups/claw-kv/',
    );
    expect(
      await vaults.vaults.checkNameAvailability({ name: 'kv-claw-beta', type: 'Microsoft.KeyVault/vaults' }),
    ).toMatchObject({
      nameAvailable: false,
      reason: 'AlreadyExists',
    });
    await expect(
      vaults.vaults.createOrUpdate('claw-kv', 'kv-claw-beta', vaultParameters(t.sim.tenantId), t.poll),
    ).rejects.toMatchObject({
      statusCode: 409,
      code: 'ConflictError',
    });
    await expect(
      vaults.vaults.createOrUpdate('claw-other', 'kv-claw-beta', vaultParameters(t.sim.tenantId), t.poll),
    ).rejects.toMatchObject({
      statusCode: 409,
    });

    await vaults.vaults.purgeDeleted('kv-claw-beta', 'westeurope', t.poll);
    expect(
      (await vaults.vaults.checkNameAvailability({ name: 'kv-claw-beta', type: 'Microsoft.KeyVault/vaults' }))
        .nameAvailable,
    ).toBe(true);
    const again = await vaults.vaults.createOrUpdate(
      'claw-other',
      'kv-claw-beta',
      vaultParameters(t.sim.tenantId),
      t.poll,
    );
    expect(again.id).toContain('/resourceGroups/claw-other/');
  });

  it('refuses a vault name another resource group holds with VaultAlreadyExists', async () => {
    await expect(
      vaults.vaults.createOrUpdate('claw-other', 'kv-claw-alpha', vaultParameters(t.sim.tenantId), t.poll),
    ).rejects.toMatchObject({
      statusCode: 409,
      code: 'VaultAlreadyExists',
    });
  });

  it('recovers a soft-deleted vault with its secrets through createMode recover', async () => {
    await vaults.vaults.createOrUpdate('claw-kv', 'kv-claw-gamma', vaultParameters(t.sim.tenantId), t.poll);
    const vault = await vaults.vaults.get('claw-kv', 'kv-claw-gamma');
    await grantOfficer('/subscriptions/' + t.sim.subscriptionId + '/resourceGroups/claw-kv');
    t.sim.admin.advance(30_000);
    await secretClient(vault.properties.vaultUri!).setSecret('bot-token', 'kept');
    await vaults.vaults.delete('claw-kv', 'kv-claw-gamma');

    const parameters = vaultParameters(t.sim.tenantId);
    await vaults.vaults.createOrUpdate(
      'claw-kv',
      'kv-claw-gamma',
      { ...parameters, properties: { ...parameters.properties, createMode: 'recover' } },
      t.poll,
    );
    expect((await secretClient(vault.properties.vaultUri!).getSecret('bot-token')).value).toBe('kept');
  });

  it('soft-deletes the vaults of a resource group deleted as a 202 + Location operation', async () => {
    await resources.resourceGroups.createOrUpdate('claw-doomed', { location: 'westeurope' });
    await vaults.vaults.createOrUpdate(
      'claw-doomed',
      'kv-claw-doomed',
      vaultParameters(t.sim.tenantId),
      t.poll,
    );
    const poller = await resources.resourceGroups.beginDelete('claw-doomed', t.poll);
    await poller.pollUntilDone();
    expect((await resources.resourceGroups.checkExistence('claw-doomed')).body).toBe(false);
    await expect(vaults.vaults.get('claw-doomed', 'kv-claw-doomed')).rejects.toMatchObject({
      statusCode: 404,
    });
    expect((await vaults.vaults.getDeleted('kv-claw-doomed', 'westeurope')).name).toBe('kv-claw-doomed');
    const deletion = t.sim.admin
      .requests()
      .find((entry) => entry.method === 'DELETE' && entry.path.endsWith('/claw-doomed'));
    expect(deletion?.status).toBe(202);
  });
});
