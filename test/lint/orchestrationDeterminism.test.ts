import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The lint override for orchestrations/ is the project's determinism guard: these tests prove it
 * refuses each non-deterministic construct, and accepts the durable context's replacements.
 */
const eslint = new ESLint({
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
  ruleFilter: ({ ruleId }) => ruleId.startsWith('no-restricted-'),
});

async function problems(code: string, filePath = 'orchestrations/probe.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('the determinism lint for orchestrations/', () => {
  it.each([
    ['a Node built-in', "import { readFileSync } from 'node:fs';", 'no Node built-ins'],
    ['crypto', "import { randomUUID } from 'crypto';", 'no I/O, clocks or randomness'],
    ['an Azure SDK', "import { SecretClient } from '@azure/keyvault-secrets';", 'never call Azure SDKs'],
    [
      'an activity implementation',
      "import { services } from '../functions/services.js';",
      'activity names and types only',
    ],
    ['fetch', "await fetch('https://example.com');", 'fetch is not deterministic'],
    ['Date.now()', 'const t = Date.now();', 'not Date.now()'],
    ['new Date()', 'const t = new Date();', 'not new Date()'],
    ['Math.random()', 'const r = Math.random();', 'not Math.random()'],
    ['setTimeout', 'setTimeout(() => undefined, 10);', 'setTimeout is not deterministic'],
    ['process.env', 'const v = process.env.X;', 'process'],
  ])('refuses %s', async (_label, code, message) => {
    const found = await problems(code);
    expect(found.join('\n')).toContain(message);
  });

  it('accepts the durable context and shared domain types', async () => {
    const code = [
      "import type { OrchestrationContext } from 'durable-functions';",
      "import { Activities } from '../shared/functionNames.js';",
      'export function* run(context: OrchestrationContext) {',
      '  const now = context.df.currentUtcDateTime;',
      '  const id = context.df.newGuid(now.toISOString());',
      '  yield context.df.callActivity(Activities.claimNextRequest, { id });',
      '}',
    ].join('\n');
    expect(await problems(code)).toEqual([]);
  });

  it('applies only to orchestrations/: activities may use clocks and I/O', async () => {
    expect(await problems('const t = Date.now();', 'functions/probe.ts')).toEqual([]);
  });
});
