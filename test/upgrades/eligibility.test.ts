import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNpmRegistrySurface, type NpmRegistrySurface } from '../../sandbox/sim/npmRegistry.js';
import { NpmRegistryClient } from '../../shared/registries/npmRegistry.js';
import {
  judgeVersion,
  judgeVersions,
  newestEligibleAbove,
  type EligibilityInput,
  type EligibilityPolicy,
} from '../../shared/upgrades/eligibility.js';
import { SUPPORTED_OPENCLAW_VERSIONS } from '../../shared/openclaw/versions.js';
import { startSurfaceServer, type SurfaceServer } from '../sim/surfaceServer.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 9, 15, 12, 0, 0);
const MIN_AGE = 3 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

/** Every test reads the packument over loopback from the npm stand-in, as the broker would. */
describe('which OpenClaw versions are eligible for a slug', () => {
  let npm: NpmRegistrySurface;
  let server: SurfaceServer;
  let client: NpmRegistryClient;

  beforeAll(async () => {
    npm = createNpmRegistrySurface({ clock: { now: () => NOW } });
    server = await startSurfaceServer(npm);
    client = new NpmRegistryClient({ registryUrl: `${server.url}/npm`, timeoutMs: 5_000 });
    npm.publish('2026.8.2', iso(NOW - 40 * DAY));
    npm.publish('2026.9.6-beta.1', iso(NOW - 20 * DAY));
    npm.publish('2026.9.6', iso(NOW - MIN_AGE));
    npm.publish('2026.9.7', iso(NOW - 10 * DAY));
  });
  afterAll(() => server.close());

  async function input(
    overrides: { policy?: Partial<EligibilityPolicy>; failedOnSlug?: string[] } = {},
  ): Promise<EligibilityInput> {
    return {
      now: NOW,
      published: await client.publishTimes('openclaw'),
      policy: { minReleaseAgeMs: MIN_AGE, ...overrides.policy },
      failedOnSlug: overrides.failedOnSlug ?? [],
    };
  }

  it('reads the full packument, with publish times, not the abbreviated one', async () => {
    const published = await client.publishTimes('openclaw');
    expect(published.versions).toContain('2026.9.6');
    expect(published.time['2026.9.6']).toBe(iso(NOW - MIN_AGE));
    expect(published.time).not.toHaveProperty('created');
    const abbreviated = (await (
      await fetch(`${server.url}/npm/openclaw`, {
        headers: { accept: 'application/vnd.npm.install-v1+json' },
      })
    ).json()) as Record<string, unknown>;
    expect(abbreviated).not.toHaveProperty('time');
  });

  it('is eligible at exactly the minimum release age, and not one millisecond before', async () => {
    npm.setPublishTime('2026.9.6', iso(NOW - MIN_AGE));
    expect(judgeVersion('2026.9.6', await input())).toMatchObject({ eligible: true, ageMs: MIN_AGE });

    npm.setPublishTime('2026.9.6', iso(NOW - MIN_AGE + 1));
    expect(judgeVersion('2026.9.6', await input())).toMatchObject({
      eligible: false,
      reason: 'too-young',
      eligibleFrom: iso(NOW + 1),
    });
    npm.setPublishTime('2026.9.6', iso(NOW - MIN_AGE));
  });

  it('refuses a version whose publish time is missing', async () => {
    npm.removePublishTime('2026.9.6');
    try {
      const published = await client.publishTimes('openclaw');
      expect(published.versions).toContain('2026.9.6');
      expect(judgeVersion('2026.9.6', await input())).toMatchObject({
        eligible: false,
        reason: 'publish-time-missing',
      });
    } finally {
      npm.setPublishTime('2026.9.6', iso(NOW - MIN_AGE));
    }
  });

  it.each([
    ['in the future beyond the clock skew', iso(NOW + 6 * 60_000), 'publish-time-in-future'],
    ['before the release month', '2026-08-20T10:00:00.000Z', 'publish-time-before-release-month'],
    ['not a time', 'yesterday', 'publish-time-unparsable'],
  ])('refuses a publish time %s', async (_label, time, reason) => {
    npm.setPublishTime('2026.9.6', time);
    try {
      expect(judgeVersion('2026.9.6', await input())).toMatchObject({ eligible: false, reason });
    } finally {
      npm.setPublishTime('2026.9.6', iso(NOW - MIN_AGE));
    }
  });

  it('accepts a publish time within the clock skew as merely too young', async () => {
    npm.setPublishTime('2026.9.6', iso(NOW + 60_000));
    try {
      expect(judgeVersion('2026.9.6', await input())).toMatchObject({ eligible: false, reason: 'too-young' });
    } finally {
      npm.setPublishTime('2026.9.6', iso(NOW - MIN_AGE));
    }
  });

  it('refuses a pre-release, even an old one', async () => {
    expect(judgeVersion('2026.9.6-beta.1', await input())).toMatchObject({
      eligible: false,
      reason: 'prerelease',
    });
  });

  it('refuses a version outside the support table, even an old one', async () => {
    expect(SUPPORTED_OPENCLAW_VERSIONS).not.toContain('2026.9.7');
    expect(judgeVersion('2026.9.7', await input())).toMatchObject({ eligible: false, reason: 'unsupported' });
  });

  it('treats a -N correction as a final release', async () => {
    npm.publish('2026.9.6-1', iso(NOW - 5 * DAY));
    const verdict = judgeVersion(
      '2026.9.6-1',
      await input({ policy: { supported: [...SUPPORTED_OPENCLAW_VERSIONS, '2026.9.6-1'] } }),
    );
    expect(verdict).toMatchObject({ eligible: true });
  });

  it('refuses a blocked version and a version that failed on the slug', async () => {
    expect(judgeVersion('2026.9.6', await input({ policy: { blocked: ['2026.9.6'] } }))).toMatchObject({
      eligible: false,
      reason: 'blocked',
    });
    expect(judgeVersion('2026.9.6', await input({ failedOnSlug: ['2026.9.6'] }))).toMatchObject({
      eligible: false,
      reason: 'failed-on-slug',
    });
  });

  it('picks the newest eligible version above the slug current one', async () => {
    const verdicts = judgeVersions(await input());
    expect(verdicts.map((verdict) => verdict.version)).toEqual([
      '2026.8.2',
      '2026.9.6-beta.1',
      '2026.9.6',
      '2026.9.6-1',
      '2026.9.7',
    ]);
    expect(newestEligibleAbove('2026.8.2', verdicts)).toBe('2026.9.6');
    expect(newestEligibleAbove('2026.9.6', verdicts)).toBeUndefined();
    expect(
      newestEligibleAbove('2026.8.2', judgeVersions(await input({ failedOnSlug: ['2026.9.6'] }))),
    ).toBeUndefined();
  });
});
