import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPENCLAW_PINS } from './pins.js';

/**
 * Where the real OpenClaw releases live once `npm run openclaw:install` has put them there, and how
 * to run their CLI. Each version is its own npm prefix under `.cache/openclaw/` (ignored by git,
 * kept between CI runs), apart from the broker's own node_modules and its Node 22.
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OPENCLAW_CACHE_DIR = path.join(REPO_ROOT, '.cache', 'openclaw');

export interface OpenClawInstall {
  readonly version: string;
  readonly prefix: string;
  /** The Node 24 binary this version runs on. */
  readonly node: string;
  /** The package's CLI entry (`openclaw.mjs`). */
  readonly entry: string;
  readonly packageDir: string;
  /**
   * A state directory in which `openclaw plugins install @openclaw/msteams@<pin>` ran (the npm
   * project and the install record with its provenance): what a gateway with Teams configured has
   * on its share after its first start, which fetches the plugin from npm. Copied into a gateway's
   * state directory, it lets a Teams gateway start with npm offline.
   */
  readonly teamsStateSeed: string;
}

export function nodePlatformPackage(): string {
  return `node-${process.platform}-${process.arch}`;
}

export function openClawInstall(version: string): OpenClawInstall {
  const prefix = path.join(OPENCLAW_CACHE_DIR, `openclaw-${version}-node-${OPENCLAW_PINS.node}`);
  const modules = path.join(prefix, 'node_modules');
  const node =
    process.platform === 'win32'
      ? path.join(modules, nodePlatformPackage(), 'bin', 'node.exe')
      : path.join(modules, nodePlatformPackage(), 'bin', 'node');
  const packageDir = path.join(modules, 'openclaw');
  return {
    version,
    prefix,
    node,
    entry: path.join(packageDir, 'openclaw.mjs'),
    packageDir,
    teamsStateSeed: path.join(prefix, 'teams-state-seed'),
  };
}

/** The install of `version`, or an Error that says to run the installer. */
export function requireOpenClawInstall(version: string): OpenClawInstall {
  const install = openClawInstall(version);
  if (!existsSync(install.node) || !existsSync(install.entry)) {
    throw new Error(
      `OpenClaw ${version} is not installed under ${install.prefix}; run \`npm run openclaw:install\` first`,
    );
  }
  return install;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a real OpenClaw process gets: only what is named here (plus PATH), so the
 * machine's own HOME, proxies or tokens never leak in. Update checks and telemetry are off.
 */
export function isolatedEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    TMPDIR: home,
    NO_COLOR: '1',
    CI: '1',
    ...extra,
  };
}

/** Runs `openclaw <args>` of one installed version and collects its output. */
export function runOpenClawCli(
  install: OpenClawInstall,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      install.node,
      [install.entry, ...args],
      { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd: env['HOME'] ?? REPO_ROOT },
      (error, stdout, stderr) => {
        const code =
          error && typeof (error as { code?: unknown }).code === 'number'
            ? ((error as { code: number }).code ?? null)
            : error
              ? null
              : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts `openclaw <args>` detached into its own process group, so it can be stopped with its children. */
export function spawnOpenClaw(
  install: OpenClawInstall,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): ChildProcess {
  return spawn(install.node, [install.entry, ...args], {
    env,
    cwd: env['HOME'] ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

/**
 * Env that keeps a real OpenClaw off the internet without waiting on it: a configured channel
 * plugin that is not installed (neither release bundles `@openclaw/msteams`; a Teams state seed
 * carries it) would be looked up with npm offline against a closed loopback port, so it fails at once.
 */
export const OFFLINE_ENV = {
  npm_config_offline: 'true',
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_fetch_retries: '0',
} as const;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Writes `files` into `dir` as a Container Apps secret volume projects them. Container Apps runs
 * on Kubernetes, whose secret volumes (atomic writer) project each item as a symlink into a
 * `..data` directory of read-only files, mode 0644 unless the pod sets defaultMode, which Container
 * Apps' SecretVolumeItem cannot (it has only `path` and `secretRef`). Replaces what was there.
 */
export function projectSecretVolume(dir: string, files: Record<string, string>): void {
  rmSync(dir, { recursive: true, force: true });
  const timestamped = path.join(dir, '..2026_01_01_00_00_00.000000000');
  mkdirSync(timestamped, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(timestamped, name), text);
    chmodSync(path.join(timestamped, name), 0o644);
  }
  symlinkSync(path.basename(timestamped), path.join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(`..data/${name}`, path.join(dir, name));
}

/** A running `openclaw gateway run`. */
export interface GatewayProcess {
  readonly version: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly spawnedAt: number;
  exited(): boolean;
  /** How it exited (code, or the signal that ended it); undefined while it runs. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The last 200 kB of its stdout and stderr. */
  logs(): string;
  rssKb(): number | undefined;
  /**
   * SIGTERM to its process group, SIGKILL after 10 s; resolves when it and every process of its
   * group have exited (the group SIGKILLed if any is left 5 s later).
   */
  stop(): Promise<void>;
  /** SIGKILL to its process group at once, for a process that is exiting. */
  kill(): void;
}

function groupAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    // EPERM: a process of the group exists but is not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts `openclaw gateway run --port <port>` of `install` with exactly `env`. */
export function runGateway(install: OpenClawInstall, env: NodeJS.ProcessEnv, port: number): GatewayProcess {
  const child: ChildProcess = spawnOpenClaw(install, ['gateway', 'run', '--port', String(port)], env);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      status = { code, signal };
      resolve();
    }),
  );
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  };
  return {
    version: install.version,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    spawnedAt: Date.now(),
    exited: () => exited,
    exitStatus: () => status,
    logs: () => output,
    rssKb: () => {
      try {
        const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return match ? Number(match[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    kill: () => {
      if (!exited) signal('SIGKILL');
    },
    async stop() {
      if (!exited) {
        signal('SIGTERM');
        const killer = setTimeout(() => signal('SIGKILL'), 10_000);
        await exitedPromise;
        clearTimeout(killer);
      }
      // Its children (workers, plugin hosts) can outlive it for a moment; stopped means none of
      // the group is left to write the state dir.
      for (let waited = 0; groupAlive(child.pid); waited += 100) {
        if (waited >= 5_000) signal('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/**
 * Puts the Teams plugin's install record (from `openclaw:install`'s Teams state seed) into a state
 * directory, as a Teams gateway's first start leaves it on the share after fetching
 * `@openclaw/msteams` from npm. The record names the plugin's npm project in the seed, in the cache.
 */
export function seedTeamsState(version: string, stateDir: string): void {
  const seed = requireOpenClawInstall(version).teamsStateSeed;
  if (!existsSync(path.join(seed, 'state'))) {
    throw new Error(
      `OpenClaw ${version} has no Teams state seed in ${seed}; run \`npm run openclaw:install\``,
    );
  }
  cpSync(path.join(seed, 'state'), path.join(stateDir, 'state'), { recursive: true });
}
