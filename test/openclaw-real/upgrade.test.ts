import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRealGatewayPool, type GatewayStateVolume } from '../../sandbox/openclaw-real/gatewayPool.js';
import { forwardingProxy } from '../../sandbox/openclaw-real/sidecar.js';
import type { OpenClawAppState } from '../../sandbox/sim/openclaw.js';
import type { SimRequest } from '../../sandbox/sim/surface.js';
import { GENERATED_OPENCLAW_RELEASES } from '../../shared/openclaw/generated/openclawReleases.js';
import type { RenderedOpenClawConfig } from '../../shared/openclaw/renderConfig.js';
import { openClawVersionSupport } from '../../shared/openclaw/versions.js';
import { FOUNDRY, FQDN } from '../shared/openclaw/fixtures.js';
import {
  adminRpc,
  containerEnv,
  GATEWAY_TOKEN,
  getJson,
  pairingDevice,
  render,
  runContainerGateway,
  startGateway,
  stateSchema,
  until,
  type ProbeAnswer,
} from './support.js';

/**
 * Upgrades on the real releases: the earlier pinned release writes real state on the share, the
 * later one migrates it forward at start, the earlier one then refuses it, and only a copy of the
 * share taken while no gateway ran brings the earlier one back (OpenClaw's
 * docs/install/updating/rollback-and-recovery.md: "Once state has migrated beyond the older
 * release's supported format, the supported recovery is to restore a verified pre-update backup
 * with its matching OpenClaw release"; docs/reference/database-schemas/versioning.md: "When Gateway
 * startup encounters a newer database schema, it exits with status 78").
 */
const [FROM, TO] = GENERATED_OPENCLAW_RELEASES;
if (!FROM || !TO) throw new Error('the upgrade tier needs two pinned releases');
const EX_CONFIG = 78;
const STATE_DB = path.join('state', 'openclaw.sqlite');

const renderFor = (version: string): RenderedOpenClawConfig =>
  render({ version, appFqdn: FQDN, channels: [], foundry: FOUNDRY, adminRpc: true });

interface PairedList {
  pending?: Array<{ requestId: string; deviceId: string }>;
  paired?: Array<{ deviceId: string }>;
}
async function pairing(gateway: { url: string; version: string }): Promise<PairedList> {
  const answer = await adminRpc(gateway, 'device.pair.list');
  return (answer.body as { payload?: PairedList }).payload ?? {};
}

