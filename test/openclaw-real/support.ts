import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  freePort,
  isolatedEnv,
  OFFLINE_ENV,
  projectSecretVolume,
  requireOpenClawInstall,
  runGateway,
  runOpenClawCli,
  seedTeamsState,
  spawnOpenClaw,
  type GatewayProcess,
  type CliResult,
} from '../../sandbox/openclaw-real/runtime.js';
import {
  buildContainerAppSpec,
  CONTAINER_APP_SECRETS,
  OPENCLAW_CONFIG_PATH,
} from '../../shared/openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../../shared/openclaw/nginxConfig.js';
import {
  channelsFor,
  renderOpenClawConfig,
  type OpenClawChannel,
  type RenderOpenClawConfigInput,
  type RenderedOpenClawConfig,
} from '../../shared/openclaw/renderConfig.js';
import { GENERATED_OPENCLAW_RELEASES } from '../../shared/openclaw/generated/openclawReleases.js';
import { openClawVersionSupport } from '../../shared/openclaw/versions.js';
import {
  createOpenClawSurface,
  type OpenClawAppState,
  type OpenClawSurface,
} from '../../sandbox/sim/openclaw.js';
import {
  CLIENT_ID,
  ENVIRONMENT_ID,
  FOUNDRY,
  FQDN,
  IDENTITY_ID,
  KEY_VAULT_SECRETS,
  names,
  SECRET_VALUES,
} from '../shared/openclaw/fixtures.js';

/**
 * Helpers for the real-OpenClaw tier: the real releases, installed by `npm run openclaw:install`,
 * given what the broker renders and the env and files the container app gives them, on loopback.
 */

export const CHANNEL_SETS: readonly (readonly OpenClawChannel[])[] = [
  [],
  ['telegram'],
  ['teams'],
  ['telegram', 'teams'],
];

export interface Variant {
  readonly name: string;
  readonly input: RenderOpenClawConfigInput;
}

/** Every config the broker renders for `version`: each channel set, with and without Foundry, admin RPC on where present. */
export function variantsOf(version: string): Variant[] {
  const adminRpc = openClawVersionSupport(version).adminRpcPlugin;
  // Teams on a version without a Teams plugin is refused by the renderer (renderConfig.test.ts).
  const channelSets = CHANNEL_SETS.filter((set) => set.every((c) => channelsFor(version).includes(c)));
  return channelSets.flatMap((channels) =>
    [undefined, FOUNDRY].map((foundry) => ({
      name: `${version} channels=[${channels.join(',')}]${foundry ? ' +foundry' : ''}${adminRpc ? ' +admin-rpc' : ''}`,
      input: { version, appFqdn: FQDN, channels, ...(foundry ? { foundry } : {}), adminRpc },
    })),
  );
}

/** The gateway token the tier's "Key Vault" holds (64 hex, as the broker makes it). */
export const GATEWAY_TOKEN = SECRET_VALUES.gatewayToken;

/** Secret values by Container Apps secret name, as Key Vault references resolve in the app. */
function secretValues(gatewayToken: string): Record<string, string> {
  return {
    [CONTAINER_APP_SECRETS.gatewayToken]: gatewayToken,
    [CONTAINER_APP_SECRETS.telegramBotToken]: SECRET_VALUES.telegramBotToken,
    [CONTAINER_APP_SECRETS.telegramWebhookSecret]: SECRET_VALUES.telegramWebhookSecret,
    [CONTAINER_APP_SECRETS.teamsAppPassword]: SECRET_VALUES.teamsAppPassword,
    [CONTAINER_APP_SECRETS.foundryApiKey]: SECRET_VALUES.foundryApiKey,
  };
}

/**
 * The openclaw container's env exactly as buildContainerAppSpec gives it (plain values, and
 * secret references resolved to the tier's values), with the two paths moved into `home`.
 */
