import {
  ShareServiceClient,
  StorageSharedKeyCredential,
  type ShareClient,
  type ShareDirectoryClient,
} from '@azure/storage-file-share';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileServiceClient } from '../../shared/azure/fileShareClient.js';
import {
  deleteShareSnapshot,
  isAzureFilesError,
  listShareSnapshots,
  pruneShareSnapshots,
  restoreShareFromSnapshot,
  snapshotShare,
  snapshotShareOnce,
} from '../../shared/azure/shareSnapshots.js';
import { isBrokerError } from '../../shared/errors.js';
import { startAzureFixture, type AzureFixture } from './azureFixture.js';

const rg = 'claw-snaprestore';
const accountName = 'stclawsnaprestore';

/** A real SQLite database file (what OpenClaw keeps its state in), with `rows` rows. */
async function sqliteFile(rows: number): Promise<Buffer> {
  const { DatabaseSync } = await import('node:sqlite');
  const dir = await mkdtemp(join(tmpdir(), 'snap-sqlite-'));
  try {
    const path = join(dir, 'openclaw.sqlite');
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE sessions (id INTEGER PRIMARY KEY, body BLOB)');
    const insert = db.prepare('INSERT INTO sessions (body) VALUES (?)');
    for (let row = 0; row < rows; row += 1) insert.run(randomBytes(300));
    db.close();
    return await readFile(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every directory (with a trailing slash) and file of a share, with each file's bytes. */
async function contentsOf(root: ShareDirectoryClient): Promise<Map<string, Buffer | 'dir'>> {
  const found = new Map<string, Buffer | 'dir'>();
  const walk = async (directory: ShareDirectoryClient, prefix: string): Promise<void> => {
    for await (const item of directory.listFilesAndDirectories()) {
      if (item.kind === 'directory') {
        found.set(`${prefix}${item.name}/`, 'dir');
        await walk(directory.getDirectoryClient(item.name), `${prefix}${item.name}/`);
      } else {
        found.set(`${prefix}${item.name}`, await directory.getFileClient(item.name).downloadToBuffer());
      }
    }
  };
  await walk(root, '');
  return found;
}

function expectSameTree(actual: Map<string, Buffer | 'dir'>, expected: Map<string, Buffer | 'dir'>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, content] of expected) {
    const got = actual.get(path);
    if (content === 'dir') expect(got, path).toBe('dir');
    else expect(Buffer.isBuffer(got) && got.equals(content), `${path} is byte-identical`).toBe(true);
  }
}

async function put(share: ShareClient, path: string, content: Buffer | string): Promise<void> {
  const parts = path.split('/');
  for (let index = 1; index < parts.length; index += 1) {
    await share
      .getDirectoryClient(parts.slice(0, index).join('/'))
      .create()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 409) throw error;
      });
  }
  await share.rootDirectoryClient
    .getFileClient(path)
    .uploadData(typeof content === 'string' ? Buffer.from(content) : content);
}

