import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { format } from 'prettier';
import { OPENCLAW_PINS } from './pins.js';
import {
  isolatedEnv,
  REPO_ROOT,
  requireOpenClawInstall,
  runOpenClawCli,
  type OpenClawInstall,
} from './runtime.js';

/**
 * `npm run openclaw:generate`: reads what the broker relies on from each installed real OpenClaw
 * release and writes it to shared/openclaw/generated/openclawReleases.ts, as data:
 * - the config keys, per object the broker renders or audits, from the version's own
 *   `openclaw config schema` (its JSON Schema, generated from its zod schema);
 * - the probe paths, from the gateway's own probe route table in the package (`GATEWAY_PROBE_ROUTES`);
 * - the gateway's default port (`DEFAULT_GATEWAY_PORT`) and the Telegram webhook listener's
 *   defaults (from the schema's own descriptions of `webhookPort`/`webhookPath`);
 * - whether the bundled `admin-http-rpc` plugin exists, and the route it registers;
 * - the database schema versions the release supports (`openclaw.schemaVersions` in its
 *   package.json, what `openclaw update` preflights a target by, checked against the package's
 *   own `OPENCLAW_STATE_SCHEMA_VERSION`/`OPENCLAW_AGENT_SCHEMA_VERSION` where the bundle names
 *   them). A gateway refuses state whose schema is newer than its own (exit 78), so an upgrade
 *   across a change of these numbers can only be undone with a snapshot of the state.
 * Anything it cannot find fails the run with the version and what was missing: nothing is guessed.
 * test/openclaw-real/generated.test.ts runs this again and fails when the file drifts.
 */
export const GENERATED_FILE = path.join(REPO_ROOT, 'shared', 'openclaw', 'generated', 'openclawReleases.ts');

/**
 * The config objects whose keys the broker needs, as dotted paths into the schema (`*` is a
 * record's value). Every object the renderer writes is here; the audit and the stand-in refuse a key
 * that is not in the list of its object.
 */
export const CONFIG_OBJECT_PATHS = [
  '',
  'gateway',
  'gateway.controlUi',
  'gateway.auth',
  'gateway.auth.rateLimit',
  'gateway.tailscale',
  'update',
  'update.auto',
  'discovery',
  'discovery.mdns',
  'discovery.wideArea',
  'logging',
  'channels.telegram',
  'channels.msteams',
  'channels.msteams.webhook',
  'models',
  'models.providers.*',
  'models.providers.*.models[]',
  'agents',
  'agents.defaults',
  'agents.defaults.model',
  'plugins',
  'plugins.entries.*',
] as const;

type Schema = {
  type?: unknown;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  description?: string;
};

export interface GeneratedRelease {
  version: string;
  nodeEngines: string;
  gatewayPort: number;
  probes: { startup: string | null; liveness: string; readiness: string };
  adminRpc: { path: string } | null;
  telegramWebhook: { path: string; port: number };
  /** The Microsoft Teams channel plugin this version starts with, as installed for it; null if none. */
  teamsPlugin: { package: string; version: string } | null;
  /** The SQLite schema versions it writes and reads: newer on disk is refused at start. */
  schemaVersions: { state: number; agent: number };
  /** Dotted object path -> the keys that object accepts, sorted. */
  configKeys: Record<string, string[]>;
}

function fail(version: string, what: string): never {
  throw new Error(`openclaw ${version}: ${what}`);
}

