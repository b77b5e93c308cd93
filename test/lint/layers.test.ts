import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layer rules of shared/ (eslint.config.js): lifecycle folders do not import one another, and
 * adapters do not import lifecycle code. These tests prove each rule refuses what it should and
 * lets the allowed directions through.
 */
const eslint = new ESLint({
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
});

async function problems(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const LIFECYCLE = ['provisioning', 'rotation', 'sas', 'teardown', 'upgrades'];

describe('the layer lint for shared/', () => {
  it.each(LIFECYCLE.flatMap((from) => LIFECYCLE.filter((to) => to !== from).map((to) => [from, to])))(
    'refuses shared/%s importing shared/%s',
    async (from, to) => {
      const found = await problems(`import { x } from '../${to}/contracts.js';`, `shared/${from}/probe.ts`);
      expect(found.join('\n')).toContain('lifecycle folders do not import one another');
    },
  );

  it.each([
    ['rotation', 'sas'],
    ['teardown', 'rotation'],
    ['sas', 'provisioning'],
  ])('refuses shared/%s/steps importing shared/%s (one folder down)', async (from, to) => {
    const found = await problems(
      `import { x } from '../../${to}/contracts.js';`,
      `shared/${from}/steps/probe.ts`,
    );
    expect(found.join('\n')).toContain('lifecycle folders do not import one another');
  });

  it.each([
    ['azure', 'provisioning/contracts.js'],
    ['storage', 'teardown/teardownSteps.js'],
    ['storage', 'approvals/contracts.js'],
    ['telegram', 'maintenance/adminChat.js'],
    ['openclaw', 'operations/outcome.js'],
    ['azure', 'intake/stagedSecrets.js'],
    ['registries', 'upgrades/eligibility.js'],
    ['registries', 'provisioning/contracts.js'],
  ])('refuses the shared/%s adapter importing %s', async (adapter, target) => {
    const found = await problems(`import type { X } from '../${target}';`, `shared/${adapter}/probe.ts`);
    expect(found.join('\n')).toContain('Adapters do not import lifecycle code');
  });

  it('lets a lifecycle folder use its own files, the domain, the kit, maintenance and the adapters', async () => {
    const code = [
      "import { x } from './contracts.js';",
      "import { SLUG_SECRET_NAMES } from '../domain/footprint.js';",
      "import { asStepOutcome } from '../operations/outcome.js';",
      "import { latestVersion } from '../maintenance/keyVaultVersions.js';",
      "import { AzureClients } from '../azure/azureClients.js';",
      "import { RequestStore } from '../storage/requestStore.js';",
      "import { NpmRegistryClient } from '../registries/npmRegistry.js';",
    ].join('\n');
    for (const folder of LIFECYCLE) expect(await problems(code, `shared/${folder}/probe.ts`)).toEqual([]);
  });

  it('lets adapters use the domain and one another', async () => {
    const code = [
      "import { OWNERSHIP_TAGS } from '../domain/footprint.js';",
      "import { azureFailureOf } from '../azure/azureErrors.js';",
    ].join('\n');
    expect(await problems(code, 'shared/storage/probe.ts')).toEqual([]);
  });

  it('keeps orchestrations away from the storage and chat adapters too', async () => {
    const found = await problems(
      "import { RequestStore } from '../shared/storage/requestStore.js';",
      'orchestrations/probe.ts',
    );
    expect(found.join('\n')).toContain('activity names and types only');
  });

  it('holds for the tree as it is', async () => {
    const results = await eslint.lintFiles(['shared/**/*.ts', 'orchestrations/**/*.ts']);
    const found = results.flatMap((result) => result.messages.map((m) => `${result.filePath}: ${m.message}`));
    expect(found).toEqual([]);
  });
});
