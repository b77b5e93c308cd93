import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OPENCLAW_PINS } from './pins.js';
import { nodePlatformPackage, OPENCLAW_CACHE_DIR, openClawInstall } from './runtime.js';

/**
 * `npm run openclaw:install`: puts every pinned real OpenClaw release, each with the Node 24
 * runtime it needs, into its own npm prefix under `.cache/openclaw/`, apart from the broker's
 * dependency tree. An install already there (marked complete) is kept, so CI pays once per cache.
 *
 * `--ignore-scripts`: OpenClaw's postinstall only tries optional native helpers and the real
 * gateway runs without them; the platform Node package needs no script. A failed or interrupted
 * install is left in a temporary folder and never mistaken for a complete one.
 */
const MARKER = '.claw-broker-install-complete';

function installed(prefix: string, version: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(path.join(prefix, MARKER), 'utf8')) as { openclaw?: string };
    return marker.openclaw === version && existsSync(openClawInstall(version).node);
  } catch {
    return false;
  }
}

function installVersion(version: string): void {
  const target = openClawInstall(version);
  if (installed(target.prefix, version)) {
    console.log(`openclaw ${version}: already installed in ${path.relative(process.cwd(), target.prefix)}`);
    return;
  }
  const staging = `${target.prefix}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(
    npm,
    [
      'install',
      '--prefix',
      staging,
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--loglevel=error',
      '--engine-strict=false',
      `openclaw@${version}`,
      `${nodePlatformPackage()}@${OPENCLAW_PINS.node}`,
    ],
    { stdio: 'inherit' },
  );
  const packageVersion = (
    JSON.parse(readFileSync(path.join(staging, 'node_modules', 'openclaw', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  if (packageVersion !== version) {
    throw new Error(`npm installed openclaw ${packageVersion}, expected ${version}`);
  }
  writeFileSync(
    path.join(staging, MARKER),
    `${JSON.stringify({ openclaw: version, node: OPENCLAW_PINS.node }, null, 2)}\n`,
  );
  rmSync(target.prefix, { recursive: true, force: true });
  renameSync(staging, target.prefix);
  console.log(`openclaw ${version}: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

mkdirSync(OPENCLAW_CACHE_DIR, { recursive: true });
for (const version of OPENCLAW_PINS.versions) installVersion(version);