/** The object schema at `segment` below `schema`, looking through anyOf/oneOf/allOf unions. */
function objectVariants(schema: Schema): Schema[] {
  const nested = [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
  return [
    ...(schema.properties || schema.additionalProperties ? [schema] : []),
    ...nested.flatMap(objectVariants),
  ];
}

function child(schema: Schema, segment: string): Schema | undefined {
  for (const variant of objectVariants(schema)) {
    if (segment === '*') {
      if (typeof variant.additionalProperties === 'object') return variant.additionalProperties;
      continue;
    }
    const isArray = segment.endsWith('[]');
    const key = isArray ? segment.slice(0, -2) : segment;
    const found = variant.properties?.[key];
    if (found) return isArray ? (found.items ?? objectVariants(found).find((v) => v.items)?.items) : found;
  }
  return undefined;
}

function keysAt(root: Schema, dotted: string, version: string): string[] {
  let node: Schema | undefined = root;
  for (const segment of dotted === '' ? [] : dotted.split('.')) {
    node = node ? child(node, segment) : undefined;
  }
  if (!node) fail(version, `config schema has no object at "${dotted}"`);
  const keys = new Set(objectVariants(node).flatMap((variant) => Object.keys(variant.properties ?? {})));
  if (keys.size === 0) fail(version, `config schema object "${dotted}" lists no keys`);
  return [...keys].sort();
}

function distTexts(install: OpenClawInstall): Array<{ file: string; text: string }> {
  const dist = path.join(install.packageDir, 'dist');
  return readdirSync(dist)
    .filter((file) => /\.(m?js)$/.test(file))
    .map((file) => ({ file, text: readFileSync(path.join(dist, file), 'utf8') }));
}

function probeRoutes(texts: Array<{ text: string }>, version: string): GeneratedRelease['probes'] {
  const table = texts
    .map(
      ({ text }) =>
        /GATEWAY_PROBE_ROUTES\s*=\s*(?:\/\*[^*]*\*\/\s*)?new Map\(\[([\s\S]*?)\]\)/.exec(text)?.[1],
    )
    .find((match) => match !== undefined);
  if (!table) fail(version, 'no GATEWAY_PROBE_ROUTES table in the package');
  const routes = [...table.matchAll(/\[\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\]/g)].map((m) => ({
    path: m[1] ?? '',
    kind: m[2] ?? '',
  }));
  // Of each kind, the `z` form (Kubernetes style) when the version has one.
  const pick = (kind: string) => {
    const paths = routes.filter((route) => route.kind === kind).map((route) => route.path);
    return paths.find((p) => p.endsWith('z')) ?? paths[0] ?? null;
  };
  const liveness = pick('live');
  const readiness = pick('ready');
  if (!liveness || !readiness) fail(version, `probe table lacks live or ready: ${table}`);
  return { startup: pick('startup'), liveness, readiness };
}

function defaultGatewayPort(texts: Array<{ text: string }>, version: string): number {
  const found = texts.map(({ text }) => /DEFAULT_GATEWAY_PORT\s*=\s*(\d+)/.exec(text)?.[1]).find(Boolean);
  if (!found) fail(version, 'no DEFAULT_GATEWAY_PORT in the package');
  return Number(found);
}

function adminRpcRoute(install: OpenClawInstall): GeneratedRelease['adminRpc'] {
  const file = path.join(install.packageDir, 'dist', 'extensions', 'admin-http-rpc', 'index.js');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const route = /registerHttpRoute\(\{\s*path:\s*"([^"]+)"/.exec(text)?.[1];
  if (!route)
    fail(install.version, 'admin-http-rpc is bundled but registers no HTTP route the generator can read');
  return { path: route };
}

function telegramDefaults(schema: Schema, version: string): GeneratedRelease['telegramWebhook'] {
  const telegram = child(child(schema, 'channels') ?? {}, 'telegram');
  const describe = (key: string) => (telegram ? child(telegram, key)?.description : undefined) ?? '';
  const port = /Defaults to (\d+)/.exec(describe('webhookPort'))?.[1];
  const webhookPath = /Defaults to (\/[\w/-]+)/.exec(describe('webhookPath'))?.[1];
  if (!port || !webhookPath) fail(version, 'the schema does not state the Telegram webhook defaults');
  return { path: webhookPath, port: Number(port) };
}

/**
 * `openclaw.schemaVersions` of the package: the shared state database's and the per-agent
 * databases' schema versions (docs/reference/database-schemas/versioning.md: "`openclaw update`
 * also refuses a package or source target whose declared schema support is older than an on-disk
 * database"). Where the bundle also names the constants, they must agree.
 */
function schemaVersions(
  packageJson: { openclaw?: { schemaVersions?: Record<string, unknown> } },
  texts: Array<{ text: string }>,
  version: string,
): GeneratedRelease['schemaVersions'] {
  const declared = packageJson.openclaw?.schemaVersions;
  const read = (kind: 'state' | 'agent') => {
    const value = declared?.[kind];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      fail(version, `package.json has no openclaw.schemaVersions.${kind}`);
    const constant = new RegExp(`OPENCLAW_${kind.toUpperCase()}_SCHEMA_VERSION\\s*=\\s*(\\d+)\\b`);
    for (const { text } of texts) {
      const named = constant.exec(text)?.[1];
      if (named !== undefined && Number(named) !== value)
        fail(version, `package.json declares ${kind} schema ${value}, the bundle's constant says ${named}`);
    }
    return value;
  };
  return { state: read('state'), agent: read('agent') };
}

/** The `@openclaw/msteams` that `openclaw:install` put into the version's Teams state seed. */
function teamsPlugin(install: OpenClawInstall): GeneratedRelease['teamsPlugin'] {
  const pin = OPENCLAW_PINS.msteamsPlugin[install.version];
  if (!pin) return null;
  const projects = path.join(install.teamsStateSeed, 'npm', 'projects');
  for (const project of existsSync(projects) ? readdirSync(projects) : []) {
    const file = path.join(projects, project, 'node_modules', '@openclaw', 'msteams', 'package.json');
    if (!existsSync(file)) continue;
    const packageJson = JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string };
    if (packageJson.version !== pin)
      fail(install.version, `the Teams seed holds msteams ${packageJson.version}, pinned ${pin}`);
    return { package: packageJson.name, version: packageJson.version };
  }
  return fail(
    install.version,
    'no @openclaw/msteams in the Teams state seed; run `npm run openclaw:install`',
  );
}

