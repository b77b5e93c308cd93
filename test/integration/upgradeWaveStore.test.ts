import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { runHousekeeping } from '../../shared/housekeeping/housekeeping.js';
import { createLogger } from '../../shared/logger.js';
import { NonceStore } from '../../shared/storage/nonceStore.js';
import { SeenUpdateStore } from '../../shared/storage/seenUpdateStore.js';
import { TeardownBackupStore } from '../../shared/storage/teardownBackupStore.js';
import { UpgradeWaveStore, type WaveRecord, type WaveSlug } from '../../shared/storage/upgradeWaveStore.js';
import { storageOn } from '../support/brokerStorage.js';

/** The wave store on Azurite: the one running slot, slug rows in batches, and retention. */
let azurite: RunningAzurite;
let store: UpgradeWaveStore;
const DAY = 86_400_000;

function wave(waveId: string, extra: Partial<WaveRecord> = {}): Omit<WaveRecord, 'etag'> {
  return {
    waveId,
    targetVersion: '2026.9.6',
    status: 'running',
    requestedBy: { kind: 'operator', id: 'alice' },
    createdAt: '2026-11-22T08:00:00.000Z',
    updatedAt: '2026-11-22T08:00:00.000Z',
    publishedAt: '2026-11-01T00:00:00.000Z',
    rings: [],
    skipped: 0,
    ...extra,
  };
}

const slugsOf = (count: number, ring: number | null): WaveSlug[] =>
  Array.from({ length: count }, (_, i) => ({
    slug: `s-${ring ?? 'x'}-${String(i).padStart(3, '0')}`,
    ring,
    requestId: `upgrade:w:s-${i}`,
    state: ring === null ? 'skipped' : 'planned',
    ...(ring === null ? { reason: 'held' } : {}),
  }));

beforeAll(async () => {
  azurite = await startAzurite();
  store = new UpgradeWaveStore(storageOn(azurite.connectionString).storage);
});

afterAll(async () => {
  await azurite?.stop();
});

describe('the upgrade wave store', () => {
  it('gives the running slot to one wave at a time, and to another once the first is over', async () => {
    expect(await store.claimCurrent('w-1', async () => false)).toEqual({ claimed: true });
    expect(await store.claimCurrent('w-2', async () => false)).toEqual({
      claimed: false,
      runningWaveId: 'w-1',
    });
    expect(await store.claimCurrent('w-2', async (heldBy) => heldBy === 'w-1')).toEqual({ claimed: true });
    expect(await store.current()).toBe('w-2');
    await store.releaseCurrent('w-1'); // not the holder: nothing changes
    expect(await store.current()).toBe('w-2');
    await store.releaseCurrent('w-2');
    await store.releaseCurrent('w-2');
    expect(await store.current()).toBeUndefined();
  });

  it('writes slug rows in batches of 100 and reads a ring back', async () => {
    expect(await store.create(wave('w-rows'))).toBe(true);
    expect(await store.create(wave('w-rows'))).toBe(false);
    await store.putSlugs('w-rows', [...slugsOf(150, 0), ...slugsOf(130, 1), ...slugsOf(3, null)]);
    expect(await store.slugs('w-rows', 0)).toHaveLength(150);
    expect(await store.slugs('w-rows', 1)).toHaveLength(130);
    const all = await store.slugs('w-rows');
    expect(all).toHaveLength(283);
    expect(all.filter((slug) => slug.ring === null)).toEqual(
      slugsOf(3, null).map((slug) => ({ ...slug, outcome: undefined, at: undefined })),
    );
    const updated = await store.update('w-rows', (current) => ({ ...current, status: 'paused' }));
    expect(updated?.status).toBe('paused');
    expect(await store.update('no-such-wave', (current) => current)).toBeUndefined();
  });

  it('deletes waves that ended before the retention, with their slug rows, and keeps the rest', async () => {
    const now = new Date('2027-06-01T00:00:00.000Z');
    await store.create(
      wave('w-old', { status: 'completed', endedAt: new Date(now.getTime() - 200 * DAY).toISOString() }),
    );
    await store.putSlugs('w-old', slugsOf(120, 0));
    await store.create(
      wave('w-recent', { status: 'halted', endedAt: new Date(now.getTime() - 10 * DAY).toISOString() }),
    );
    await store.create(wave('w-live'));
    const storage = storageOn(azurite.connectionString).storage;
    const report = await runHousekeeping(
      {
        nonces: new NonceStore(storage),
        seenUpdates: new SeenUpdateStore(storage),
        teardownBackups: new TeardownBackupStore(storage),
        upgradeWaves: { store, retentionMs: 180 * DAY },
      },
      now,
      createLogger({ log: () => {}, warn: () => {}, error: () => {} }),
    );
    expect(report.waveRowsDeleted).toBe(121);
    expect(await store.get('w-old')).toBeUndefined();
    expect(await store.slugs('w-old')).toEqual([]);
    expect(await store.get('w-recent')).toBeDefined();
    expect(await store.get('w-live')).toBeDefined();
    expect((await store.list()).map((w) => w.waveId)).not.toContain('w-old');
  });
});
