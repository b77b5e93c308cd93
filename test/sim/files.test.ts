import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import {
  RestError,
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareClient,
  type ShareClientOptions,
  type ShareDirectoryClient,
} from '@azure/storage-file-share';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startFullSimulator,
  trustSimulatorCertificate,
  type FullSimulator,
} from '../../sandbox/sim/index.js';

const rg = 'claw-files';
const accountName = 'stclawfiles';
const shareName = 'openclaw-state';
const poll = { updateIntervalInMs: 5 };
/** No retries: a refusal must surface at once. */
const noRetry: ShareClientOptions = { retryOptions: { maxTries: 1 } };

/** The call fails with this status and x-ms-error-code (HEAD errors carry the code only in the header). */
async function expectRefusal(call: Promise<unknown>, status: number, code: string): Promise<void> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected ${status} ${code}`).toBeInstanceOf(RestError);
  const rest = error as RestError;
  expect({ status: rest.statusCode, code: rest.response?.headers.get('x-ms-error-code') }).toEqual({
    status,
    code,
  });
}

/** Every file under a directory, by walking the listing (what a backup does). */
async function walk(directory: ShareDirectoryClient, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for await (const item of directory.listFilesAndDirectories()) {
    if (item.kind === 'directory') {
      found.push(...(await walk(directory.getDirectoryClient(item.name), `${prefix}${item.name}/`)));
    } else {
      found.push(`${prefix}${item.name}`);
    }
  }
  return found;
}

describe('Azure Files data plane in the simulator', () => {
  let sim: FullSimulator;
  let credential: ClientSecretCredential;
  let storage: StorageManagementClient;
  let fileEndpoint: string;
  let dir: string;
  const accountId = () =>
    `/subscriptions/${sim.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/${accountName}`;
  const keys = async () => {
    const list = (await storage.storageAccounts.listKeys(rg, accountName)).keys!;
    return {
      key1: list.find((key) => key.keyName === 'key1')!.value!,
      key2: list.find((key) => key.keyName === 'key2')!.value!,
    };
  };
  const keyClient = (key: string) =>
    new ShareServiceClient(fileEndpoint, new StorageSharedKeyCredential(accountName, key), noRetry);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-files-'));
    sim = await startFullSimulator({
      statePath: join(dir, 'state.json'),
      dataPlanePropagationSeconds: 30,
      onStateMessage: () => undefined,
    });
    trustSimulatorCertificate(sim.caCertPem);
    credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
      authorityHost: sim.url,
      disableInstanceDiscovery: true,
    });
    const armOptions = { endpoint: sim.url, retryOptions: { maxRetries: 2, retryDelayInMs: 20 } };
    storage = new StorageManagementClient(credential, sim.subscriptionId, armOptions);
    await new ResourceManagementClient(
      credential,
      sim.subscriptionId,
      armOptions,
    ).resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    const account = await storage.storageAccounts.create(
      rg,
      accountName,
      { location: 'westeurope', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
      poll,
    );
    fileEndpoint = account.primaryEndpoints!.file!;
    await storage.fileShares.create(rg, accountName, shareName, { shareQuota: 10 });
  });
  afterAll(async () => {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("puts the account's file endpoint on the Files listener, IP-style, as the blob endpoint is", async () => {
    expect(fileEndpoint).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:\\d+/${accountName}/$`));
    const port = new URL(fileEndpoint).port;
    expect(port).not.toBe(new URL(sim.url).port);
    const account = await storage.storageAccounts.getProperties(rg, accountName);
    expect(new URL(account.primaryEndpoints!.blob!).port).not.toBe(port);
    const share = keyClient((await keys()).key1).getShareClient(shareName);
    expect(share.name).toBe(shareName);
    expect(share.accountName).toBe(accountName);
  });

  it('uploads and downloads a nested tree with the shared key, with ranges, properties and errors', async () => {
    const service = keyClient((await keys()).key1);
    const share = service.getShareClient(shareName);
    const root = share.rootDirectoryClient;

    await share.createDirectory('agents');
    await share.getDirectoryClient('agents').createSubdirectory('main');
    await share.getDirectoryClient('agents/main').createSubdirectory('sessions');
    const big = randomBytes(9 * 1024 * 1024 + 123); // more than two 4 MiB ranges
    const tree: Record<string, Buffer> = {
      'openclaw.json': Buffer.from('{ gateway: { port: 18789 } }\n'),
      'agents/main/agent.md': Buffer.from('# main agent\n'),
      'agents/main/sessions/2026-01-01.jsonl': big,
      'agents/main/sessions/empty.jsonl': Buffer.alloc(0),
    };
    for (const [path, content] of Object.entries(tree)) {
      const file = root.getFileClient(path);
      await file.uploadData(content, { fileHttpHeaders: { fileContentType: 'application/octet-stream' } });
    }
    const local = join(dir, 'upload.txt');
    await writeFile(local, 'uploaded from disk\n');
    await share.getDirectoryClient('agents/main').getFileClient('from-disk.txt').uploadFile(local);
    tree['agents/main/from-disk.txt'] = Buffer.from('uploaded from disk\n');

    expect((await walk(root)).sort()).toEqual(Object.keys(tree).sort());
    for (const [path, content] of Object.entries(tree)) {
      const downloaded = await root.getFileClient(path).downloadToBuffer();
      expect(downloaded.equals(content), path).toBe(true);
    }
    const target = join(dir, 'download.bin');
    await root.getFileClient('agents/main/sessions/2026-01-01.jsonl').downloadToFile(target);
    expect((await readFile(target)).equals(big)).toBe(true);

    // Range reads.
    const sessions = root.getFileClient('agents/main/sessions/2026-01-01.jsonl');
    const slice = await sessions.download(1000, 50);
    expect(slice._response.status).toBe(206);
    expect(slice.contentRange).toBe(`bytes 1000-1049/${big.length}`);
    expect((await sessions.downloadToBuffer(big.length - 10)).equals(big.subarray(big.length - 10))).toBe(
      true,
    );
    await expectRefusal(sessions.download(big.length, 1), 416, 'InvalidRange');

    // Properties.
    const properties = await sessions.getProperties();
    expect(properties).toMatchObject({ contentLength: big.length, fileAttributes: 'Archive' });
    expect(properties.fileId).toMatch(/^\d+$/);
    expect((await share.getDirectoryClient('agents/main').getProperties()).fileAttributes).toBe('Directory');
    const shareProperties = await share.getProperties();
    expect(shareProperties.quota).toBe(10);
    expect(shareProperties.etag).toBeTruthy();
    expect((await share.getStatistics()).shareUsageBytes).toBe(
      Object.values(tree).reduce((sum, content) => sum + content.length, 0),
    );
    const shares: string[] = [];
    for await (const item of service.listShares()) shares.push(item.name);
    expect(shares).toEqual([shareName]);

    // A listing with a prefix and paging.
    const names: string[] = [];
    for await (const page of share
      .getDirectoryClient('agents/main')
      .listFilesAndDirectories({ includeTimestamps: true, includeEtag: true })
      .byPage({ maxPageSize: 1 })) {
      for (const item of [...page.segment.directoryItems, ...page.segment.fileItems]) names.push(item.name);
    }
    expect(names.sort()).toEqual(['agent.md', 'from-disk.txt', 'sessions']);

    // Errors, in the Files format.
    await expectRefusal(root.getFileClient('missing.txt').getProperties(), 404, 'ResourceNotFound');
    await expectRefusal(root.getFileClient('nowhere/missing.txt').download(), 404, 'ParentNotFound');
    await expectRefusal(root.getFileClient('nowhere/new.txt').create(1), 404, 'ParentNotFound');
    await expectRefusal(share.createDirectory('agents'), 409, 'ResourceAlreadyExists');
    await expectRefusal(share.getDirectoryClient('agents').delete(), 409, 'DirectoryNotEmpty');
    await expectRefusal(
      service.getShareClient('no-such-share').rootDirectoryClient.getFileClient('x').download(),
      404,
      'ShareNotFound',
    );

    // Delete.
    await root.getFileClient('agents/main/sessions/empty.jsonl').delete();
    expect(await root.getFileClient('agents/main/sessions/empty.jsonl').exists()).toBe(false);
    expect(sim.files.read(accountName, shareName, 'agents/main/sessions/empty.jsonl')).toBeUndefined();
  });

  it('shares content with the store the OpenClaw stand-in reads, both ways', async () => {
    const share = keyClient((await keys()).key1).getShareClient(shareName);
    await share.rootDirectoryClient
      .getFileClient('openclaw.json')
      .uploadData(Buffer.from('{ written: "over https" }'));
    expect(sim.files.read(accountName, shareName, 'openclaw.json')).toBe('{ written: "over https" }');

    sim.files.write(accountName, shareName, 'workspace/notes/today.md', 'written by the gateway\n');
    expect(
      (
        await share.getDirectoryClient('workspace/notes').getFileClient('today.md').downloadToBuffer()
      ).toString(),
    ).toBe('written by the gateway\n');
    expect(await walk(share.getDirectoryClient('workspace'))).toEqual(['notes/today.md']);
  });

  it('refuses a wrong or regenerated key (AuthenticationFailed) while the other key keeps working', async () => {
    const before = await keys();
    const root = (client: ShareServiceClient) => client.getShareClient(shareName).rootDirectoryClient;
    await expect(
      root(keyClient(before.key1)).getFileClient('openclaw.json').downloadToBuffer(),
    ).resolves.toBeDefined();

    const wrong = randomBytes(64).toString('base64');
    await expectRefusal(
      root(keyClient(wrong)).getFileClient('openclaw.json').download(),
      403,
      'AuthenticationFailed',
    );

    await storage.storageAccounts.regenerateKey(rg, accountName, { keyName: 'key1' });
    await expectRefusal(
      root(keyClient(before.key1)).getFileClient('openclaw.json').download(),
      403,
      'AuthenticationFailed',
    );
    await expectRefusal(
      root(keyClient(before.key1)).getFileClient('rotated.txt').uploadData(Buffer.from('x')),
      403,
      'AuthenticationFailed',
    );
    await expect(
      root(keyClient(before.key2)).getFileClient('openclaw.json').downloadToBuffer(),
    ).resolves.toBeDefined();
    const after = await keys();
    expect(after.key2).toBe(before.key2);
    await root(keyClient(after.key1)).getFileClient('rotated.txt').uploadData(Buffer.from('new key1 works'));
    expect(sim.files.read(accountName, shareName, 'rotated.txt')).toBe('new key1 works');
  });

  it('honours OAuth with the backup intent only after a privileged File Data role has propagated', async () => {
    const oauth = (options: ShareClientOptions = { fileRequestIntent: 'backup' }) =>
      new ShareServiceClient(fileEndpoint, credential, { ...noRetry, ...options }).getShareClient(shareName);
    const read = (share: ShareClient) =>
      share.getDirectoryClient('agents/main').getFileClient('agent.md').downloadToBuffer();

    // The broker's deployed roles (Contributor, RBAC Administrator) grant no file data.
    await expectRefusal(read(oauth()), 403, 'AuthorizationPermissionMismatch');

    // An administrator grants them (the broker's delegation condition does not let it).
    sim.grantRole(sim.broker.objectId, 'Storage File Data Privileged Reader', accountId());
    await expectRefusal(read(oauth()), 403, 'AuthorizationPermissionMismatch');
    sim.admin.advance(30_000);

    expect((await read(oauth())).toString()).toBe('# main agent\n');
    expect((await walk(oauth().rootDirectoryClient)).length).toBeGreaterThan(3);
    expect((await oauth().getProperties()).quota).toBe(10);
    // Without the intent the service refuses the token outright.
    await expectRefusal(read(oauth({})), 400, 'MissingRequiredHeader');
    // The reader cannot write.
    await expectRefusal(
      oauth().rootDirectoryClient.getFileClient('backup-marker.txt').uploadData(Buffer.from('x')),
      403,
      'AuthorizationPermissionMismatch',
    );

    sim.grantRole(
      sim.broker.objectId,
      'Storage File Data Privileged Contributor',
      `/subscriptions/${sim.subscriptionId}/resourceGroups/${rg}`,
    );
    sim.admin.advance(30_000);
    await oauth().createDirectory('backups');
    await oauth().getDirectoryClient('backups').getFileClient('marker.txt').uploadData(Buffer.from('taken'));
    expect(sim.files.read(accountName, shareName, 'backups/marker.txt')).toBe('taken');
    await oauth().getDirectoryClient('backups').getFileClient('marker.txt').delete();
  });

  it('keeps files and the file endpoint across a restart from the state file', async () => {
    const { key2 } = await keys();
    await keyClient(key2)
      .getShareClient(shareName)
      .getDirectoryClient('agents/main')
      .getFileClient('persisted.bin')
      .uploadData(Buffer.from([0, 1, 2, 250, 251, 252]));
    await keyClient(key2).getShareClient(shareName).createDirectory('empty-dir');
    const statePath = sim.persistence.path!;
    await sim.stop();

    sim = await startFullSimulator({
      statePath,
      dataPlanePropagationSeconds: 30,
      onStateMessage: () => undefined,
    });
    expect(sim.persistence.restored).toBe(true);
    credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
      authorityHost: sim.url,
      disableInstanceDiscovery: true,
    });
    const armOptions = { endpoint: sim.url, retryOptions: { maxRetries: 2, retryDelayInMs: 20 } };
    storage = new StorageManagementClient(credential, sim.subscriptionId, armOptions);
    const account = await storage.storageAccounts.getProperties(rg, accountName);
    expect(account.primaryEndpoints!.file).toBe(fileEndpoint);

    const share = keyClient(key2).getShareClient(shareName);
    const content = await share
      .getDirectoryClient('agents/main')
      .getFileClient('persisted.bin')
      .downloadToBuffer();
    expect([...content]).toEqual([0, 1, 2, 250, 251, 252]);
    expect(await share.getDirectoryClient('empty-dir').exists()).toBe(true);
    expect(
      (
        await share
          .getDirectoryClient('agents/main/sessions')
          .getFileClient('2026-01-01.jsonl')
          .getProperties()
      ).contentLength,
    ).toBeGreaterThan(9 * 1024 * 1024);
    // The role granted before the restart still holds.
    const oauth = new ShareServiceClient(fileEndpoint, credential, {
      ...noRetry,
      fileRequestIntent: 'backup',
    });
    expect(
      (
        await oauth
          .getShareClient(shareName)
          .rootDirectoryClient.getFileClient('rotated.txt')
          .downloadToBuffer()
      ).toString(),
    ).toBe('new key1 works');
  });

  it('reads a state file of the earlier layout (files as text, no Files port)', async () => {
    const statePath = sim.persistence.path!;
    await sim.stop();
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as {
      ports: Record<string, unknown>;
      parts: Record<string, unknown>;
    };
    delete saved.ports['file'];
    saved.parts['files'] = [[`${accountName}/${shareName}/legacy/openclaw.json`, '{ legacy: true }']];
    await writeFile(statePath, JSON.stringify(saved));

    sim = await startFullSimulator({ statePath, onStateMessage: () => undefined });
    expect(sim.persistence.restored).toBe(true);
    expect(sim.files.read(accountName, shareName, 'legacy/openclaw.json')).toBe('{ legacy: true }');
    credential = new ClientSecretCredential(sim.tenantId, sim.broker.clientId, sim.broker.clientSecret, {
      authorityHost: sim.url,
      disableInstanceDiscovery: true,
    });
    storage = new StorageManagementClient(credential, sim.subscriptionId, { endpoint: sim.url });
    const endpoint = (await storage.storageAccounts.getProperties(rg, accountName)).primaryEndpoints!.file!;
    expect(endpoint).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:\\d+/${accountName}/$`));
    fileEndpoint = endpoint;
    const { key1 } = await keys();
    expect(
      (
        await keyClient(key1)
          .getShareClient(shareName)
          .getDirectoryClient('legacy')
          .getFileClient('openclaw.json')
          .downloadToBuffer()
      ).toString(),
    ).toBe('{ legacy: true }');
  });
});
