import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { OPENCLAW_CONFIG_PATH } from '../../shared/openclaw/containerAppSpec.js';
import { openClawVersionSupport } from '../../shared/openclaw/versions.js';
import type { OpenClawAppState, OpenClawBackend } from '../sim/openclaw.js';
import type { SimRequest, SimResponse, SimSurface } from '../sim/surface.js';
import {
  freePort,
  isolatedEnv,
  OFFLINE_ENV,
  openClawInstall,
  projectSecretVolume,
  requireOpenClawInstall,
  runGateway,
  seedTeamsState,
  spawnOpenClaw,
  type GatewayProcess,
} from './runtime.js';
import { forwardingProxy } from './sidecar.js';

/**
 * `npm run sandbox -- --real-openclaw`: the real OpenClaw gateway for the apps the broker
 * provisions, in place of the simulator's stand-in. The simulator's `/openclaw/<app>/...` (where
 * the broker's OPENCLAW_GATEWAY_URL_TEMPLATE points) is forwarded to a real `openclaw gateway run`
 * of the app's image version, started with what the broker delivered: the config from the app's
 * `openclaw-config` secret laid out as a Container Apps secret volume, the container's env with
 * its Key Vault references resolved, and the state share as a real directory under the sandbox's
 * data dir (`openclaw/<app>/state`, kept across restarts of the gateway and of the sandbox).
 *
 * A change of the image, the config or the env (a new secret version after a rotation, an upgrade)
 * restarts the gateway, as a new revision would. The channel listeners have fixed ports (Telegram
 * 8787, Teams 3978), so `maxRunning` gateways run at once (default 1): an app beyond that answers
 * 503 naming the one that runs. Each running gateway also gets a sidecar port (a loopback stand-in
 * for NGINX that adds X-Forwarded-For), where WebSocket clients such as a device asking to pair
 * connect, as they would through the container app's ingress.
 */
export interface RealGatewayPoolOptions {
  /** Where the apps' state shares and config volumes live (`<dataDir>/openclaw/<app>/`). */
  dataDir: string;
  maxRunning?: number;
  /**
   * The app's state share when something else owns it (the simulator's Azure Files share, so an
   * upgrade can snapshot and restore the real state): without it the state dir under `dataDir` is
   * the share. With it, the dir is only the mount: filled from the share before each gateway starts
   * and written back after it has stopped, so the share changes only while no gateway writes it.
   */
  stateVolume?: GatewayStateVolume;
}

/** Moves an app's state between the share that owns it and the directory a gateway runs on. */
export interface GatewayStateVolume {
  /** Before a gateway of `app` starts: the share's content into `dir` (empty), as the mount shows it. */
  materialize(app: string, dir: string): Promise<void> | void;
  /** After that gateway has exited: `dir`'s content onto the share, replacing what the share held. */
  capture(app: string, dir: string): Promise<void> | void;
}

export interface RealGatewayView {
  app: string;
  version: string;
  pid: number;
  /** The gateway on loopback, and the sidecar stand-in in front of it. */
  url: string;
  sidecarUrl: string;
  stateDir: string;
  ready: boolean;
  /** Milliseconds from spawn to the first `/readyz` ready seen. */
  readyInMs?: number;
  rssMb?: number;
  exited: boolean;
  /** How it exited (a refused start exits 78, see upgrade.test.ts); absent while it runs. */
  exitCode?: number | null;
  exitSignal?: string | null;
}

export interface RealGatewayPool extends OpenClawBackend {
  list(): RealGatewayView[];
  /**
   * Stops the app's gateway, if one runs or has exited, and with a state volume captures its state
   * onto the share: what the simulator calls when the app's revision stops (zero replicas), so a
   * snapshot of the share taken after it holds everything the gateway wrote.
   */
  stopApp(app: string): Promise<void>;
  /** `/real-openclaw/`: the running gateways, and a pairing client for one (see README). */
  adminSurface(): SimSurface;
  stop(): Promise<void>;
}

interface Running {
  app: string;
  fingerprint: string;
  gateway: GatewayProcess;
  sidecar: { port: number; close(): Promise<void> };
  stateDir: string;
  token?: string;
  readyAt?: number;
  devices: { stop(): void }[];
}

const IMAGE_VERSION = /\/openclaw\/openclaw:([0-9A-Za-z.-]+)(?:@sha256:[0-9a-f]{64})?$/;
const HOP_BY_HOP = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
]);