describe(`upgrading a real OpenClaw gateway from ${FROM.version} to ${TO.version} on its state share`, () => {
  const from = renderFor(FROM.version);
  const to = renderFor(TO.version);
  // The container's filesystem across revisions: `state/` is the share, `etc-openclaw/` the
  // config secret volume each revision projects afresh.
  const home = mkdtempSync(path.join(tmpdir(), 'openclaw-upgrade-'));
  const stateDir = path.join(home, 'state');
  const snapshot = path.join(mkdtempSync(path.join(tmpdir(), 'openclaw-snapshot-')), 'state');
  let deviceId = '';

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(path.dirname(snapshot), { recursive: true, force: true });
  });

  it(`${FROM.version} writes real state on an empty share: a paired device, its state database at its schema`, async () => {
    const earlier = await startGateway(from, { home, timeoutMs: 180_000 });
    console.log(`${FROM.version} on an empty share: ready in ${(earlier.startedInMs / 1000).toFixed(1)} s`);
    try {
      // A device asks to pair and is approved: the gateway persists it in its state database.
      const proxy = await forwardingProxy(earlier.port);
      const device = pairingDevice(FROM.version, proxy.port);
      try {
        const request = await until('a pairing request', async () => (await pairing(earlier)).pending?.[0]);
        deviceId = request.deviceId;
        expect(
          (await adminRpc(earlier, 'device.pair.approve', { requestId: request.requestId })).status,
        ).toBe(200);
        expect((await pairing(earlier)).paired?.map((d) => d.deviceId)).toEqual([deviceId]);
      } finally {
        device.stop();
        await proxy.close();
      }
    } finally {
      await earlier.stop();
    }
    expect(earlier.exitStatus()).toEqual({ code: 0, signal: null });
    // What it wrote: the shared state database at its release's schema (WAL mode: -wal and -shm beside it).
    expect(existsSync(path.join(stateDir, STATE_DB))).toBe(true);
    const written = await stateSchema(path.join(stateDir, STATE_DB));
    expect(written.userVersion).toBe(FROM.schemaVersions.state);
    expect(written.meta.find((row) => row.meta_key === 'primary')).toMatchObject({
      role: 'global',
      schema_version: FROM.schemaVersions.state,
      app_version: FROM.version,
    });

    // The snapshot: a copy of the share taken while no gateway runs.
    cpSync(stateDir, snapshot, { recursive: true });
  });

  it(`${TO.version} migrates that state at start and reports started and ready, the device still paired`, async () => {
    expect(deviceId).not.toBe('');
    const later = await startGateway(to, { home, timeoutMs: 180_000 });
    console.log(
      `${TO.version} on ${FROM.version}'s share: ready in ${(later.startedInMs / 1000).toFixed(1)} s`,
    );
    try {
      expect(await getJson(`${later.url}/startupz`)).toMatchObject({
        status: 200,
        body: { ok: true, status: 'started', version: TO.version },
      });
      expect(await getJson(`${later.url}/readyz`)).toMatchObject({
        status: 200,
        body: { ready: true, failing: [] },
      });
      // The state came along: the device paired on the earlier release is still paired.
      expect((await pairing(later)).paired?.map((d) => d.deviceId)).toEqual([deviceId]);
    } finally {
      await later.stop();
    }
    const migrated = await stateSchema(path.join(stateDir, STATE_DB));
    expect(migrated.userVersion).toBe(TO.schemaVersions.state);
    expect(migrated.meta.find((row) => row.meta_key === 'primary')?.schema_version).toBe(
      TO.schemaVersions.state,
    );
    // It kept its own copy of the database as it found it, beside the migrated one.
    expect(readdirSync(path.join(stateDir, 'state'))).toContainEqual(
      expect.stringMatching(/^openclaw\.sqlite\.pre-startup-migration-[0-9a-f-]+\.bak$/),
    );
  });

  it(`${FROM.version} refuses the migrated state: exit ${EX_CONFIG}, never started nor ready`, async () => {
    const refused = await runContainerGateway(from, home);
    const answers: string[] = [];
    const ask = async (probe: string): Promise<string> => {
      try {
        const answer: ProbeAnswer = await getJson(`${refused.url}${probe}`);
        return `${probe} ${answer.status} ${JSON.stringify(answer.body)}`;
      } catch {
        return `${probe} no answer`;
      }
    };
    const deadline = Date.now() + 120_000;
    while (!refused.exited() && Date.now() < deadline) {
      answers.push(await ask('/startupz'), await ask('/readyz'));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await refused.stop();
    console.log(
      `${FROM.version} on ${TO.version}'s state: exited ${JSON.stringify(refused.exitStatus())} after ${Date.now() - refused.spawnedAt} ms; probes: ${[...new Set(answers.map((a) => a.replace(/"uptimeMs":\d+/, '')))].join(' | ')}`,
    );
    expect(refused.exitStatus()).toEqual({ code: EX_CONFIG, signal: null });
    expect(answers.filter((answer) => / 200 /.test(answer))).toEqual([]);
    const logs = refused.logs();
    expect(logs).toContain('database schema preflight rejected newer schema');
    expect(logs).toContain(
      `uses newer schema version ${TO.schemaVersions.state}; this build supports ${FROM.schemaVersions.state}`,
    );
    expect(logs).toContain(
      `Gateway refused startup because 1 OpenClaw database schema(s) are newer than this build. Refused by OpenClaw ${FROM.version}`,
    );
    // The refusal leaves the database as it was (and a stability report of the failed start).
    expect((await stateSchema(path.join(stateDir, STATE_DB))).userVersion).toBe(TO.schemaVersions.state);
    expect(readdirSync(path.join(stateDir, 'logs', 'stability'))).toContainEqual(
      expect.stringMatching(/gateway\.startup_failed\.json$/),
    );
  });

  it(`${FROM.version} starts again, ready, with its state, on the snapshot restored to the share, through the gateway pool`, async () => {
    // The share as the simulator owns it (an in-memory stand-in here), holding the snapshot again;
    // the pool runs the gateway on it as the sandbox runs a container app's revision.
    const share = memoryVolume();
    share.restore(readTree(snapshot));
    const dataDir = mkdtempSync(path.join(tmpdir(), 'openclaw-pool-'));
    const pool = createRealGatewayPool({ dataDir, stateVolume: share.volume });
    const app = appState(from);
    const ask = (
      route: string,
      init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    ) => pool.forward(APP, app, simRequest(route, init), route, (name) => (name === APP ? app : undefined));
    try {
      const ready = await until(
        `${FROM.version} ready through the pool`,
        async () => {
          const answer = await ask('/readyz');
          return answer.status === 200 ? answer : undefined;
        },
        180_000,
      );
      const [running] = pool.list();
      console.log(
        `${FROM.version} on the restored share: ready in ${((running?.readyInMs ?? 0) / 1000).toFixed(1)} s`,
      );
      // Through the sidecar (X-Forwarded-For: a remote client) the gateway tells only the verdict.
      expect(JSON.parse(String(ready.body))).toEqual({ ready: true });
      const listed = await ask(openClawVersionSupport(FROM.version).adminRpcPath!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_TOKEN}` },
        body: JSON.stringify({ method: 'device.pair.list', params: {} }),
      });
      const payload = (JSON.parse(String(listed.body)) as { payload?: PairedList }).payload;
      expect(payload?.paired?.map((d) => d.deviceId)).toEqual([deviceId]);

      share.watch(running!.pid);
      await pool.stopApp(APP);
      // Filled before the start into an empty mount; written back only once no process of the
      // gateway's group is left.
      expect(share.calls).toEqual([`materialize ${APP} (0 entries in the dir)`, `capture ${APP}`]);
      expect(pool.list()).toEqual([]);
      expect((await share.schema()).userVersion).toBe(FROM.schemaVersions.state);
    } finally {
      await pool.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const APP = 'ca-acme';

/** The app as the simulator holds it: the image, the container's env (values), the config secret. */
function appState(rendered: RenderedOpenClawConfig): OpenClawAppState {
  return {
    image: `ghcr.io/openclaw/openclaw:${rendered.version}`,
    env: containerEnv(rendered, '/home/node'),
    configJson: rendered.text,
    running: true,
  };
}

function simRequest(
  route: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): SimRequest {
  const body = Buffer.from(init.body ?? '', 'utf8');
  return {
    method: init.method ?? 'GET',
    url: new URL(`http://127.0.0.1/openclaw/${APP}${route}`),
    headers: init.headers ?? {},
    body,
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}

/** Every file under `dir` by its relative path (directories are implied by the files). */
function readTree(dir: string, base = dir, into = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) readTree(file, base, into);
    else into.set(path.relative(base, file), readFileSync(file));
  }
  return into;
}

/**
 * An in-memory stand-in for the share the simulator owns: the pool fills the gateway's dir from it
 * before a start and writes the dir back after a stop. It records each call, and whether any
 * process of the last gateway's group was alive at the capture.
 */
function memoryVolume() {
  let files = new Map<string, Buffer>();
  const calls: string[] = [];
  let watchedPid: number | undefined;
  const groupAlive = () => {
    try {
      if (watchedPid) process.kill(-watchedPid, 0);
      return watchedPid !== undefined;
    } catch {
      return false;
    }
  };
  const volume: GatewayStateVolume = {
    materialize(app, dir) {
      calls.push(`materialize ${app} (${readdirSync(dir).length} entries in the dir)`);
      for (const [name, bytes] of files) {
        mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        writeFileSync(path.join(dir, name), bytes);
      }
    },
    capture(app, dir) {
      calls.push(`capture ${app}${groupAlive() ? ' while the gateway runs' : ''}`);
      files = readTree(dir);
    },
  };
  return {
    volume,
    calls,
    watch: (pid: number) => (watchedPid = pid),
    restore: (snapshot: Map<string, Buffer>) => (files = new Map(snapshot)),
    /** The share's state database, read through a scratch copy. */
    async schema() {
      const scratch = mkdtempSync(path.join(tmpdir(), 'openclaw-share-'));
      try {
        for (const [name, bytes] of files) {
          if (!name.startsWith(STATE_DB)) continue;
          mkdirSync(path.dirname(path.join(scratch, name)), { recursive: true });
          writeFileSync(path.join(scratch, name), bytes);
        }
        return await stateSchema(path.join(scratch, STATE_DB));
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
}

describe('the real gateway pool on a state volume', () => {
  it('starts no gateway when the share cannot be materialized, and says why', async () => {
    const calls: string[] = [];
    const dataDir = mkdtempSync(path.join(tmpdir(), 'openclaw-pool-'));
    const pool = createRealGatewayPool({
      dataDir,
      stateVolume: {
        materialize: () => {
          calls.push('materialize');
          throw new Error('the share is not reachable');
        },
        capture: () => void calls.push('capture'),
      },
    });
    const app = appState(renderFor(FROM.version));
    try {
      await expect(pool.forward(APP, app, simRequest('/readyz'), '/readyz', () => app)).rejects.toThrow(
        'the share is not reachable',
      );
      expect(pool.list()).toEqual([]);
      await pool.stopApp(APP);
      expect(calls).toEqual(['materialize']);
    } finally {
      await pool.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