export async function describeRelease(version: string): Promise<GeneratedRelease> {
  const install = requireOpenClawInstall(version);
  const home = mkdtempSync(path.join(tmpdir(), 'openclaw-schema-'));
  try {
    writeFileSync(path.join(home, 'openclaw.json'), '{}\n');
    const result = await runOpenClawCli(
      install,
      ['config', 'schema'],
      isolatedEnv(home, {
        OPENCLAW_STATE_DIR: path.join(home, 'state'),
        OPENCLAW_CONFIG_PATH: path.join(home, 'openclaw.json'),
      }),
    );
    if (result.code !== 0)
      fail(version, `openclaw config schema exited ${result.code}: ${result.stderr.slice(-500)}`);
    const schema = JSON.parse(result.stdout) as Schema;
    const texts = distTexts(install);
    const packageJson = JSON.parse(readFileSync(path.join(install.packageDir, 'package.json'), 'utf8')) as {
      version: string;
      engines?: { node?: string };
      openclaw?: { schemaVersions?: Record<string, unknown> };
    };
    if (packageJson.version !== version) fail(version, `the installed package is ${packageJson.version}`);
    return {
      version,
      nodeEngines: packageJson.engines?.node ?? '',
      gatewayPort: defaultGatewayPort(texts, version),
      probes: probeRoutes(texts, version),
      adminRpc: adminRpcRoute(install),
      telegramWebhook: telegramDefaults(schema, version),
      teamsPlugin: teamsPlugin(install),
      schemaVersions: schemaVersions(packageJson, texts, version),
      configKeys: Object.fromEntries(CONFIG_OBJECT_PATHS.map((p) => [p, keysAt(schema, p, version)])),
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The text of GENERATED_FILE for the pinned versions, formatted as the repository formats it. */
export async function renderGeneratedFile(): Promise<string> {
  const releases: GeneratedRelease[] = [];
  for (const version of OPENCLAW_PINS.versions) releases.push(await describeRelease(version));
  const text = [
    '// Generated by `npm run openclaw:generate` (sandbox/openclaw-real/generate.ts) from the installed',
    '// real OpenClaw releases pinned in sandbox/openclaw-real/pins.ts. Do not edit by hand:',
    '// test/openclaw-real/generated.test.ts fails when this file drifts from the packages.',
    '',
    'export interface GeneratedOpenClawRelease {',
    '  readonly version: string;',
    '  readonly nodeEngines: string;',
    '  readonly gatewayPort: number;',
    '  readonly probes: { readonly startup: string | null; readonly liveness: string; readonly readiness: string };',
    '  readonly adminRpc: { readonly path: string } | null;',
    '  readonly telegramWebhook: { readonly path: string; readonly port: number };',
    '  readonly teamsPlugin: { readonly package: string; readonly version: string } | null;',
    '  /** The SQLite schema versions it supports (package.json `openclaw.schemaVersions`); newer state is refused at start. */',
    '  readonly schemaVersions: { readonly state: number; readonly agent: number };',
    '  readonly configKeys: Readonly<Record<string, readonly string[]>>;',
    '}',
    '',
    `export const GENERATED_OPENCLAW_RELEASES: readonly GeneratedOpenClawRelease[] = ${JSON.stringify(releases, null, 2)};`,
    '',
  ].join('\n');
  return format(text, { ...(await prettierOptions()), filepath: GENERATED_FILE });
}

async function prettierOptions(): Promise<Record<string, unknown>> {
  const { resolveConfig } = await import('prettier');
  return (await resolveConfig(GENERATED_FILE)) ?? {};
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const text = await renderGeneratedFile();
  writeFileSync(GENERATED_FILE, text);
  console.log(`wrote ${path.relative(REPO_ROOT, GENERATED_FILE)} for ${OPENCLAW_PINS.versions.join(', ')}`);
}
