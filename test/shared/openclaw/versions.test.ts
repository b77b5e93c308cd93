import { describe, expect, it } from 'vitest';
import { OPENCLAW_CONFIG_SCHEMAS } from '../../../sandbox/sim/openclaw-schema.js';
import { OPENCLAW_PINS } from '../../../sandbox/openclaw-real/pins.js';
import { isStableOpenClawVersion } from '../../../shared/domain/openclawVersion.js';
import { isBrokerError } from '../../../shared/errors.js';
import { GENERATED_OPENCLAW_RELEASES } from '../../../shared/openclaw/generated/openclawReleases.js';
import {
  isSupportedOpenClawVersion,
  LATEST_SUPPORTED_OPENCLAW_VERSION,
  openClawVersionSupport,
  SUPPORTED_OPENCLAW_VERSIONS,
  unknownConfigKeys,
} from '../../../shared/openclaw/versions.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('OpenClaw version support', () => {
  it('supports exactly the pinned real releases, oldest first, none of them a pre-release', () => {
    expect(SUPPORTED_OPENCLAW_VERSIONS).toEqual(['2026.8.2', '2026.9.6']);
    expect([...OPENCLAW_PINS.versions].sort()).toEqual([...SUPPORTED_OPENCLAW_VERSIONS].sort());
    expect(GENERATED_OPENCLAW_RELEASES.map((release) => release.version).sort()).toEqual(
      [...SUPPORTED_OPENCLAW_VERSIONS].sort(),
    );
    expect(SUPPORTED_OPENCLAW_VERSIONS.every(isStableOpenClawVersion)).toBe(true);
    expect(LATEST_SUPPORTED_OPENCLAW_VERSION).toBe('2026.9.6');
  });

  it("takes the probe paths and the port from each version's generated data", () => {
    for (const version of SUPPORTED_OPENCLAW_VERSIONS) {
      const support = openClawVersionSupport(version);
      expect(support.probes).toEqual({ startup: '/startupz', liveness: '/healthz', readiness: '/readyz' });
      expect(support.gatewayPort).toBe(18789);
      expect(support.stateDir).toBe('/home/node/.openclaw');
      expect(support.telegramWebhook).toEqual({ path: '/telegram-webhook', port: 8787 });
    }
  });

  it('says whether the admin RPC plugin exists and where its route is', () => {
    for (const version of SUPPORTED_OPENCLAW_VERSIONS) {
      expect(openClawVersionSupport(version)).toMatchObject({
        adminRpcPlugin: true,
        adminRpcPath: '/api/v1/admin/rpc',
      });
    }
  });

  it('refuses a version it does not know with a BadRequest that lists the supported ones', () => {
    const error = thrown(() => openClawVersionSupport('2026.1.1'));
    expect(isBrokerError(error) && error.code).toBe('BadRequest');
    expect((error as Error).message).toBe(
      `OpenClaw 2026.1.1 is not supported by this broker; supported: ${SUPPORTED_OPENCLAW_VERSIONS.join(', ')}`,
    );
  });

  it('never substitutes a neighbouring version for a correction or patch release it does not know', () => {
    for (const version of ['2026.9.7', '2026.9.6-1', '2026.9.6-beta.1']) {
      expect(isSupportedOpenClawVersion(version)).toBe(false);
      expect(() => openClawVersionSupport(version)).toThrow(/not supported/);
    }
  });

  it('gives the OpenClaw stand-in the same keys and probes, per version', () => {
    for (const version of SUPPORTED_OPENCLAW_VERSIONS) {
      const standIn = OPENCLAW_CONFIG_SCHEMAS[version];
      const ours = openClawVersionSupport(version);
      expect(standIn?.configKeys).toEqual(ours.configKeys);
      expect(standIn?.probes).toEqual({ startup: null, ...ours.probes });
      expect(standIn?.adminRpcPath).toBe(ours.adminRpcPath);
    }
  });

  it('knows the real schema change between 2026.8.2 and 2026.9.6', () => {
    const older = openClawVersionSupport('2026.8.2').configKeys;
    const newer = openClawVersionSupport('2026.9.6').configKeys;
    expect([older['']?.includes('worktreeRoot'), newer['']?.includes('worktreeRoot')]).toEqual([false, true]);
    expect([
      older['gateway.controlUi']?.includes('toolTitles'),
      newer['gateway.controlUi']?.includes('toolTitles'),
    ]).toEqual([true, false]);
    // The keys issue 11 found the broker rendering, which 2026.9.6 refuses.
    expect(newer['logging']).not.toContain('redactSensitive');
    expect(newer['discovery.wideArea']).toEqual(['domain']);
  });

  it('finds unknown keys at every covered depth, in records and arrays too', () => {
    const keys = openClawVersionSupport('2026.9.6').configKeys;
    const config = {
      gateway: { webchat: {}, auth: { rateLimit: { burst: 1 } } },
      models: { providers: { p: { bogus: 1, models: [{ id: 'x', nope: true }] } } },
      plugins: { entries: { 'admin-http-rpc': { enabled: true, extra: 1 } } },
      discovery: { wideArea: { enabled: false } },
    };
    expect(unknownConfigKeys(config, keys)).toEqual([
      'discovery.wideArea.enabled',
      'gateway.auth.rateLimit.burst',
      'gateway.webchat',
      'models.providers.p.bogus',
      'models.providers.p.models[0].nope',
      'plugins.entries.admin-http-rpc.extra',
    ]);
  });
});