const json = (status: number, body: unknown): SimResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body,
});

export function createRealGatewayPool(options: RealGatewayPoolOptions): RealGatewayPool {
  const maxRunning = options.maxRunning ?? 1;
  const running = new Map<string, Running>();
  const starting = new Map<string, Promise<Running>>();

  const appDir = (app: string) => path.join(options.dataDir, 'openclaw', app);
  // The gateways run in their own process groups: a sandbox that exits without stop() (an uncaught
  // error) must not leave them running.
  const killAll = () => {
    for (const entry of running.values()) {
      for (const device of entry.devices) device.stop();
      entry.gateway.kill();
    }
  };
  process.once('exit', killAll);

  async function start(app: string, state: OpenClawAppState, version: string, fingerprint: string) {
    const install = requireOpenClawInstall(version);
    const dir = appDir(app);
    const stateDir = path.join(dir, 'state');
    const configPath = path.join(dir, 'etc-openclaw', path.basename(OPENCLAW_CONFIG_PATH));
    if (options.stateVolume) {
      // The mount shows the share as it is now, nothing left over from an earlier gateway.
      rmSync(stateDir, { recursive: true, force: true });
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      await options.stateVolume.materialize(app, stateDir);
    }
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    projectSecretVolume(path.dirname(configPath), { [path.basename(configPath)]: state.configJson ?? '' });
    const env: Record<string, string> = { ...state.env };
    env['OPENCLAW_STATE_DIR'] = stateDir;
    env['OPENCLAW_CONFIG_PATH'] = configPath;
    // Teams needs its plugin on the share, as its first start in Azure would fetch it from npm.
    if (env['MSTEAMS_APP_ID'] !== undefined && !existsSync(path.join(stateDir, 'state'))) {
      seedTeamsState(version, stateDir);
    }
    const home = path.join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const gateway = runGateway(install, isolatedEnv(home, { ...env, ...OFFLINE_ENV }), await freePort());
    const sidecar = await forwardingProxy(gateway.port);
    const entry: Running = {
      app,
      fingerprint,
      gateway,
      sidecar,
      stateDir,
      ...(env['OPENCLAW_GATEWAY_TOKEN'] ? { token: env['OPENCLAW_GATEWAY_TOKEN'] } : {}),
      devices: [],
    };
    running.set(app, entry);
    return entry;
  }

  async function release(entry: Running): Promise<void> {
    running.delete(entry.app);
    for (const device of entry.devices) device.stop();
    await entry.sidecar.close();
    await entry.gateway.stop();
    // Only now, with the one writer gone (its process group has exited), does the share change.
    await options.stateVolume?.capture(entry.app, entry.stateDir);
  }

  /** The gateway for the app as it is now: started, restarted after a change, or a reason it is not. */
  async function gatewayFor(
    app: string,
    state: OpenClawAppState,
    getApp: (app: string) => OpenClawAppState | undefined,
  ): Promise<Running | SimResponse> {
    // A gateway whose app was deleted or stopped (a teardown) stops too.
    for (const entry of [...running.values()]) {
      if (entry.app !== app && getApp(entry.app)?.running !== true) await release(entry);
    }
    const version = IMAGE_VERSION.exec(state.image)?.[1];
    if (!version)
      return json(503, { ready: false, failing: ['image'], reason: `no version in ${state.image}` });
    if (!existsSync(openClawInstall(version).entry)) {
      return json(503, {
        ready: false,
        failing: ['sandbox'],
        reason: `OpenClaw ${version} is not installed here; run \`npm run openclaw:install\``,
      });
    }
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([state.image, state.configJson ?? '', Object.entries(state.env).sort()]))
      .digest('hex');
    const pending = starting.get(app);
    if (pending) return pending;
    const current = running.get(app);
    if (current && current.fingerprint === fingerprint && !current.gateway.exited()) return current;
    const others = [...running.values()].filter((entry) => entry.app !== app);
    if (others.length >= maxRunning) {
      return json(503, {
        ready: false,
        failing: ['sandbox'],
        reason: `the sandbox runs ${maxRunning} real gateway(s) at a time and ${others.map((o) => o.app).join(', ')} runs; tear it down first`,
      });
    }
    const next = (async () => {
      if (current) await release(current);
      return start(app, state, version, fingerprint);
    })();
    starting.set(app, next);
    try {
      return await next;
    } finally {
      starting.delete(app);
    }
  }

  async function forward(
    app: string,
    state: OpenClawAppState,
    req: SimRequest,
    route: string,
    getApp: (app: string) => OpenClawAppState | undefined,
  ): Promise<SimResponse> {
    const found = await gatewayFor(app, state, getApp);
    if (!('gateway' in found)) return found;
    if (found.gateway.exited()) {
      return json(503, {
        ready: false,
        failing: ['process'],
        reason: 'the gateway exited; see /real-openclaw/',
      });
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name))
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    // The sidecar adds the client's address for every request, as NGINX does in the container.
    headers['x-forwarded-for'] = '203.0.113.7';
    let answer: Response;
    try {
      answer = await fetch(`${found.gateway.url}${route}${req.url.search}`, {
        method: req.method,
        headers,
        ...(req.body.length > 0 && !['GET', 'HEAD'].includes(req.method.toUpperCase())
          ? { body: req.body }
          : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      // Not listening yet: what the container's ingress answers while the replica starts.
      return json(503, { ready: false, failing: ['process-starting'] });
    }
    const body = Buffer.from(await answer.arrayBuffer());
    const readiness = openClawVersionSupport(found.gateway.version).probes.readiness;
    if (found.readyAt === undefined && route === readiness && answer.status === 200) {
      found.readyAt = Date.now();
    }
    const contentType = answer.headers.get('content-type');
    return { status: answer.status, headers: contentType ? { 'content-type': contentType } : {}, body };
  }

  function view(entry: Running): RealGatewayView {
    const rss = entry.gateway.rssKb();
    const exit = entry.gateway.exitStatus();
    return {
      app: entry.app,
      version: entry.gateway.version,
      pid: entry.gateway.pid,
      url: entry.gateway.url,
      sidecarUrl: `http://127.0.0.1:${entry.sidecar.port}`,
      stateDir: entry.stateDir,
      ready: entry.readyAt !== undefined,
      ...(entry.readyAt !== undefined ? { readyInMs: entry.readyAt - entry.gateway.spawnedAt } : {}),
      ...(rss !== undefined ? { rssMb: Math.round(rss / 1024) } : {}),
      exited: entry.gateway.exited(),
      ...(exit ? { exitCode: exit.code, exitSignal: exit.signal } : {}),
    };
  }

  /** A device asks the app's gateway to pair: OpenClaw's own node client, through the sidecar. */
  function pairDevice(entry: Running): void {
    const home = path.join(appDir(entry.app), 'devices', String(entry.devices.length + 1));
    mkdirSync(home, { recursive: true });
    const child = spawnOpenClaw(
      requireOpenClawInstall(entry.gateway.version),
      ['node', 'run', '--host', '127.0.0.1', '--port', String(entry.sidecar.port)],
      isolatedEnv(home, {
        OPENCLAW_STATE_DIR: path.join(home, 'state'),
        ...(entry.token ? { OPENCLAW_GATEWAY_TOKEN: entry.token } : {}),
        ...OFFLINE_ENV,
      }),
    );
    child.stdout?.resume();
    child.stderr?.resume();
    entry.devices.push({
      stop() {
        try {
          if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone already
        }
        rmSync(home, { recursive: true, force: true });
      },
    });
  }

  return {
    forward,
    list: () => [...running.values()].map(view),
    async stopApp(app) {
      const pending = starting.get(app);
      if (pending) await pending.catch(() => undefined);
      const entry = running.get(app);
      if (entry) await release(entry);
    },
    adminSurface: () => ({
      name: 'real-openclaw',
      prefix: '/real-openclaw/',
      async handle(req) {
        const match = /^\/real-openclaw\/(?:([^/]+)\/(pair))?$/.exec(req.url.pathname);
        if (!match) return json(404, { error: 'GET /real-openclaw/ or POST /real-openclaw/<app>/pair' });
        if (!match[1]) return json(200, { gateways: [...running.values()].map(view) });
        if (req.method.toUpperCase() !== 'POST') return json(405, { error: 'use POST' });
        const entry = running.get(decodeURIComponent(match[1]));
        if (!entry) return json(404, { error: `no real gateway runs for ${match[1]}` });
        pairDevice(entry);
        return json(202, {
          app: entry.app,
          devices: entry.devices.length,
          next: 'the request shows in a few seconds: /devices <slug> in the admin chat',
        });
      },
      snapshot: () => ({ gateways: [...running.values()].map(view) }),
    }),
    async stop() {
      process.removeListener('exit', killAll);
      await Promise.all([...running.values()].map(release));
    },
  };
}
