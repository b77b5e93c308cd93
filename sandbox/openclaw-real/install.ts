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
    const marker = JSON.parse(readFileSync(path.join(prefix, MARKER), 'utf8')) as {
      openclaw?: string;
      msteams?: string;
    };
    return (
      marker.openclaw === version &&
      marker.msteams === OPENCLAW_PINS.msteamsPlugin[version] &&
      existsSync(openClawInstall(version).node)
    );
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
  // The plugin install records absolute paths (its npm project, the `openclaw` peer it links), so
  // it runs in the prefix's final place; the marker, written last, is what says complete.
  rmSync(target.prefix, { recursive: true, force: true });
  renameSync(staging, target.prefix);
  const msteams = installTeamsPlugin(version);
  writeFileSync(
    path.join(target.prefix, MARKER),
    `${JSON.stringify({ openclaw: version, node: OPENCLAW_PINS.node, msteams }, null, 2)}\n`,
  );
  console.log(`openclaw ${version}: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * `openclaw plugins install @openclaw/msteams@<pin>` by the version's own CLI into the install's
 * Teams state seed, from npm (a local archive would load but stay untrusted: "openKeyedStore is
 * only available for trusted plugins", reason provenance-invalid, and the channel exits).
 */
function installTeamsPlugin(version: string): string | undefined {
  const pin = OPENCLAW_PINS.msteamsPlugin[version];
  if (!pin) return undefined;
  const install = openClawInstall(version);
  rmSync(install.teamsStateSeed, { recursive: true, force: true });
  mkdirSync(install.teamsStateSeed, { recursive: true, mode: 0o700 });
  execFileSync(
    install.node,
    [install.entry, 'plugins', 'install', '--accept-capabilities', `@openclaw/msteams@${pin}`],
    {
      stdio: 'inherit',
      cwd: install.teamsStateSeed,
      // The caller's env, for the machine's npm registry and CA settings; state and config go
      // to the seed, never to the user's ~/.openclaw.
      env: {
        ...process.env,
        OPENCLAW_STATE_DIR: install.teamsStateSeed,
        OPENCLAW_CONFIG_PATH: path.join(install.teamsStateSeed, 'openclaw.json'),
        NO_COLOR: '1',
      },
      timeout: 600_000,
    },
  );
  return pin;
}

mkdirSync(OPENCLAW_CACHE_DIR, { recursive: true });
for (const version of OPENCLAW_PINS.versions) installVersion(version);
