import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { TableImageDigestStore } from '../../shared/storage/imageDigestStore.js';
import type { DigestStore } from '../../shared/upgrades/imageDigest.js';
import { storageOn } from '../support/brokerStorage.js';

/** The frozen-digest store on Table storage (Azurite): first writer wins, across store instances. */
let azurite: RunningAzurite;

beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

describe('the Table storage digest store', () => {
  it('freezes the first digest for a version and keeps it', async () => {
    const { storage } = storageOn(azurite.connectionString);
    const store: DigestStore = new TableImageDigestStore(storage);
    const image = '127.0.0.1:5000/openclaw/openclaw';
    expect(await store.get(image, '2026.9.6')).toBeUndefined();

    const first = {
      version: '2026.9.6',
      image,
      digest: `sha256:${'a'.repeat(64)}`,
      frozenAt: '2026-10-15T12:00:00.000Z',
    };
    expect(await store.freeze(first)).toEqual(first);

    const other: DigestStore = new TableImageDigestStore(storageOn(azurite.connectionString).storage);
    const second = { ...first, digest: `sha256:${'b'.repeat(64)}`, frozenAt: '2026-10-16T12:00:00.000Z' };
    expect(await other.freeze(second)).toEqual(first);
    expect(await other.get(image, '2026.9.6')).toEqual(first);
    expect(await other.get('ghcr.io/openclaw/openclaw', '2026.9.6')).toBeUndefined();
  });
});
