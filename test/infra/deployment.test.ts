import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * What no Bicep compiler can check here (there is none on these machines): the deployment read as
 * text against the code. Each test names the finding of issue 15 it guards.
 */
const read = (path: string) => readFileSync(path, 'utf8');
const bicepFiles = [
  'infra/main.bicep',
  ...readdirSync('infra/modules').map((name) => `infra/modules/${name}`),
];
const broker = read('infra/modules/broker.bicep');

/** `resource <symbol> '<type>@<version>' ... = { ... }` blocks, each with its text up to the next top-level line. */
function resources(text: string): { symbol: string; type: string; body: string }[] {
  const found: { symbol: string; type: string; body: string }[] = [];
  const pattern = /^resource (\w+) '([^'@]+)@[^']+'[^\n]*$/gm;
  const starts = [...text.matchAll(pattern)];
  starts.forEach((match, i) => {
    const end = starts[i + 1]?.index ?? text.length;
    found.push({ symbol: match[1]!, type: match[2]!, body: text.slice(match.index, end) });
  });
  return found;
}

/** The setting names `shared/config.ts` reads (its settings schema's keys). */
function settingsTheCodeReads(): string[] {
  const config = read('shared/config.ts');
  const start = config.indexOf('const settingsSchema = z.object({');
  const block = config.slice(start, config.indexOf('\n});', start));
  return [...block.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
}

function bicepAppSettings(): string[] {
  return [...broker.matchAll(/\{ name: '([A-Za-z0-9_]+)', value:/g)].map((m) => m[1]!);
}

describe('the deployment (infra/)', () => {
  it('names no role assignment after a module output (BCP120): names derive from parameters only', () => {
    for (const file of bicepFiles) {
      const modules = [...read(file).matchAll(/^module (\w+) /gm)].map((m) => m[1]!);
      for (const resource of resources(read(file)).filter((r) => r.type.endsWith('/roleAssignments'))) {
        const name = /^\s+name: (.+)$/m.exec(resource.body)?.[1] ?? '';
        for (const module of modules)
          expect(name, `${file} ${resource.symbol}`).not.toContain(`${module}.outputs`);
      }
    }
  });

  it('gives the Function App Monitoring Metrics Publisher on the App Insights component, which refuses local auth', () => {
    expect(broker).toMatch(/DisableLocalAuth: true/);
    expect(broker).toContain(
      "{ name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }",
    );
    const telemetry = resources(broker).find((r) => r.symbol === 'telemetryRole')!;
    expect(telemetry.body).toMatch(/scope: insights/);
    expect(telemetry.body).toMatch(/principalId: functionApp\.identity\.principalId/);
    expect(broker).toMatch(/monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'/);
  });

  it('grants the Graph permissions of infra/graphPermissions.json, and they cover every Graph call the broker makes', () => {
    const main = read('infra/main.bicep');
    expect(main).toMatch(/module graphPermissions 'modules\/graphPermissions\.bicep'/);
    const module = read('infra/modules/graphPermissions.bicep');
    expect(module).toContain("loadJsonContent('../graphPermissions.json')");
    expect(module).toMatch(/Microsoft\.Graph\/appRoleAssignedTo@v1\.0/);
    const listed = (
      JSON.parse(read('infra/graphPermissions.json')) as { permissions: { name: string; calls: string[] }[] }
    ).permissions.flatMap((p) => p.calls);
    // Every call site in the Graph client: method and path, ids and queries generalised.
    const entra = read('shared/azure/entra.ts');
    const made = new Set<string>();
    for (const m of entra.matchAll(/this\.call(?:<[^>]*>)?\(\s*'(\w+)',\s*[`']([^`']+)[`']/g))
      made.add(`${m[1]} ${m[2]}`);
    for (const m of entra.matchAll(/this\.list(?:All)?<[^>]*>\(\s*`([^`?]+)/g)) made.add(`GET ${m[1]}`);
    for (const m of entra.matchAll(/this\.deleteOrMissing\(`([^`]+)`\)/g)) made.add(`DELETE ${m[1]}`);
    const general = [...made].map((call) =>
      call.replace(/\$\{collection\}/, '{collection}').replace(/\$\{[^}]+\}/g, '{id}'),
    );
    expect(general.length).toBeGreaterThan(10);
    for (const call of general) {
      const candidates = call.includes('{collection}')
        ? ['servicePrincipals', 'users'].map((c) => call.replace('{collection}', c))
        : [call];
      for (const candidate of candidates)
        expect(listed, `${candidate} has no permission`).toContain(candidate);
    }
  });

  it('lets operators (shire-admins) write the Telegram secrets into the RBAC-mode broker vault', () => {
    const role = resources(broker).find((r) => r.symbol === 'operatorVaultRole')!;
    expect(role.body).toMatch(/scope: vault\n/);
    expect(role.body).toMatch(/principalId: adminGroupId/);
    expect(role.body).toMatch(/principalType: 'Group'/);
    expect(role.body).toMatch(/keyVaultSecretsOfficer/);
  });

  it('deploys only the app: .funcignore leaves out tests, the sandbox and the cache; azure.yaml builds remotely', () => {
    const ignored = read('.funcignore').split('\n');
    for (const entry of ['test/', 'sandbox/', '.cache/', 'node_modules/', 'infra/', '*.md'])
      expect(ignored).toContain(entry);
    for (const kept of [
      'functions',
      'orchestrations',
      'shared',
      'package.json',
      'host.json',
      'tsconfig.build.json',
    ]) {
      expect(ignored.some((line) => line.replace(/\/$/, '') === kept)).toBe(false);
    }
    expect(read('azure.yaml')).toMatch(/^ {4}remoteBuild: true$/m);
  });

  it('sends Key Vault audit events and storage logs to the workspace', () => {
    const settings = resources(broker).filter((r) => r.type === 'Microsoft.Insights/diagnosticSettings');
    expect(settings.map((s) => s.symbol).sort()).toEqual(['storageDiagnostics', 'vaultDiagnostics']);
    expect(settings.find((s) => s.symbol === 'vaultDiagnostics')!.body).toMatch(
      /for target in \[vault, stagingVault\]/,
    );
    expect(settings.find((s) => s.symbol === 'storageDiagnostics')!.body).toMatch(
      /for service in \[blobService, queueService, tableService\]/,
    );
    for (const s of settings) expect(s.body).toMatch(/workspaceId: logs\.id/);
  });

  it('deploys only to regions that offer Flex Consumption', () => {
    const main = read('infra/main.bicep');
    const allowed =
      /@allowed\(\[([^\]]+)\]\)\n@metadata\(\{ azd: \{ type: 'location' \} \}\)\nparam location string/.exec(
        main,
      );
    expect(allowed).not.toBeNull();
    const regions = [...allowed![1]!.matchAll(/'([a-z0-9]+)'/g)].map((m) => m[1]);
    expect(regions).toContain('westeurope');
    expect(regions).not.toContain('eastus2euap');
    expect(broker).toMatch(/sku: \{ tier: 'FlexConsumption', name: 'FC1' \}/);
  });

  it('says what the scale setting really does (one instance is not what it sets)', () => {
    expect(broker).not.toMatch(/One instance keeps/);
    expect(broker).toMatch(/maximumInstanceCount: 40/);
    expect(broker).toMatch(/Up to 40 instances/);
  });

  it('sets every setting the code reads, in the Bicep or local.settings.example.json', () => {
    const example = Object.keys(
      (JSON.parse(read('local.settings.example.json')) as { Values: Record<string, string> }).Values,
    );
    const set = new Set([...bicepAppSettings(), ...example]);
    // Only the sandbox and tests set these: endpoints and credentials of the simulated cloud.
    const localOnly = [
      'AZURE_CLIENT_ID',
      'AZURE_CLIENT_SECRET',
      'AZURE_AUTHORITY_HOST',
      'AZURE_RESOURCE_MANAGER_ENDPOINT',
      'MICROSOFT_GRAPH_ENDPOINT',
      'KEY_VAULT_VERIFY_CHALLENGE_RESOURCE',
      'TELEGRAM_API_BASE',
    ];
    const unset = settingsTheCodeReads().filter((name) => !set.has(name) && !localOnly.includes(name));
    expect(unset).toEqual([]);
  });

  it('sets no app setting that nobody reads', () => {
    const read_ = new Set(settingsTheCodeReads());
    const functionsText = readdirSync('functions', { recursive: true })
      .filter((f) => String(f).endsWith('.ts'))
      .map((f) => read(`functions/${String(f)}`))
      .join('\n');
    const platform = /^(AzureWebJobsStorage__|APPLICATIONINSIGHTS_|FUNCTIONS_)/;
    const unread = bicepAppSettings().filter(
      (name) =>
        !read_.has(name) &&
        !platform.test(name) &&
        !functionsText.includes(`%${name}%`) &&
        !read('host.json').includes(name),
    );
    expect(unread).toEqual([]);
  });
});

describe('the workbook and the alerts (infra/monitoring)', () => {
  const workbook = read('infra/monitoring/fleetWorkbook.json');
  const alerts = (
    JSON.parse(read('infra/monitoring/alerts.json')) as { alerts: { name: string; query: string }[] }
  ).alerts;
  const queries = [
    ...(JSON.parse(workbook) as { items: { content: { query?: string } }[] }).items.flatMap((item) =>
      item.content.query ? [item.content.query] : [],
    ),
    ...alerts.map((alert) => alert.query),
  ];
  const code = ['shared', 'functions']
    .flatMap((dir) =>
      readdirSync(dir, { recursive: true })
        .map(String)
        .filter((file) => file.endsWith('.ts'))
        .map((file) => read(`${dir}/${file}`)),
    )
    .join('\n');

  it('are deployed from the broker module, and alert on each of the four conditions', () => {
    expect(broker).toMatch(/module monitoring 'monitoring\.bicep'/);
    const module = read('infra/modules/monitoring.bicep');
    expect(module).toContain("loadTextContent('../monitoring/fleetWorkbook.json')");
    expect(module).toContain("loadJsonContent('../monitoring/alerts.json')");
    expect(alerts.map((alert) => alert.name).sort()).toEqual([
      'approval-expiring',
      'operation-failed',
      'poison-message',
      'sas-expiring',
    ]);
  });

  it('read only events and fields the broker logs', () => {
    const events = new Set(
      queries.flatMap((query) => [...query.matchAll(/message == "([^"]+)"/g)].map((m) => m[1]!)),
    );
    expect([...events].sort()).toEqual([
      'approval decided',
      'approval waiting',
      'environment snapshot',
      'operation finished',
      'poison messages recorded',
      'request rejected',
    ]);
    for (const event of events) expect(code, event).toMatch(new RegExp(`\\.(info|warn|error)\\('${event}'`));
    const fields = new Set(
      queries.flatMap((query) => [...query.matchAll(/customDimensions\.(\w+)/g)].map((m) => m[1]!)),
    );
    for (const field of fields) expect(code, field).toMatch(new RegExp(`\\b${field}(:|,|\\s*\\})`));
  });
});
