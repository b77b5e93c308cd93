import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
} from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrustedSimulator, type TrustedSimulator } from './simFixture.js';

const roles = {
  delegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
  dataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
};

describe('Storage in the simulator', () => {
  let t: TrustedSimulator;
  let storage: StorageManagementClient;
  let authorization: AuthorizationManagementClient;
  const accountName = 'stclawalpha';
  const accountId = () =>
    `/subscriptions/${t.sim.subscriptionId}/resourceGroups/claw-st/providers/Microsoft.Storage/storageAccounts/${accountName}`;
  const grant = (roleGuid: string) =>
    authorization.roleAssignments.create(accountId(), randomUUID(), {
      roleDefinitionId: `/subscriptions/${t.sim.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId: t.sim.broker.objectId,
      principalType: 'ServicePrincipal',
    });

  beforeAll(async () => {
    t = await startTrustedSimulator({ dataPlanePropagationSeconds: 30 });
    storage = new StorageManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    authorization = new AuthorizationManagementClient(t.credential, t.sim.subscriptionId, t.armOptions);
    await new ResourceManagementClient(
      t.credential,
      t.sim.subscriptionId,
      t.armOptions,
    ).resourceGroups.createOrUpdate('claw-st', { location: 'westeurope' });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('creates an account as 202 + Location, polled to Succeeded, with a blob endpoint on the simulator', async () => {
    const account = await storage.storageAccounts.create(
      'claw-st',
      accountName,
      {
        location: 'westeurope',
        sku: { name: 'Standard_LRS' },
        kind: 'StorageV2',
        allowSharedKeyAccess: false,
        minimumTlsVersion: 'TLS1_2',
      },
      t.poll,
    );
    expect(account.provisioningState).toBe('Succeeded');
    expect(account.primaryEndpoints?.blob).toMatch(
      new RegExp(`^https://127\\.0\\.0\\.1:\\d+/${accountName}/$`),
    );
    const create = t.sim.admin
      .requests()
      .find((entry) => entry.method === 'PUT' && entry.path.endsWith(accountName));
    expect(create).toMatchObject({ status: 202, apiVersion: '2025-08-01' });
    expect(
      await storage.storageAccounts.checkNameAvailability({
        name: accountName,
        type: 'Microsoft.Storage/storageAccounts',
      }),
    ).toMatchObject({
      nameAvailable: false,
      reason: 'AlreadyExists',
    });
  });

  it('lists keys and regenerates only the key it is asked to', async () => {
    const before = (await storage.storageAccounts.listKeys('claw-st', accountName)).keys!;
    const after = (await storage.storageAccounts.regenerateKey('claw-st', accountName, { keyName: 'key1' }))
      .keys!;
    expect(after.find((key) => key.keyName === 'key1')?.value).not.toBe(
      before.find((key) => key.keyName === 'key1')?.value,
    );
    expect(after.find((key) => key.keyName === 'key2')?.value).toBe(
      before.find((key) => key.keyName === 'key2')?.value,
    );
  });

  it('creates file shares and blob containers under the default services', async () => {
    const share = await storage.fileShares.create('claw-st', accountName, 'openclaw-state', {
      shareQuota: 100,
    });
    expect(share.shareQuota).toBe(100);
    await storage.blobContainers.create('claw-st', accountName, 'logs', {});
    await storage.blobContainers.create('claw-st', accountName, 'other', {});
    const names: string[] = [];
    for await (const container of storage.blobContainers.list('claw-st', accountName))
      names.push(container.name!);
    expect(names.sort()).toEqual(['logs', 'other']);
  });

  it("refuses a user-delegation key before the broker's Blob Delegator grant has propagated, and one longer than 7 days", async () => {
    const account = await storage.storageAccounts.getProperties('claw-st', accountName);
    const service = new BlobServiceClient(account.primaryEndpoints!.blob!, t.credential, {
      retryOptions: { maxTries: 1 },
    });
    const now = new Date(t.sim.clock.now());
    await grant(roles.delegator);
    await expect(service.getUserDelegationKey(now, new Date(now.getTime() + 3600_000))).rejects.toMatchObject(
      { statusCode: 403 },
    );
    t.sim.admin.advance(30_000);
    const later = new Date(t.sim.clock.now());
    await expect(
      service.getUserDelegationKey(later, new Date(later.getTime() + 8 * 24 * 3600_000)),
    ).rejects.toMatchObject({ statusCode: 400 });
    await expect(
      service.getUserDelegationKey(later, new Date(later.getTime() + 3600_000)),
    ).resolves.toMatchObject({ signedObjectId: t.sim.broker.objectId });
  });

  it('honours a write+create, container-scoped user-delegation SAS for log shipping and nothing more', async () => {
    const account = await storage.storageAccounts.getProperties('claw-st', accountName);
    const endpoint = account.primaryEndpoints!.blob!;
    const service = new BlobServiceClient(endpoint, t.credential, { retryOptions: { maxTries: 1 } });
    const issuedAt = new Date(t.sim.clock.now());
    const expiresOn = new Date(issuedAt.getTime() + 24 * 3600_000);
    const key = await service.getUserDelegationKey(issuedAt, expiresOn);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'logs',
        permissions: ContainerSASPermissions.parse('cw'),
        startsOn: issuedAt,
        expiresOn,
        protocol: SASProtocol.Https,
      },
      key,
      accountName,
    ).toString();
    const logs = new ContainerClient(`${endpoint}logs?${sas}`, new AnonymousCredential(), {
      retryOptions: { maxTries: 1 },
    });
    const blob = logs.getBlockBlobClient('2026/01/01/gateway.jsonl');

    // The signer holds only Blob Delegator: the SAS cannot grant more than the signer's own rights.
    await expect(blob.upload('{"msg":"hello"}\n', 15)).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationPermissionMismatch',
    });
    await grant(roles.dataContributor);
    t.sim.admin.advance(30_000);

    await blob.upload('{"msg":"hello"}\n', 15);
    expect(t.sim.blob.getBlob(accountName, 'logs', '2026/01/01/gateway.jsonl')?.content.toString()).toBe(
      '{"msg":"hello"}\n',
    );
    await expect(blob.download()).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationPermissionMismatch',
    });
    const outside = new ContainerClient(`${endpoint}other?${sas}`, new AnonymousCredential(), {
      retryOptions: { maxTries: 1 },
    });
    await expect(outside.getBlockBlobClient('x.jsonl').upload('x', 1)).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthenticationFailed',
    });

    t.sim.admin.advance(24 * 3600_000);
    await expect(logs.getBlockBlobClient('2026/01/02/gateway.jsonl').upload('late', 4)).rejects.toMatchObject(
      { statusCode: 403, code: 'AuthenticationFailed' },
    );
  });

  it('lets a principal with Blob Data Contributor read what the SAS wrote', async () => {
    const account = await storage.storageAccounts.getProperties('claw-st', accountName);
    const service = new BlobServiceClient(account.primaryEndpoints!.blob!, t.credential);
    const content = await service
      .getContainerClient('logs')
      .getBlobClient('2026/01/01/gateway.jsonl')
      .downloadToBuffer();
    expect(content.toString()).toBe('{"msg":"hello"}\n');
  });
});
