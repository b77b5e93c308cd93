import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { isBrokerError } from '../../shared/errors.js';
import type { UpgradeState } from '../../shared/domain/upgradeState.js';
import type { EnvironmentRecord, EnvironmentState } from '../../shared/storage/environmentRegistry.js';
import { planWave, type WavePolicy } from '../../shared/upgrades/wavePlan.js';
import { newWaveId } from '../../shared/upgrades/waveSteps.js';
import { waveRequestId } from '../../shared/domain/upgradeState.js';
import { REQUEST_ID_PATTERN } from '../../shared/requests/lifecycleRequest.js';
import { testSettings } from '../support/settings.js';

const DAY = 86_400_000;
const TO = '2026.9.6';

function record(
  slug: string,
  options: { state?: EnvironmentState; version?: string; upgrades?: UpgradeState } = {},
): EnvironmentRecord {
  return {
    slug,
    state: options.state ?? 'ready',
    incarnation: 1,
    openclawVersion: options.version ?? '2026.8.2',
    owners: [],
    secretAges: {},
    upgrades: options.upgrades,
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
    etag: '*',
  };
}

const fleetOf = (count: number) =>
  Array.from({ length: count }, (_, i) => record(`slug-${String(i).padStart(3, '0')}`));

/** The default policy, as the settings make it. */
const defaults: WavePolicy = loadConfig(testSettings()).waves;

describe('planning a wave', () => {
  it('splits 200 slugs into three rings by default: one canary, 10% of the rest, the rest', () => {
    const plan = planWave(fleetOf(200), TO, defaults);
    expect(plan.rings.map((ring) => [ring.name, ring.slugs.length, ring.failureBudget])).toEqual([
      ['canary', 1, 0],
      ['ring 1', 20, 1],
      ['ring 2', 179, 8],
    ]);
    expect(plan.rings[1]!.bakeMs).toBe(1 * 3_600_000);
    expect(plan.rings[2]!.bakeMs).toBe(4 * 3_600_000);
    expect(plan.rings.every((ring) => ring.minAgeMs === 7 * DAY)).toBe(true);
    // Every slug once, in exactly one ring.
    const all = plan.rings.flatMap((ring) => ring.slugs);
    expect(new Set(all).size).toBe(200);
    expect(plan.skipped).toEqual([]);
  });

  it('takes the slugs marked canary as the canary ring, however many', () => {
    const records = fleetOf(10);
    records[4]!.upgrades = { canary: true };
    records[7]!.upgrades = { canary: true };
    const plan = planWave(records, TO, defaults);
    expect(plan.rings[0]!.slugs).toEqual(['slug-004', 'slug-007']);
    expect(plan.rings.slice(1).flatMap((ring) => ring.slugs)).not.toContain('slug-004');
  });

  it('leaves out held, pinned-elsewhere, failed-before, not-ready, current and newer slugs, each with its reason', () => {
    const plan = planWave(
      [
        record('held', { upgrades: { hold: { at: '2026-11-02T00:00:00Z', by: 'alice', reason: 'demo' } } }),
        record('pinned', {
          upgrades: { pinned: { at: '2026-11-02T00:00:00Z', by: 'bob', version: '2026.8.2' } },
        }),
        record('pinned-to-target', {
          upgrades: { pinned: { at: '2026-11-02T00:00:00Z', by: 'bob', version: TO } },
        }),
        record('failed-before', {
          upgrades: { failed: { [TO]: { at: '2026-11-02T00:00:00Z', requestId: 'r-1', reason: 'gate' } } },
        }),
        record('provisioning', { state: 'provisioning' }),
        record('repair', { state: 'needs-repair' }),
        record('gone', { state: 'deleted' }),
        record('there', { version: TO }),
        record('newer', { version: '2026.10.1' }),
        record('plain'),
      ],
      TO,
      defaults,
    );
    expect(plan.skipped).toEqual([
      { slug: 'failed-before', reason: `${TO} failed on it before (r-1: gate)` },
      { slug: 'held', reason: 'held by alice at 2026-11-02T00:00:00Z: demo' },
      { slug: 'newer', reason: `runs 2026.10.1, newer than ${TO}` },
      { slug: 'pinned', reason: 'pinned to 2026.8.2 by bob' },
      { slug: 'provisioning', reason: 'not ready (provisioning)' },
      { slug: 'repair', reason: 'not ready (needs-repair)' },
      { slug: 'there', reason: `already on ${TO}` },
    ]);
    expect(plan.rings.flatMap((ring) => ring.slugs).sort()).toEqual(['pinned-to-target', 'plain']);
  });

  it('keeps empty rings (with no slugs) so ring numbers stay stable for a small fleet', () => {
    const plan = planWave(fleetOf(1), TO, defaults);
    expect(plan.rings.map((ring) => ring.slugs.length)).toEqual([1, 0, 0]);
  });

  it('sizes rings by count and by share, the last taking the rest', () => {
    const policy = loadConfig(
      testSettings({
        UPGRADE_RINGS: '[{"size":5},{"size":"50%","failureBudget":"10%"},{"size":"rest"}]',
        UPGRADE_CANARY_COUNT: '2',
      }),
    ).waves;
    const plan = planWave(fleetOf(42), TO, policy);
    expect(plan.rings.map((ring) => ring.slugs.length)).toEqual([2, 5, 20, 15]);
    expect(plan.rings[2]!.failureBudget).toBe(2);
  });

  it('gives wave request ids the intake accepts, even for the longest version and slug', () => {
    const waveId = newWaveId('2026.12.100-31', new Date('2026-12-03T13:10:05.123Z'));
    expect(waveId).toBe('2026.12.100-31-20261203T131005');
    expect(waveRequestId(waveId, 'a'.repeat(20))).toMatch(REQUEST_ID_PATTERN);
  });
});