export function containerEnv(
  rendered: RenderedOpenClawConfig,
  home: string,
  gatewayToken = GATEWAY_TOKEN,
): Record<string, string> {
  const channels = new Set<OpenClawChannel>();
  if (rendered.envVars.includes('TELEGRAM_BOT_TOKEN')) channels.add('telegram');
  if (rendered.envVars.includes('MSTEAMS_APP_ID')) channels.add('teams');
  const spec = buildContainerAppSpec({
    names,
    location: 'westeurope',
    managedEnvironmentId: ENVIRONMENT_ID,
    identity: { id: IDENTITY_ID, clientId: CLIENT_ID },
    registryLoginServer: 'crclawbroker.azurecr.io',
    image: { repository: 'ghcr.io/openclaw/openclaw', version: rendered.version },
    keyVaultSecrets: KEY_VAULT_SECRETS,
    openclawConfig: rendered,
    nginxConfig: renderNginxConfig({ version: rendered.version, channels: [...channels] }),
    teams: {
      appId: '99999999-8888-7777-6666-555555555555',
      tenantId: '44444444-3333-2222-1111-000000000000',
    },
  });
  const container = spec.template?.containers?.find((candidate) => candidate.name === 'openclaw');
  const secrets = secretValues(gatewayToken);
  const env: Record<string, string> = {};
  for (const variable of container?.env ?? []) {
    if (!variable.name) continue;
    if (variable.secretRef) {
      const value = secrets[variable.secretRef];
      if (value === undefined) throw new Error(`no tier value for secret ${variable.secretRef}`);
      env[variable.name] = value;
    } else env[variable.name] = variable.value ?? '';
  }
  if (env['OPENCLAW_CONFIG_PATH'] !== OPENCLAW_CONFIG_PATH) throw new Error('the spec moved the config path');
  env['OPENCLAW_STATE_DIR'] = path.join(home, 'state');
  env['OPENCLAW_CONFIG_PATH'] = path.join(home, 'etc-openclaw', 'openclaw.json');
  return env;
}

/**
 * A fresh container filesystem: the state dir (the Azure Files share, mounted 0700 as the spec's
 * mountOptions say) and the config as a Container Apps secret volume projects it. Container Apps
 * runs on Kubernetes, whose secret volumes (atomic writer) project each item as a symlink into a
 * `..data` directory of read-only files, mode 0644 unless the pod sets defaultMode, which Container
 * Apps' SecretVolumeItem cannot (it has only `path` and `secretRef`).
 */
export function containerFiles(rendered: RenderedOpenClawConfig): { home: string; cleanup(): void } {
  const home = mkdtempSync(path.join(tmpdir(), 'openclaw-real-'));
  mountContainerFiles(rendered, home);
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/**
 * The container filesystem of a new revision in `home`: the config of `rendered` projected afresh,
 * and the state dir (the share) kept as the revision before left it, or made if there is none.
 */
export function mountContainerFiles(rendered: RenderedOpenClawConfig, home: string): void {
  if (!existsSync(path.join(home, 'state'))) mkdirSync(path.join(home, 'state'), { mode: 0o700 });
  chmodSync(path.join(home, 'state'), 0o700);
  projectSecretVolume(path.join(home, 'etc-openclaw'), { 'openclaw.json': rendered.text });
  if (rendered.envVars.includes('MSTEAMS_APP_ID') && !existsSync(path.join(home, 'state', 'state'))) {
    // The share after a Teams gateway's first start, which installs `@openclaw/msteams` from npm:
    // the install record (its database) names the plugin's npm project in the seed, kept in the
    // cache, so the gateway loads it from there with npm offline.
    seedTeamsState(rendered.version, path.join(home, 'state'));
  }
}

/** Runs the real CLI of the config's version against it, as the container would. */
export async function cli(rendered: RenderedOpenClawConfig, args: readonly string[]): Promise<CliResult> {
  const files = containerFiles(rendered);
  try {
    return await runOpenClawCli(
      requireOpenClawInstall(rendered.version),
      args,
      isolatedEnv(files.home, { ...containerEnv(rendered, files.home), ...OFFLINE_ENV }),
    );
  } finally {
    files.cleanup();
  }
}

export function render(input: RenderOpenClawConfigInput): RenderedOpenClawConfig {
  return renderOpenClawConfig(input);
}

export interface ProbeAnswer {
  status: number;
  body: unknown;
}

export async function getJson(url: string, init?: RequestInit): Promise<ProbeAnswer> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the Control UI's page)
  }
  return { status: response.status, body };
}

