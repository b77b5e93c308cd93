import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
import { EnvironmentRegistry, type EnvironmentRecord } from '../../shared/storage/environmentRegistry.js';
import { storageOn } from '../support/brokerStorage.js';

let azurite: RunningAzurite;
let registry: EnvironmentRegistry;

beforeAll(async () => {
  azurite = await startAzurite();
  registry = new EnvironmentRegistry(storageOn(azurite.connectionString).storage);
});

afterAll(async () => {
  await azurite.stop();
});

function fresh(slug: string): Omit<EnvironmentRecord, 'etag' | 'createdAt' | 'updatedAt'> {
  return { slug, state: 'provisioning', incarnation: 1, owners: ['alice@example.com'], secretAges: {} };
}

describe('the environment registry', () => {
  it('creates, reads and lists records with their structured fields', async () => {
    await registry.update('alpha', () => ({
      ...fresh('alpha'),
      secretAges: { 'gateway-token': '2026-11-01T00:00:00.000Z' },
    }));
    await registry.update('beta', () => fresh('beta'));
    const alpha = await registry.get('alpha');
    expect(alpha).toMatchObject({
      slug: 'alpha',
      state: 'provisioning',
      secretAges: { 'gateway-token': '2026-11-01T00:00:00.000Z' },
    });
    expect(alpha?.etag).not.toBe('');
    expect((await registry.list()).map((r) => r.slug)).toEqual(expect.arrayContaining(['alpha', 'beta']));
  });

  it('answers undefined for an unknown slug and leaves it absent when the mutation declines', async () => {
    expect(await registry.get('nobody')).toBeUndefined();
    expect(await registry.update('nobody', () => undefined)).toBeUndefined();
    expect(await registry.get('nobody')).toBeUndefined();
  });

  it('loses no update when many writers change the same record at once (etag retries)', async () => {
    await registry.update('busy', () => fresh('busy'));
    const writers = Array.from({ length: 6 }, (_, n) =>
      registry.update(
        'busy',
        (current) => current && { ...current, owners: [...current.owners, `owner-${n}`] },
      ),
    );
    await Promise.all(writers);
    const owners = (await registry.get('busy'))?.owners ?? [];
    expect(owners).toHaveLength(7);
    expect(owners).toEqual(expect.arrayContaining(Array.from({ length: 6 }, (_, n) => `owner-${n}`)));
  });

  it('keeps createdAt and moves updatedAt on each write', async () => {
    const first = await registry.update('clock', () => fresh('clock'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await registry.update('clock', (current) => current && { ...current, state: 'ready' });
    expect(second?.createdAt).toBe(first?.createdAt);
    expect(second?.updatedAt).not.toBe(first?.updatedAt);
    expect(second?.state).toBe('ready');
  });
});
