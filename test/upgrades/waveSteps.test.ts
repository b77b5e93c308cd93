import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { NpmRegistryError } from '../../shared/registries/npmRegistry.js';
import { createWaveSteps, type WaveDependencies } from '../../shared/upgrades/waveSteps.js';
import { testSettings } from '../support/settings.js';

/** Starting a wave refuses before it touches anything when the version cannot be judged. */
describe('starting a wave', () => {
  const untouched = new Proxy(
    {},
    {
      get: (_target, name) => {
        throw new Error(`nothing may be touched before the version is judged (touched ${String(name)})`);
      },
    },
  );

  function stepsWith(publishTimes: WaveDependencies['publishTimes']) {
    return createWaveSteps({
      config: loadConfig(testSettings()),
      registry: untouched as never,
      requests: untouched as never,
      waves: untouched as never,
      queue: () => Promise.reject(new Error('no queue')),
      publishTimes,
      chat: untouched as never,
      log: createLogger({ log: () => {}, warn: () => {}, error: () => {} }),
    });
  }

  it('refuses with UpgradeRegistryUnavailable when npm cannot be read', async () => {
    const steps = stepsWith(() =>
      Promise.reject(new NpmRegistryError('npm registry answered 503 for openclaw', 503)),
    );
    const outcome = await steps.start({
      version: '2026.9.6',
      requestedBy: { kind: 'operator', id: 'alice' },
      now: new Date('2026-12-03T12:00:00Z'),
    });
    expect(outcome).toEqual({
      kind: 'refused',
      refusal: {
        code: 'UpgradeRegistryUnavailable',
        detail:
          "npm's publish times could not be read (npm registry answered 503 for openclaw); try again later",
      },
    });
  });

  it('refuses a pre-release as ineligible and a version npm does not list as unknown', async () => {
    const steps = stepsWith(async () => ({
      name: 'openclaw',
      versions: ['2026.9.6', '2026.10.1-beta.1'],
      time: { '2026.9.6': '2026-09-20T00:00:00.000Z', '2026.10.1-beta.1': '2026-10-02T00:00:00.000Z' },
    }));
    const at = {
      requestedBy: { kind: 'operator' as const, id: 'alice' },
      now: new Date('2026-12-03T12:00:00Z'),
    };
    expect(await steps.start({ version: '2026.10.1-beta.1', ...at })).toMatchObject({
      kind: 'refused',
      refusal: { code: 'UpgradeVersionIneligible', reason: 'prerelease' },
    });
    expect(await steps.start({ version: '2026.8.2', ...at })).toMatchObject({
      kind: 'refused',
      refusal: { code: 'UpgradeVersionUnknown', detail: 'npm lists no 2026.8.2' },
    });
  });
});
