import { describe, expect, it } from 'vitest';
import { SUPPORTED_OPENCLAW_VERSIONS } from '../../shared/openclaw/versions.js';
import { cli, render, variantsOf } from './support.js';

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
