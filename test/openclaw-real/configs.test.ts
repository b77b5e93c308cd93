import { describe, expect, it } from 'vitest';
import { SUPPORTED_OPENCLAW_VERSIONS } from '../../shared/openclaw/versions.js';
import { FOUNDRY, FQDN } from '../shared/openclaw/fixtures.js';
import { cli, render, standInVerdict, variantsOf } from './support.js';

/**
 * Every config the broker renders, given to the real release it was rendered for, as the container
 * sees it (the env of the container app spec, the config on a secret volume, the state share 0700).
 */
describe.concurrent.each(SUPPORTED_OPENCLAW_VERSIONS)('the real OpenClaw %s', (version) => {
  it.each(variantsOf(version).map((variant) => [variant.name, variant] as const))(
    'accepts the config the broker renders: %s',
    async (_name, variant) => {
      const rendered = render(variant.input);
      const validate = await cli(rendered, ['config', 'validate', '--json']);
      expect(JSON.parse(validate.stdout), validate.stderr.slice(-2000)).toMatchObject({
        valid: true,
      });
    },
  );

  // The audit reads the whole footprint (state dir, config file modes, plugins), so it runs once per
  // channel set with everything else on: Foundry and the admin RPC plugin.
  it.each(
    variantsOf(version)
      .filter((variant) => variant.input.foundry !== undefined)
      .map((variant) => [variant.name, variant] as const),
  )('finds nothing critical in its security audit: %s', async (_name, variant) => {
    const rendered = render(variant.input);
    const audit = await cli(rendered, ['security', 'audit', '--json']);
    const report = JSON.parse(audit.stdout) as {
      summary: { critical: number };
      findings: Array<{ checkId: string; severity: string }>;
    };
    expect(report.findings.filter((finding) => finding.severity === 'critical')).toEqual([]);
    expect(report.summary.critical).toBe(0);
  });
});

/**
 * The simulator's stand-in and the real release judge the same configs alike: the broker's own,
 * and ones with a key the version does not know at each depth the broker renders.
 */
describe.concurrent.each(SUPPORTED_OPENCLAW_VERSIONS)('the stand-in and the real OpenClaw %s', (version) => {
  const broker = render({ version, appFqdn: FQDN, channels: ['telegram'], foundry: FOUNDRY, adminRpc: true });
  const config = JSON.parse(broker.text) as Record<string, Record<string, unknown>>;
  const retired = version === '2026.9.6' ? { toolTitles: false } : {};
  const cases: Array<[string, unknown]> = [
    ['the broker config', config],
    ['an unknown top-level key', { ...config, notAKey: true }],
    ['an unknown gateway key', { ...config, gateway: { ...config['gateway'], webchat: {} } }],
    [
      'an unknown rate-limit key',
      {
        ...config,
        gateway: {
          ...config['gateway'],
          auth: { ...(config['gateway']?.['auth'] as object), rateLimit: { burst: 1 } },
        },
      },
    ],
    ['a key issue 11 found', { ...config, logging: { consoleStyle: 'json', redactSensitive: 'tools' } }],
    [
      version === '2026.9.6' ? 'a key 2026.9.6 retired' : 'a key only 2026.9.6 knows',
      version === '2026.9.6'
        ? {
            ...config,
            gateway: {
              ...config['gateway'],
              controlUi: { ...(config['gateway']?.['controlUi'] as object), ...retired },
            },
          }
        : { ...config, worktreeRoot: '/home/node/.openclaw/worktrees' },
    ],
  ];
  it.each(cases)('agree on %s', async (_what, candidate) => {
    const rendered = { ...broker, text: `${JSON.stringify(candidate, null, 2)}\n` };
    const real = JSON.parse((await cli(rendered, ['config', 'validate', '--json'])).stdout) as {
      valid: boolean;
    };
    const standIn = standInVerdict(rendered);
    expect({ valid: standIn }).toEqual({ valid: real.valid });
  });
});
