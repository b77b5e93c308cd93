import { describe, expect, it } from 'vitest';
import { OPENCLAW_CONFIG_SCHEMAS } from '../../../sandbox/sim/openclaw-schema.js';
import { isCalendarVersion } from '../../../shared/domain/openclawVersion.js';
import { isBrokerError } from '../../../shared/errors.js';
import {
  isSupportedOpenClawVersion,
  openClawVersionSupport,
  SUPPORTED_OPENCLAW_VERSIONS,
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
  it('supports 2026.9.6 and 2026.10.20, oldest first, all calendar versions', () => {
    expect(SUPPORTED_OPENCLAW_VERSIONS).toEqual(expect.arrayContaining(['2026.9.6', '2026.10.20']));
    expect(SUPPORTED_OPENCLAW_VERSIONS.indexOf('2026.9.6')).toBeLessThan(
      SUPPORTED_OPENCLAW_VERSIONS.indexOf('2026.10.20'),
    );
    expect(SUPPORTED_OPENCLAW_VERSIONS.every(isCalendarVersion)).toBe(true);
  });

  it('pins the probe paths, the port and the state dir of each version', () => {
    for (const version of SUPPORTED_OPENCLAW_VERSIONS) {
      const support = openClawVersionSupport(version);
      expect(support.probes).toEqual({ liveness: '/healthz', readiness: '/readyz' });
      expect(support.gatewayPort).toBe(18789);
      expect(support.stateDir).toBe('/home/node/.openclaw');
    }
  });

  it('says whether the admin RPC plugin can be enabled', () => {
    expect(openClawVersionSupport('2026.9.6').adminRpcPlugin).toBe(false);
    expect(openClawVersionSupport('2026.10.20').adminRpcPlugin).toBe(true);
  });

  it('refuses a version it does not know with a BadRequest that lists the supported ones', () => {
    const error = thrown(() => openClawVersionSupport('2026.1.1'));
    expect(isBrokerError(error) && error.code).toBe('BadRequest');
    expect((error as Error).message).toBe(
      `OpenClaw 2026.1.1 is not supported by this broker; supported: ${SUPPORTED_OPENCLAW_VERSIONS.join(', ')}`,
    );
  });

  it('never substitutes a neighbouring version for a patch release it does not know', () => {
    expect(isSupportedOpenClawVersion('2026.9.7')).toBe(false);
    expect(() => openClawVersionSupport('2026.9.7')).toThrow(/not supported/);
  });

  it("knows exactly the keys the OpenClaw stand-in's schema table knows, per version", () => {
    for (const version of SUPPORTED_OPENCLAW_VERSIONS) {
      const standIn = OPENCLAW_CONFIG_SCHEMAS[version];
      expect(standIn, `stand-in has ${version}`).toBeDefined();
      const ours = openClawVersionSupport(version).configKeys;
      for (const section of ['topLevel', 'gateway', 'controlUi', 'auth'] as const) {
        expect([...ours[section]].sort(), `${version} ${section}`).toEqual(
          [...(standIn?.[section] ?? [])].sort(),
        );
      }
    }
  });

  it('retires `web` and adds `crestodian` between 2026.9.6 and 2026.10.20', () => {
    const before = openClawVersionSupport('2026.9.6').configKeys.topLevel;
    const after = openClawVersionSupport('2026.10.20').configKeys.topLevel;
    expect([before.includes('web'), before.includes('crestodian')]).toEqual([true, false]);
    expect([after.includes('web'), after.includes('crestodian')]).toEqual([false, true]);
  });
});
