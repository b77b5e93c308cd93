import { describe, expect, it } from 'vitest';
import type { MaintenanceTarget } from '../../shared/maintenance/contracts.js';
import { flagSecret } from '../../shared/rotation/steps/records.js';
import type {
  EnvironmentMutation,
  EnvironmentRecord,
  EnvironmentRegistry,
} from '../../shared/storage/environmentRegistry.js';
import type { TeardownPlan } from '../../shared/teardown/contracts.js';
import { finish, markDeleting } from '../../shared/teardown/steps/records.js';

/**
 * The step factories are made of named steps, each testable alone: a step is called directly with
 * a hand-made context holding only what it uses (here a registry in memory and a chat that
 * remembers), without Azure, Azurite or the functions host.
 */
const DAY = 86_400_000;
const NOW = '2026-06-15T03:00:00.000Z';
const ago = (days: number) => new Date(Date.parse(NOW) - days * DAY).toISOString();

function memoryRegistry(...records: EnvironmentRecord[]) {
  const rows = new Map(records.map((record) => [record.slug, record]));
  const registry = {
    get: (slug: string) => Promise.resolve(rows.get(slug)),
    update: (slug: string, mutate: EnvironmentMutation) => {
      const current = rows.get(slug);
      const mutated = mutate(current);
      const next = mutated && current ? { ...current, ...mutated, updatedAt: NOW } : undefined;
      if (next) rows.set(slug, next);
      return Promise.resolve(next);
    },
  };
  return { rows, registry: registry as unknown as EnvironmentRegistry };
}

function record(slug: string, overrides: Partial<EnvironmentRecord> = {}): EnvironmentRecord {
  return {
    slug,
    state: 'ready',
    incarnation: 1,
    owners: [],
    secretAges: { 'telegram-bot-token': ago(200) },
    createdAt: ago(300),
    updatedAt: ago(1),
    etag: '*',
    ...overrides,
  };
}

describe('flagSecret, called alone', () => {
  const target = { slug: 'alpha', requestId: 'rotate:alpha:2026-06-15' } as MaintenanceTarget;
  const input = { target, now: NOW, kind: 'telegram-bot-token' as const, setAt: ago(200) };

  it('tells the admin chat and flags the token on the record, once per age', async () => {
    const { rows, registry } = memoryRegistry(record('alpha'));
    const told: string[] = [];
    const ctx = {
      registry,
      policy: {
        maxAgeMs: {
          'gateway-token': 30 * DAY,
          'storage-key': 90 * DAY,
          'entra-client-secret': 180 * DAY,
          'telegram-bot-token': 180 * DAY,
        },
      },
      deps: { chat: { tell: (text: string) => Promise.resolve(void told.push(text)) } },
    };

    expect(await flagSecret(ctx, input)).toEqual({ status: 'done', value: { told: true } });
    expect(told).toEqual([
      'claw-broker: the telegram-bot-token of alpha was set 200 days ago (policy: 180 days); bot tokens cannot be rotated by API. Ask BotFather for a new token (/revoke), then provision alpha again with it.',
    ]);
    expect(rows.get('alpha')?.maintenance?.flags?.['telegram-bot-token']).toEqual({
      flaggedAt: NOW,
      reason: 'set 200 days ago (policy: 180 days); bot tokens cannot be rotated by API',
    });

    expect(await flagSecret(ctx, input)).toEqual({ status: 'done', value: { told: false } });
    expect(told).toHaveLength(1);
  });
});

describe('the teardown record steps, called alone', () => {
  it('mark the environment deleting, then deleted with where its backup went', async () => {
    const { rows, registry } = memoryRegistry(record('beta', { url: 'https://beta.example' }));
    await markDeleting({ registry }, { slug: 'beta', requestId: 'teardown-1', at: NOW });
    expect(rows.get('beta')).toMatchObject({ state: 'deleting', currentStep: 'teardown' });

    const plan = { slug: 'beta', requestId: 'teardown-1' } as TeardownPlan;
    await finish(
      { registry },
      {
        plan,
        at: NOW,
        backup: {
          location: 'teardown-backups/beta/1/teardown-1/',
          files: 2,
          bytes: 10,
          retainUntil: ago(-30),
        },
        vault: { name: 'kv-beta', outcome: 'kept', recoverableUntil: ago(-90) },
      },
    );
    const done = rows.get('beta');
    expect(done).toMatchObject({
      state: 'deleted',
      teardown: {
        requestId: 'teardown-1',
        at: NOW,
        backupLocation: 'teardown-backups/beta/1/teardown-1/',
        backupRetainUntil: ago(-30),
        keyVault: 'kept',
        keyVaultRecoverableUntil: ago(-90),
      },
    });
    expect(done?.url).toBeUndefined();
    expect(done?.currentStep).toBeUndefined();
  });

  it('leave a slug the registry does not hold alone', async () => {
    const { rows, registry } = memoryRegistry();
    await markDeleting({ registry }, { slug: 'gamma', requestId: 'teardown-2', at: NOW });
    expect(rows.has('gamma')).toBe(false);
  });
});
