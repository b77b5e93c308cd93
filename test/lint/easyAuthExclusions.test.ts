import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The deployment fronts every route with App Service authentication (infra/modules/broker.bicep)
 * and excludes only what cannot sign in. The excluded paths must be exactly the anonymous HTTP
 * routes the app registers (today the Telegram webhook): a new anonymous route that is not
 * excluded would be unreachable in Azure, and an excluded route that is not anonymous would be
 * open to function-key holders who never signed in.
 */
function anonymousRoutes(): string[] {
  const routes: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const source = readFileSync(path, 'utf8');
        for (const match of source.matchAll(
          /route: '([^']+)',\s*methods: [^\n]+\n\s*authLevel: 'anonymous'/g,
        )) {
          routes.push(`/api/${match[1]!}`);
        }
      }
    }
  };
  walk('functions');
  return routes.sort();
}

function bicepExcludedPaths(): string[] {
  const bicep = readFileSync('infra/modules/broker.bicep', 'utf8');
  const list = /excludedPaths: \[([^\]]*)\]/.exec(bicep)?.[1] ?? '';
  return [...list.matchAll(/'([^']+)'/g)].map((match) => match[1]!).sort();
}

describe('Easy Auth in the Bicep', () => {
  it('requires authentication, tells the broker so, and excludes exactly the anonymous routes', () => {
    const bicep = readFileSync('infra/modules/broker.bicep', 'utf8');
    expect(bicep).toMatch(/requireAuthentication: true/);
    expect(bicep).toMatch(/unauthenticatedClientAction: 'Return401'/);
    expect(bicep).toContain("{ name: 'OPERATOR_AUTH', value: 'easyauth' }");
    expect(anonymousRoutes()).toEqual(['/api/telegram/webhook']);
    expect(bicepExcludedPaths()).toEqual(anonymousRoutes());
  });
});