export interface RealGateway extends GatewayProcess {
  /** Milliseconds from spawn to /readyz `ready: true` (or to the wait's end). */
  readonly startedInMs: number;
}

/**
 * Starts `openclaw gateway run` of the config's version with the container's env and files on a
 * free loopback port, and waits until `until` says the gateway is there (default: /readyz ready).
 * The listener ports of the channels (Telegram 8787, Teams 3978) are the rendered ones, so only
 * one gateway with channels runs at a time (the tier runs its files one after another).
 */
export async function startGateway(
  rendered: RenderedOpenClawConfig,
  options: {
    gatewayToken?: string;
    until?: (gateway: RealGateway) => Promise<boolean>;
    timeoutMs?: number;
    /** A container home to run in (see mountContainerFiles), kept when the gateway stops. */
    home?: string;
  } = {},
): Promise<RealGateway> {
  const files = options.home ? { home: options.home, cleanup: () => {} } : containerFiles(rendered);
  const process = await runContainerGateway(rendered, files.home, options.gatewayToken);
  let readyAt: number | undefined;
  const gateway: RealGateway = {
    ...process,
    get startedInMs() {
      return (readyAt ?? Date.now()) - process.spawnedAt;
    },
    async stop() {
      await process.stop();
      files.cleanup();
    },
  };
  const until = options.until ?? isReady;
  const deadline = process.spawnedAt + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (process.exited()) {
      await gateway.stop();
      throw new Error(
        `openclaw ${rendered.version} gateway exited before it was up:\n${process.logs().slice(-4000)}`,
      );
    }
    try {
      if (await until(gateway)) {
        readyAt = Date.now();
        return gateway;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await gateway.stop();
  throw new Error(`openclaw ${rendered.version} gateway was not up in time:\n${process.logs().slice(-4000)}`);
}

/**
 * `openclaw gateway run` of the config's version in the container home `home` (its config
 * projected afresh, its state dir kept), with the container's env, on a free loopback port; not
 * waited for.
 */
export async function runContainerGateway(
  rendered: RenderedOpenClawConfig,
  home: string,
  gatewayToken?: string,
): Promise<GatewayProcess> {
  mountContainerFiles(rendered, home);
  const env = isolatedEnv(home, { ...containerEnv(rendered, home, gatewayToken), ...OFFLINE_ENV });
  return runGateway(requireOpenClawInstall(rendered.version), env, await freePort());
}

export async function isReady(gateway: RealGateway): Promise<boolean> {
  const answer = await getJson(`${gateway.url}/readyz`);
  return answer.status === 200 && (answer.body as { ready?: unknown }).ready === true;
}

/**
 * The simulator's stand-in for one container app running `rendered` with the container's env
 * (values, not references), as the sandbox runs it.
 */
export function standInFor(
  rendered: RenderedOpenClawConfig,
  gatewayToken = GATEWAY_TOKEN,
): { surface: OpenClawSurface; appName: string } {
  const appName = 'ca-acme';
  const env = containerEnv(rendered, '/home/node', gatewayToken);
  const state: OpenClawAppState = {
    image: `ghcr.io/openclaw/openclaw:${rendered.version}`,
    env,
    configJson: rendered.text,
    running: true,
  };
  const surface = createOpenClawSurface({
    clock: { now: () => Date.now() },
    getApp: (name) => (name === appName ? state : undefined),
  });
  return { surface, appName };
}

/** Whether the stand-in takes the config as valid (it refuses unknown keys, as the real schema does). */
export function standInVerdict(rendered: RenderedOpenClawConfig): boolean {
  const { surface, appName } = standInFor(rendered);
  return !(surface.readiness(appName)?.reasons ?? []).some((reason) => reason.includes('unknown config key'));
}

/** One request to the stand-in, answered as the simulator would put it on the wire. */
export async function askStandIn(
  standIn: { surface: OpenClawSurface; appName: string },
  request: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<ProbeAnswer> {
  const body = Buffer.from(request.body ?? '', 'utf8');
  const response = await standIn.surface.handle({
    method: request.method,
    url: new URL(`http://127.0.0.1/openclaw/${standIn.appName}${request.path}`),
    headers: Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body,
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  });
  if (!response) throw new Error('the stand-in did not answer');
  return { status: response.status, body: response.body };
}

/** Polls `probe` every 500 ms until it answers a value, or throws naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What a state database says of its schema: `PRAGMA user_version` and its `schema_meta` rows. */
export interface StateSchema {
  userVersion: number;
  meta: Array<{ meta_key: string; role: string; schema_version: number; app_version: string }>;
}

/**
 * Reads the schema of the SQLite database `file` (with its -wal, as a stopped gateway leaves it)
 * from a copy, with the `node:sqlite` of the Node 24 the real releases run on.
 */
export async function stateSchema(file: string): Promise<StateSchema> {
  const copy = mkdtempSync(path.join(tmpdir(), 'openclaw-schema-'));
  try {
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(file + suffix)) cpSync(file + suffix, path.join(copy, `db.sqlite${suffix}`));
    }
    const script = [
      "const { DatabaseSync } = require('node:sqlite');",
      'const db = new DatabaseSync(process.argv[1]);',
      "const userVersion = db.prepare('PRAGMA user_version').get().user_version;",
      "const meta = db.prepare('SELECT meta_key, role, schema_version, app_version FROM schema_meta ORDER BY meta_key').all();",
      'console.log(JSON.stringify({ userVersion, meta }));',
    ].join('\n');
    const node = requireOpenClawInstall(GENERATED_OPENCLAW_RELEASES.at(-1)!.version).node;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(node, ['-e', script, path.join(copy, 'db.sqlite')], (error, out, err) =>
        error ? reject(new Error(`reading the schema of ${file}: ${err || error.message}`)) : resolve(out),
      ),
    );
    return JSON.parse(stdout) as StateSchema;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Calls the admin RPC (`adminRpc: true` in the render) with the gateway token. */
export async function adminRpc(
  gateway: { url: string; version: string },
  method: string,
  params: Record<string, unknown> = {},
  token = GATEWAY_TOKEN,
): Promise<ProbeAnswer> {
  return getJson(`${gateway.url}${openClawVersionSupport(gateway.version).adminRpcPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ method, params }),
  });
}

/**
 * A device of OpenClaw's own (`openclaw node run` of `version`, a fresh identity in its own HOME)
 * connecting with the gateway token through the sidecar stand-in on `proxyPort`: the gateway sees
 * a remote client, which must be paired, so it files a pairing request.
 */
export function pairingDevice(version: string, proxyPort: number): { stop(): void } {
  const home = mkdtempSync(path.join(tmpdir(), 'openclaw-device-'));
  const child = spawnOpenClaw(
    requireOpenClawInstall(version),
    ['node', 'run', '--host', '127.0.0.1', '--port', String(proxyPort)],
    isolatedEnv(home, {
      OPENCLAW_STATE_DIR: path.join(home, 'state'),
      OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
      ...OFFLINE_ENV,
    }),
  );
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    stop() {
      try {
        if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
