import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import {
  HOUSEKEEPING_KEEP,
  runHousekeeping,
  type HousekeepingTargets,
} from '../../shared/housekeeping/housekeeping.js';
import { createLogger, type LogSink } from '../../shared/logger.js';
import type { BrokerStorage } from '../../shared/storage/brokerStorage.js';
import { NonceStore } from '../../shared/storage/nonceStore.js';
import { SeenUpdateStore } from '../../shared/storage/seenUpdateStore.js';
import { TEARDOWN_BACKUP_CONTAINER, TeardownBackupStore } from '../../shared/storage/teardownBackupStore.js';
import { storageOn } from '../support/brokerStorage.js';

/**
 * Housekeeping on Azurite: what has outlived its purpose goes (nonces a week past expiry, seen
 * update ids a week old, teardown backups past `retainuntil`), everything else stays, and a second
 * run finds nothing more.
 */
const DAY = 24 * 3_600_000;
const now = new Date('2026-11-22T02:30:00.000Z');
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);

let azurite: RunningAzurite;
let storage: BrokerStorage;
let targets: HousekeepingTargets;
const lines: string[] = [];
const sink: LogSink = {
  log: (line: string) => lines.push(line),
  warn: (line: string) => lines.push(line),
  error: (line: string) => lines.push(line),
};

beforeAll(async () => {
  azurite = await startAzurite();
  storage = storageOn(azurite.connectionString).storage;
  targets = {
    nonces: new NonceStore(storage),
    seenUpdates: new SeenUpdateStore(storage),
    teardownBackups: new TeardownBackupStore(storage),
  };
});

afterAll(async () => {
  await azurite?.stop();
});

describe('housekeeping', () => {
  it('deletes old nonces, seen updates and expired backups, and keeps the rest', async () => {
    const nonces = new NonceStore(storage, () => at(-30 * DAY));
    const vote = { kind: 'approval', requestId: 'r-1', action: 'approve' } as const;
    const longExpired = await nonces.mint(vote, at(-HOUSEKEEPING_KEEP.expiredNonceMs - DAY).toISOString());
    const recentlyExpired = await nonces.mint(vote, at(-DAY).toISOString());
    const valid = await nonces.mint(vote, at(DAY).toISOString());

    await new SeenUpdateStore(storage, () => at(-HOUSEKEEPING_KEEP.seenUpdateMs - 1)).claim(1001);
    await new SeenUpdateStore(storage, () => at(-DAY)).claim(1002);

    const container = await storage.container(TEARDOWN_BACKUP_CONTAINER);
    const backup = async (prefix: string, retainUntil: string | undefined, files: string[]) => {
      for (const name of [...files.map((file) => `files/${file}`), 'manifest.json'])
        await container
          .getBlockBlobClient(`${prefix}/${name}`)
          .upload('x', 1, { metadata: retainUntil ? { retainuntil: retainUntil } : {} });
    };
    await backup('old/1/req-a', at(-DAY).toISOString(), ['openclaw.json', 'agents/main.md']);
    await backup('kept/1/req-b', at(DAY).toISOString(), ['openclaw.json']);
    await backup('stray/1/req-c', undefined, []);

    const report = await runHousekeeping(targets, now, createLogger(sink));

    expect(report).toEqual({
      noncesDeleted: 1,
      seenUpdatesDeleted: 1,
      backupBlobsDeleted: 3,
      backupsDeleted: ['old/1/req-a'],
      backupBlobsWithoutRetention: 1,
      more: false,
    });
    const reader = new NonceStore(storage, () => now);
    expect((await reader.lookup(longExpired)).kind).toBe('unknown');
    expect((await reader.lookup(recentlyExpired)).kind).toBe('expired');
    expect((await reader.lookup(valid)).kind).toBe('valid');
    const seen = new SeenUpdateStore(storage, () => now);
    expect(await seen.claim(1002)).toBe(false); // still remembered
    const left: string[] = [];
    for await (const blob of container.listBlobsFlat()) left.push(blob.name);
    expect(left.sort()).toEqual([
      'kept/1/req-b/files/openclaw.json',
      'kept/1/req-b/manifest.json',
      'stray/1/req-c/manifest.json',
    ]);
    expect(
      lines.some((line) => line.includes('without a readable retention') && line.includes('stray/1/req-c')),
    ).toBe(true);

    expect(await runHousekeeping(targets, now, createLogger(sink))).toMatchObject({
      noncesDeleted: 0,
      seenUpdatesDeleted: 0,
      backupBlobsDeleted: 0,
      backupsDeleted: [],
    });
  });
});
