import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  return { version, prefix, node, entry: path.join(packageDir, 'openclaw.mjs'), packageDir };
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