describe('the wave settings', () => {
  function refused(settings: Record<string, string>): string {
    try {
      loadConfig(testSettings(settings));
    } catch (error) {
      if (isBrokerError(error)) return error.message;
      throw error;
    }
    throw new Error('expected the settings to be refused');
  }

  it('name the ring and what is wrong with it', () => {
    expect(refused({ UPGRADE_RINGS: 'rings' })).toContain('UPGRADE_RINGS: expected a JSON array of rings');
    expect(refused({ UPGRADE_RINGS: '[{"size":"rest"},{"size":"rest"}]' })).toContain(
      'UPGRADE_RINGS: ring 1: only the last ring, and always the last ring, has size "rest"',
    );
    expect(refused({ UPGRADE_RINGS: '[{"size":"10%"}]' })).toContain('ring 1: only the last ring');
    expect(refused({ UPGRADE_RINGS: '[{"size":"150%"},{"size":"rest"}]' })).toContain(
      'ring 1: size must be "N%" (0-100], a whole number >= 1, or "rest"',
    );
    expect(refused({ UPGRADE_RINGS: '[{"size":"rest","bake":"soon"}]' })).toContain(
      'ring 1: bake must be a duration such as 1h (0s for none)',
    );
    expect(refused({ UPGRADE_RINGS: '[{"size":"rest","failureBudget":-1}]' })).toContain(
      'ring 1: failureBudget must be a whole number >= 0 or "N%"',
    );
    expect(refused({ UPGRADE_RINGS: '[{"size":"rest","when":"now"}]' })).toContain('ring 1: expected {');
    expect(refused({ UPGRADE_WAVE_SCHEDULE: '0 6 * * *' })).toContain(
      'UPGRADE_WAVE_SCHEDULE: expected a six-field',
    );
    expect(refused({ UPGRADE_CANARY_COUNT: 'two' })).toContain(
      'UPGRADE_CANARY_COUNT: expected a whole number',
    );
  });

  it('default to off for the timer and to the minimum release age per ring', () => {
    const config = loadConfig(
      testSettings({ OPENCLAW_MIN_RELEASE_AGE: '3d', UPGRADE_RINGS: '[{"size":"rest","minAge":"10d"}]' }),
    );
    expect(config.waves.auto).toBe(false);
    expect(config.waves.canaryMinAgeMs).toBe(3 * DAY);
    expect(config.waves.rings[0]!.minAgeMs).toBe(10 * DAY);
    expect(loadConfig(testSettings()).waves.rings.every((ring) => ring.minAgeMs === 7 * DAY)).toBe(true);
  });
});
