import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import {
  RestError,
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareClient,
  type ShareClientOptions,
} from '@azure/storage-file-share';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shareSnapshotId } from '../../sandbox/sim/fileShareStore.js';
import {
  startFullSimulator,
  trustSimulatorCertificate,
  type FullSimulator,
} from '../../sandbox/sim/index.js';

const rg = 'claw-snapshots';
const accountName = 'stclawsnaps';
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

const text = async (share: ShareClient, path: string) =>
  (await share.rootDirectoryClient.getFileClient(path).downloadToBuffer()).toString('utf8');

describe('Azure Files share snapshots in the simulator', () => {
  let sim: FullSimulator;
  let storage: StorageManagementClient;
  let service: ShareServiceClient;
  let dir: string;

  const connect = async () => {
    trustSimulatorCertificate(sim.caCertPem);
    const credential = new ClientSecretCredential(
      sim.tenantId,
      sim.broker.clientId,
      sim.broker.clientSecret,
      {
        authorityHost: sim.url,
        disableInstanceDiscovery: true,
      },
    );
    storage = new StorageManagementClient(credential, sim.subscriptionId, {
      endpoint: sim.url,
      retryOptions: { maxRetries: 2, retryDelayInMs: 20 },
    });
    const account = await storage.storageAccounts.getProperties(rg, accountName);
    const key = (await storage.storageAccounts.listKeys(rg, accountName)).keys![0]!.value!;
    service = new ShareServiceClient(
      account.primaryEndpoints!.file!,
      new StorageSharedKeyCredential(accountName, key),
      noRetry,
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-snapshots-'));
    sim = await startFullSimulator({ statePath: join(dir, 'state.json'), onStateMessage: () => undefined });
    trustSimulatorCertificate(sim.caCertPem);
    const credential = new ClientSecretCredential(
      sim.tenantId,
      sim.broker.clientId,
      sim.broker.clientSecret,
      {
        authorityHost: sim.url,
        disableInstanceDiscovery: true,
      },
    );
    const armOptions = { endpoint: sim.url, retryOptions: { maxRetries: 2, retryDelayInMs: 20 } };
    await new ResourceManagementClient(
      credential,
      sim.subscriptionId,
      armOptions,
    ).resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    storage = new StorageManagementClient(credential, sim.subscriptionId, armOptions);
    await storage.storageAccounts.create(
      rg,
      accountName,
      { location: 'westeurope', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
      poll,
    );
    await storage.fileShares.create(rg, accountName, shareName, { shareQuota: 5 });
    await connect();
  });
  afterAll(async () => {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a snapshot named by the simulator clock in the service format, and reads the tree as it was', async () => {
    const share = service.getShareClient(shareName);
    await share.createDirectory('agents');
    await share.rootDirectoryClient.getFileClient('agents/state.db').uploadData(Buffer.from('version one'));
    await share.rootDirectoryClient.getFileClient('openclaw.json').uploadData(Buffer.from('{ v: 1 }'));

    const taken = await share.createSnapshot();
    expect(taken.snapshot).toBe(shareSnapshotId(sim.clock.now()));
    expect(taken.snapshot).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
    const id = taken.snapshot!;

    // The live share moves on; the snapshot does not, even when a file changes in place.
    await share.rootDirectoryClient.getFileClient('openclaw.json').uploadRange(Buffer.from('{ v: 9 }'), 0, 8);
    expect(await text(share, 'openclaw.json')).toBe('{ v: 9 }');
    await share.rootDirectoryClient.getFileClient('agents/state.db').uploadData(Buffer.from('version two!'));
    await share.rootDirectoryClient.getFileClient('openclaw.json').delete();
    await share.rootDirectoryClient.getFileClient('agents/new.txt').uploadData(Buffer.from('new'));

    const frozen = share.withSnapshot(id);
    expect(await text(frozen, 'agents/state.db')).toBe('version one');
    expect(await text(frozen, 'openclaw.json')).toBe('{ v: 1 }');
    expect(await text(share, 'agents/state.db')).toBe('version two!');
    const names: string[] = [];
    for await (const item of frozen.getDirectoryClient('agents').listFilesAndDirectories())
      names.push(item.name);
    expect(names).toEqual(['state.db']);
    expect(
      (await frozen.rootDirectoryClient.getFileClient('agents/state.db').getProperties()).contentLength,
    ).toBe('version one'.length);
    await expectRefusal(
      frozen.rootDirectoryClient.getFileClient('agents/new.txt').getProperties(),
      404,
      'ResourceNotFound',
    );
    // A snapshot keeps the share's ETag and time when no metadata was given.
    const properties = await frozen.getProperties();
    expect(properties.etag).toBe(taken.etag);
    await expectRefusal(
      share
        .withSnapshot(shareSnapshotId(sim.clock.now() - 60_000))
        .rootDirectoryClient.getFileClient('openclaw.json')
        .download(),
      404,
      'ShareSnapshotNotFound',
    );
  });

  it('refuses every write through a snapshot, as the service does (ShareSnapshotOperationNotSupported)', async () => {
    const share = service.getShareClient(shareName);
    const id = (await share.createSnapshot()).snapshot!;
    const frozen = share.withSnapshot(id);
    const file = frozen.rootDirectoryClient.getFileClient('agents/state.db');
    await expectRefusal(file.uploadData(Buffer.from('overwrite')), 400, 'ShareSnapshotOperationNotSupported');
    await expectRefusal(file.delete(), 400, 'ShareSnapshotOperationNotSupported');
    await expectRefusal(file.setMetadata({ a: 'b' }), 400, 'ShareSnapshotOperationNotSupported');
    await expectRefusal(frozen.createDirectory('more'), 400, 'ShareSnapshotOperationNotSupported');
    await expectRefusal(frozen.createSnapshot(), 400, 'ShareSnapshotOperationNotSupported');
    expect(await text(frozen, 'agents/state.db')).toBe('version two!');
  });

  it('gives two snapshots taken in one clock tick distinct ids, and lists them oldest first with include=snapshots', async () => {
    const share = service.getShareClient(shareName);
    const first = (await share.createSnapshot()).snapshot!;
    const second = (await share.createSnapshot({ metadata: { purpose: 'upgrade' } })).snapshot!;
    expect(second > first).toBe(true);

    const plain: string[] = [];
    for await (const item of service.listShares()) plain.push(`${item.name}@${item.snapshot ?? ''}`);
    expect(plain).toEqual([`${shareName}@`]);

    const listed: { snapshot?: string; metadata?: Record<string, string> }[] = [];
    for await (const item of service.listShares({ includeSnapshots: true, includeMetadata: true }))
      listed.push({ snapshot: item.snapshot, metadata: item.metadata });
    const ids = listed.flatMap((item) => (item.snapshot ? [item.snapshot] : []));
    expect(ids).toEqual([...ids].sort());
    expect(ids.slice(-2)).toEqual([first, second]);
    expect(listed.filter((item) => item.snapshot === undefined)).toHaveLength(1);
    expect(listed.find((item) => item.snapshot === second)?.metadata).toEqual({ purpose: 'upgrade' });

    // Paging over snapshots neither repeats nor skips one.
    const paged: string[] = [];
    for await (const page of service.listShares({ includeSnapshots: true }).byPage({ maxPageSize: 1 }))
      for (const item of page.shareItems ?? []) paged.push(item.snapshot ?? '(base)');
    expect(paged).toEqual([...ids, '(base)']);
  });

  it('copies a file from a snapshot URL with Copy File, server side', async () => {
    const share = service.getShareClient(shareName);
    const id = (await share.createSnapshot()).snapshot!;
    await share.rootDirectoryClient.getFileClient('agents/state.db').uploadData(Buffer.from('broken'));
    const source = share.withSnapshot(id).rootDirectoryClient.getFileClient('agents/state.db');
    const target = share.rootDirectoryClient.getFileClient('agents/state.db');
    const started = await target.startCopyFromURL(source.url);
    expect(started.copyStatus).toBe('success');
    expect(await text(share, 'agents/state.db')).toBe('version two!');
    const properties = await target.getProperties();
    expect(properties.copyStatus).toBe('success');
    expect(properties.copySource).toContain(`sharesnapshot=${encodeURIComponent(id)}`);
    await expectRefusal(
      target.startCopyFromURL(share.withSnapshot(id).rootDirectoryClient.getFileClient('missing.db').url),
      404,
      'CannotVerifyCopySource',
    );
  });

  it('refuses the 201st snapshot of a share (200 per share)', async () => {
    const other = 'limits';
    await storage.fileShares.create(rg, accountName, other, { shareQuota: 1 });
    const share = service.getShareClient(other);
    for (let count = 0; count < 199; count += 1)
      sim.files.createSnapshot(accountName, other, { etag: '"0x1"', lastModified: 0, metadata: {} });
    await share.createSnapshot();
    await expectRefusal(share.createSnapshot(), 409, 'ShareSnapshotCountExceeded');
    await share.delete({ deleteSnapshots: 'include' });
  });

  it('deletes one snapshot, refuses to delete a share with snapshots, and deletes it with x-ms-delete-snapshots: include', async () => {
    const doomed = 'doomed';
    await storage.fileShares.create(rg, accountName, doomed, { shareQuota: 1 });
    const share = service.getShareClient(doomed);
    await share.rootDirectoryClient.getFileClient('a.txt').uploadData(Buffer.from('a'));
    const one = (await share.createSnapshot()).snapshot!;
    const two = (await share.createSnapshot()).snapshot!;

    await share.withSnapshot(one).delete();
    await expectRefusal(share.withSnapshot(one).getProperties(), 404, 'ShareSnapshotNotFound');
    expect(await text(share.withSnapshot(two), 'a.txt')).toBe('a');

    await expectRefusal(share.delete(), 409, 'ShareHasSnapshots');
    expect(await text(share, 'a.txt')).toBe('a');
    await share.delete({ deleteSnapshots: 'include' });
    await expectRefusal(share.getProperties(), 404, 'ShareNotFound');
    expect(sim.files.snapshotsOf(accountName, doomed)).toEqual([]);
    await expect(storage.fileShares.get(rg, accountName, doomed)).rejects.toMatchObject({ statusCode: 404 });

    // A share without snapshots needs no option.
    await storage.fileShares.create(rg, accountName, doomed, { shareQuota: 1 });
    await service.getShareClient(doomed).delete();
  });

  it('keeps snapshots across a restart from the state file, and loads a state file saved before snapshots', async () => {
    const share = service.getShareClient(shareName);
    const binary = Buffer.from([0, 255, 1, 254, 0, 0, 7]);
    await share.rootDirectoryClient.getFileClient('agents/blob.bin').uploadData(binary);
    const id = (await share.createSnapshot()).snapshot!;
    await share.rootDirectoryClient.getFileClient('agents/blob.bin').delete();
    const statePath = sim.persistence.path!;
    await sim.stop();

    sim = await startFullSimulator({ statePath, onStateMessage: () => undefined });
    expect(sim.persistence.restored).toBe(true);
    await connect();
    const frozen = service.getShareClient(shareName).withSnapshot(id);
    expect(
      (await frozen.rootDirectoryClient.getFileClient('agents/blob.bin').downloadToBuffer()).equals(binary),
    ).toBe(true);
    await expectRefusal(
      service.getShareClient(shareName).rootDirectoryClient.getFileClient('agents/blob.bin').getProperties(),
      404,
      'ResourceNotFound',
    );
    const ids: string[] = [];
    for await (const item of service.listShares({ includeSnapshots: true }))
      if (item.snapshot) ids.push(item.snapshot);
    expect(ids).toContain(id);

    // A state file from before snapshots has no `snapshots` in its files part.
    await sim.stop();
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as {
      parts: Record<string, { snapshots?: unknown }>;
    };
    expect(saved.parts['files']?.snapshots).toBeDefined();
    delete saved.parts['files']!.snapshots;
    await writeFile(statePath, JSON.stringify(saved));
    sim = await startFullSimulator({ statePath, onStateMessage: () => undefined });
    expect(sim.persistence.restored).toBe(true);
    await connect();
    expect(await text(service.getShareClient(shareName), 'agents/state.db')).toBe('version two!');
    expect(sim.files.snapshotsOf(accountName, shareName)).toEqual([]);
  });
});