describe('share snapshots and restore (shared/azure/shareSnapshots) against the simulator', () => {
  let t: AzureFixture;
  let service: ShareServiceClient;
  let accountKey: string;
  let shareCount = 0;

  /** A new state share with OpenClaw-like content; returns it and its content. */
  async function stateShare(): Promise<{ share: ShareClient; original: Map<string, Buffer | 'dir'> }> {
    shareCount += 1;
    const name = `state-${shareCount}`;
    await t.azure.storage.fileShares.create(rg, accountName, name, { shareQuota: 5 });
    const share = service.getShareClient(name);
    await put(share, 'openclaw.json', '{ gateway: { bind: "lan" } }\n');
    await put(share, 'state/openclaw.sqlite', await sqliteFile(200));
    await put(share, 'agents/main/sessions/2026-12-01.jsonl', '{"role":"user"}\n');
    await put(share, 'agents/main/big.bin', randomBytes(5 * 1024 * 1024 + 17)); // more than one 4 MiB range
    await put(share, 'agents/main/empty.txt', Buffer.alloc(0));
    await share.createDirectory('media');
    await share.getDirectoryClient('media').createSubdirectory('empty');
    return { share, original: await contentsOf(share.rootDirectoryClient) };
  }

  /**
   * What a failed upgrade leaves: a migrated database, files changed, added and deleted, a
   * directory turned into a file, a name whose case changed.
   */
  async function upgradeMessesUp(share: ShareClient): Promise<void> {
    await put(share, 'openclaw.json', '{ gateway: { bind: "lan" }, newKey: true }\n');
    await put(share, 'state/openclaw.sqlite', await sqliteFile(260));
    await share.rootDirectoryClient.getFileClient('agents/main/sessions/2026-12-01.jsonl').delete();
    await put(share, 'agents/main/sessions/2026-12-03.jsonl', '{"role":"assistant"}\n');
    await put(share, 'plugins/new/deep/index.js', 'export {}\n');
    await share.getDirectoryClient('media/empty').delete();
    await put(share, 'media/empty', 'now a file');
    // The same name in another case: Azure Files compares names case-insensitively and keeps the case given.
    await share.rootDirectoryClient.getFileClient('openclaw.json').delete();
    await put(share, 'OpenClaw.json', 'written back in another case');
  }

  beforeAll(async () => {
    t = await startAzureFixture();
    await t.azure.resources.resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    await t.azure.storage.storageAccounts.create(
      rg,
      accountName,
      { location: 'westeurope', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
      t.azure.poll,
    );
    service = (await fileServiceClient(t.azure, { resourceGroup: rg, accountName }))!;
    accountKey = (await t.azure.storage.storageAccounts.listKeys(rg, accountName)).keys![0]!.value!;
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('restores a share whose files were changed, added and deleted, byte for byte (a real SQLite file included)', async () => {
    const { share, original } = await stateShare();
    const id = await snapshotShare(share, { requestid: 'req-1' });
    expect(id).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
    await upgradeMessesUp(share);
    expect((await contentsOf(share.rootDirectoryClient)).get('openclaw.json')).not.toEqual(
      original.get('openclaw.json'),
    );

    const result = await restoreShareFromSnapshot(share, id);

    expectSameTree(await contentsOf(share.rootDirectoryClient), original);
    expect((original.get('state/openclaw.sqlite') as Buffer).subarray(0, 15).toString()).toBe(
      'SQLite format 3',
    );
    expect(result).toEqual({
      filesCopied: 5,
      directoriesCreated: 1, // media/empty, which had become a file
      filesDeleted: 4, // the new session, the plugin, media/empty (the file), OpenClaw.json
      directoriesDeleted: 3, // plugins, plugins/new, plugins/new/deep
    });
    // The snapshot is untouched and still the same.
    expectSameTree(await contentsOf(share.withSnapshot(id).rootDirectoryClient), original);
    // Copied server side, from the snapshot.
    const copied = await share.rootDirectoryClient.getFileClient('state/openclaw.sqlite').getProperties();
    expect(copied.copyStatus).toBe('success');
    expect(copied.copySource).toContain('sharesnapshot=');
  });

  it('converges when a restore is interrupted midway and run again, and a third run changes nothing', async () => {
    const { share, original } = await stateShare();
    const id = await snapshotShare(share);
    await upgradeMessesUp(share);

    let restored = 0;
    const crash = restoreShareFromSnapshot(share, id, {
      onFileRestored: () => {
        restored += 1;
        if (restored === 2) throw new Error('host killed');
      },
    });
    await expect(crash).rejects.toThrow(/host killed/);
    const midway = await contentsOf(share.rootDirectoryClient);
    expect(midway.get('state/openclaw.sqlite')).toBeDefined();
    const differs = [...original].some(([path, content]) => {
      const got = midway.get(path);
      return content === 'dir' ? got !== 'dir' : !(Buffer.isBuffer(got) && got.equals(content));
    });
    expect(differs, 'the interrupted restore left the share partly restored').toBe(true);

    await restoreShareFromSnapshot(share, id);
    expectSameTree(await contentsOf(share.rootDirectoryClient), original);

    const again = await restoreShareFromSnapshot(share, id);
    expect(again).toEqual({ filesCopied: 5, directoriesCreated: 0, filesDeleted: 0, directoriesDeleted: 0 });
    expectSameTree(await contentsOf(share.rootDirectoryClient), original);
  });

  it('lists, deletes and prunes only the broker snapshots, keeping the newest and the protected ones', async () => {
    const { share } = await stateShare();
    const foreign = (await share.createSnapshot()).snapshot!; // Azure Backup's or an operator's
    const ours: string[] = [];
    for (let count = 0; count < 4; count += 1) {
      ours.push(await snapshotShare(share));
      t.sim.clock.advance(1000);
    }
    const listed = await listShareSnapshots(service, share.name);
    expect(listed.map((snapshot) => snapshot.id)).toEqual([foreign, ...ours]);
    expect(listed.map((snapshot) => snapshot.takenByBroker)).toEqual([false, true, true, true, true]);

    const deleted = await pruneShareSnapshots(service, share.name, { keep: 2, protect: [ours[0]!] });
    expect(deleted).toEqual([ours[1]]);
    expect((await listShareSnapshots(service, share.name)).map((snapshot) => snapshot.id)).toEqual([
      foreign,
      ours[0],
      ours[2],
      ours[3],
    ]);
    expect(await pruneShareSnapshots(service, share.name, { keep: 2, protect: [ours[0]!] })).toEqual([]);

    // Once per key: a second run finds the snapshot the first one took.
    const first = await snapshotShareOnce(service, share.name, 'req-7:snapshot', { requestid: 'req-7' });
    t.sim.clock.advance(1000);
    const second = await snapshotShareOnce(service, share.name, 'req-7:snapshot');
    expect(first.taken).toBe(true);
    expect(second).toEqual({ id: first.id, taken: false });
    expect((await listShareSnapshots(service, share.name)).filter((s) => s.id === first.id)).toHaveLength(1);
    await expect(snapshotShareOnce(service, share.name, 'bad key\n')).rejects.toSatisfy(isBrokerError);

    expect(await deleteShareSnapshot(share, ours[0]!)).toEqual({ deleted: true });
    expect(await deleteShareSnapshot(share, ours[0]!)).toEqual({ deleted: false });
    await expect(pruneShareSnapshots(service, share.name, { keep: 0 })).rejects.toSatisfy(isBrokerError);
  });

  it('refuses a missing or malformed snapshot with a clear error, and keeps the account key out of every error', async () => {
    const { share } = await stateShare();
    const missing = await restoreShareFromSnapshot(share, '2020-01-01T00:00:00.0000000Z').catch(
      (error: unknown) => error,
    );
    expect(isBrokerError(missing) && missing.code).toBe('NotFound');
    const malformed = await restoreShareFromSnapshot(share, '../../etc?sig=x').catch(
      (error: unknown) => error,
    );
    expect(isBrokerError(malformed) && malformed.code).toBe('BadRequest');

    // A wrong key: the service refuses; the error keeps status and code, not the request.
    const wrongKey = randomBytes(64).toString('base64');
    const endpoint = service.url;
    const refused = await listShareSnapshots(
      new ShareServiceClient(endpoint, new StorageSharedKeyCredential(accountName, wrongKey), {
        retryOptions: { maxTries: 1 },
      }),
      share.name,
    ).catch((error: unknown) => error);
    expect(isAzureFilesError(refused)).toBe(true);
    expect(refused).toMatchObject({ statusCode: 403, code: 'AuthenticationFailed' });
    const serialised = JSON.stringify({
      refused,
      message: (refused as Error).message,
      props: { ...(refused as object) },
    });
    for (const secret of [wrongKey, accountKey]) expect(serialised).not.toContain(secret);
    expect(serialised).not.toMatch(/SharedKey/);
  });
});
