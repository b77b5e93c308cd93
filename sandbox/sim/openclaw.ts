import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseJson5 } from './openclaw-json5.js';
import {
  OPENCLAW_CONFIG_SCHEMAS,
  compareCalendarVersions,
  schemaFor,
  type OpenClawConfigSchema,
} from './openclaw-schema.js';
import { unknownConfigKeys } from '../../shared/openclaw/versions.js';
import type { SimClock, SimRequest, SimResponse, SimSurface } from './surface.js';
import { messageOf } from '../../shared/errors.js';

export {
  OPENCLAW_CONFIG_SCHEMAS,
  compareCalendarVersions,
  type OpenClawConfigSchema,
} from './openclaw-schema.js';

/** What the core knows about one running container app (from ARM state and its file share). */
export interface OpenClawAppState {
  /** `ghcr.io/openclaw/openclaw:<version>`, optionally with `@sha256:<digest>`. */
  image: string;
  /** Environment values; Key Vault references are passed to resolveSecret. */
  env: Record<string, string>;
  /** The rendered openclaw.json (JSON5 or JSON); undefined when the share has none. */
  configJson?: string;
  running: boolean;
  /** Why the container keeps exiting when the platform starts it (a crash loop), if it does. */
  startFailure?: string;
}

// ---- state migrations -----------------------------------------------------------------

/**
 * OpenClaw migrates its state forward when the gateway starts, and an older build refuses state of
 * a newer schema: "OpenClaw applies forward-only migrations when it opens an older supported
 * database. It refuses a database whose `user_version` is newer than the running build ... When
 * Gateway startup encounters a newer database schema, it exits with status 78"
 * (docs/reference/database-schemas/versioning.md in openclaw/openclaw; also
 * docs/install/updating/rollback-and-recovery.md: "A successful start can migrate state forward.
 * An older binary may then refuse ... the database schema"; the only way back is a backup taken
 * with the gateway stopped).
 */
export const OPENCLAW_NEWER_STATE_EXIT_CODE = 78;

/**
 * Where the stand-in keeps the schema its state was migrated to, on the share mounted at the state
 * dir. The real gateway keeps it inside `state/openclaw.sqlite` (`PRAGMA user_version` and the
 * `schema_meta` row with `schema_version` and `app_version`, versioning.md; layout.md for the path),
 * which the stand-in cannot write; this marker sits next to it and says what it stands for.
 */
export const SIMULATED_STATE_SCHEMA_PATH = 'state/openclaw.sqlite.simulated-schema.json';

/** A state schema: a number, or (by default) the OpenClaw version that wrote it. */
export type OpenClawStateSchema = string | number;

/**
 * Which state schema each version migrates to. OpenClaw publishes a history of schema numbers with
 * the first release of each (docs/reference/database-schemas/state-schema-history.md), but per
 * release support for every database (shared state and per-agent) is not published as data the
 * simulator can use. So the pessimistic reading: every release may migrate, its schema is the
 * release itself, and any older release refuses what a newer one wrote. Tests override it with
 * `stateSchemaOf` (e.g. two releases sharing a schema).
 */
export const defaultStateSchemaOf = (version: string): OpenClawStateSchema => version;

function compareSchemas(a: OpenClawStateSchema, b: OpenClawStateSchema): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareCalendarVersions(String(a), String(b));
}

/** What the marker holds, standing for `user_version` and the `schema_meta` row. */
export interface SimulatedStateSchema {
  schemaVersion: OpenClawStateSchema;
  appVersion: string;
  note: string;
}

/** Reads the stand-in's schema marker from share content; undefined when absent or unreadable. */
export function parseStateSchemaMarker(text: string | undefined): SimulatedStateSchema | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<SimulatedStateSchema>;
    const schema = parsed.schemaVersion;
    return (typeof schema === 'string' || typeof schema === 'number') && typeof parsed.appVersion === 'string'
      ? { schemaVersion: schema, appVersion: parsed.appVersion, note: String(parsed.note ?? '') }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A gateway of `version` starting on its state: with state of a newer schema it exits 78 and
 * changes nothing; otherwise it migrates the state forward (records the newer schema) and runs.
 */
export function startGatewayOnState(input: {
  version: string;
  stateSchemaOf?: (version: string) => OpenClawStateSchema;
  readMarker(): string | undefined;
  writeMarker(content: string): void;
}):
  | { state: 'running'; migratedFrom?: OpenClawStateSchema }
  | { state: 'exited'; exitCode: number; reason: string } {
  const schemaOf = input.stateSchemaOf ?? defaultStateSchemaOf;
  const own = schemaOf(input.version);
  const stored = parseStateSchemaMarker(input.readMarker());
  if (stored) {
    const order = compareSchemas(stored.schemaVersion, own);
    if (Number.isNaN(order) || order > 0)
      return {
        state: 'exited',
        exitCode: OPENCLAW_NEWER_STATE_EXIT_CODE,
        reason: `openclaw ${input.version} refuses the state: newer schema version ${String(stored.schemaVersion)} (written by ${stored.appVersion}) than it supports (${String(own)})`,
      };
    if (order === 0) return { state: 'running' };
  }
  const marker: SimulatedStateSchema = {
    schemaVersion: own,
    appVersion: input.version,
    note: 'Simulator stand-in for PRAGMA user_version and schema_meta of state/openclaw.sqlite.',
  };
  input.writeMarker(`${JSON.stringify(marker, null, 2)}\n`);
  return { state: 'running', ...(stored ? { migratedFrom: stored.schemaVersion } : {}) };
}

/** The OpenClaw version of an image reference (tag, or a digest the core knows), if it is OpenClaw's. */
export function openclawVersionOfImage(
  image: string,
  versionOfImage?: (image: string) => string | undefined,
): string | undefined {
  const match = IMAGE.exec(image);
  if (!match) return undefined;
  return match[1] ?? versionOfImage?.(image);
}

export interface OpenClawSurfaceOptions {
  clock: SimClock;
  getApp(appName: string): OpenClawAppState | undefined;
  /**
   * Resolves an env value that is a secret reference (`secretref:<name>` or
   * `@Microsoft.KeyVault(...)`) to its value, or undefined when it cannot be resolved.
   */
  resolveSecret?(ref: string): string | undefined;
  /** App names for the snapshot; without it the snapshot lists apps the surface has seen. */
  listApps?(): string[];
  /** The version of a digest-only image reference, if the core knows it. */
  versionOfImage?(image: string): string | undefined;
  /** Which state schema each version migrates to; defaults to `defaultStateSchemaOf` (the version). */
  stateSchemaOf?: (version: string) => OpenClawStateSchema;
  /** Per-version config schemas; defaults to OPENCLAW_CONFIG_SCHEMAS. */
  schemas?: Readonly<Record<string, OpenClawConfigSchema>>;
  /** How long a pairing request waits, in sim time; OpenClaw's own is 5 minutes. */
  pairingTtlMs?: number;
  /**
   * Real gateways instead of the stand-in (`npm run sandbox -- --real-openclaw`): every request
   * for a running app goes to `backend.forward` (sandbox/openclaw-real/gatewayPool.ts).
   */
  backend?: OpenClawBackend;
}

/** Serves the gateways' HTTP for running apps in place of the stand-in. */
export interface OpenClawBackend {
  forward(
    appName: string,
    app: OpenClawAppState,
    req: SimRequest,
    route: string,
    getApp: (appName: string) => OpenClawAppState | undefined,
  ): Promise<SimResponse>;
}

/** A browser's pending pairing request, shaped like OpenClaw's DevicePairingPendingRequest. */
export interface PendingPairingRequest {
  requestId: string;
  deviceId: string;
  publicKey: string;
  displayName?: string;
  platform?: string;
  clientId?: string;
  role?: string;
  roles?: string[];
  scopes?: string[];
  remoteIp?: string;
  isRepair: boolean;
  ts: number;
}

export interface PairedDevice {
  deviceId: string;
  publicKey: string;
  displayName?: string;
  platform?: string;
  clientId?: string;
  role?: string;
  roles?: string[];
  scopes?: string[];
  approvedScopes?: string[];
  remoteIp?: string;
  /** Token metadata only, as OpenClaw's own listing shows it; never token values. */
  tokens: Array<{ role: string; scopes: string[]; createdAtMs: number }>;
  createdAtMs: number;
  approvedAtMs: number;
}

export type PairingRequestOptions = Partial<
  Pick<
    PendingPairingRequest,
    'deviceId' | 'displayName' | 'platform' | 'clientId' | 'role' | 'scopes' | 'remoteIp'
  >
>;

export interface OpenClawReadiness {
  version?: string;
  /** The schema version the config was checked against. */
  schemaVersion?: string;
  ready: boolean;
  reasons: string[];
}

export interface OpenClawSurface extends SimSurface {
  /** A browser asks to pair with the app's gateway: a pending request with a random UUID id. */
  requestPairing(appName: string, request?: PairingRequestOptions): PendingPairingRequest;
  /** The app's pending (unexpired) and paired devices. */
  pairings(appName: string): { pending: PendingPairingRequest[]; paired: PairedDevice[] };
  /** Whether the app's gateway would be ready, and every reason it is not. */
  readiness(appName: string): OpenClawReadiness | undefined;
}

const DEFAULT_PAIRING_TTL_MS = 5 * 60 * 1000;
/** OpenClaw's image, upstream (ghcr.io) or mirrored into a registry such as ACR under the same path. */
const IMAGE = /^[a-z0-9.-]+(?::\d+)?\/openclaw\/openclaw(?::([A-Za-z0-9._-]+))?(?:@(sha256:[0-9a-f]{64}))?$/;
const SECRET_REFERENCE = /^(secretref:|@Microsoft\.KeyVault\()/;
const GATEWAY_TOKEN_ENV = 'OPENCLAW_GATEWAY_TOKEN';
const GATEWAY_TOKEN = /^[0-9a-f]{64,}$/i;
const BIND_MODES = ['auto', 'lan', 'loopback', 'custom', 'tailnet'];
const AUTH_MODES = ['none', 'token', 'password', 'trusted-proxy'];
const DANGEROUS_FLAGS = [
  'allowInsecureAuth',
  'dangerouslyDisableDeviceAuth',
  'dangerouslyAllowHostHeaderOriginFallback',
] as const;
const CONTROL_UI_PAGE =
  '<!doctype html><html><head><title>OpenClaw Control</title></head><body><openclaw-app></openclaw-app></body></html>';

type Json = Record<string, unknown>;

interface Evaluation extends OpenClawReadiness {
  /** The token the gateway accepts, when it would start. */
  gatewayToken?: string;
  /**
   * The admin RPC route, when the version bundles `admin-http-rpc` and the config enables it
   * (`plugins.entries.admin-http-rpc.enabled`); without both the real gateway registers no route.
   */
  adminRpcPath?: string;
}

interface AppPairings {
  pending: Map<string, PendingPairingRequest>;
  paired: Map<string, PairedDevice>;
}

/** The OpenClaw stand-in as the state file holds it: pairings by app, and the apps it has seen. */
interface OpenClawStateData {
  pairings: [string, { pending: PendingPairingRequest[]; paired: PairedDevice[] }][];
  seenApps: string[];
}

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Replaces `${VAR}` in every string of the config, as OpenClaw does; records variables that are missing. */
function substituteEnv(
  value: unknown,
  env: Record<string, string>,
  path: string,
  missing: string[],
): unknown {
  if (typeof value === 'string') {
    const before = missing.length;
    const substituted = value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (whole, name: string) => {
      const resolved = env[name];
      if (resolved === undefined) {
        missing.push(`${path}: missing env var ${name}`);
        return whole;
      }
      return resolved;
    });
    // A string with an unresolved variable has no usable value.
    return missing.length > before ? undefined : substituted;
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, `${path}[${i}]`, missing));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substituteEnv(item, env, path ? `${path}.${key}` : key, missing),
      ]),
    );
  }
  return value;
}

/**
 * Creates the stand-in for each container app's OpenClaw gateway at `/openclaw/<app>/...`.
 * Readiness is computed from the app's real state on every request; pairing requests are the only
 * state the surface keeps. Tokens never appear in responses other than the caller's own, nor in
 * the snapshot.
 */
export function createOpenClawSurface(options: OpenClawSurfaceOptions): OpenClawSurface {
  const clock = options.clock;
  const schemas = options.schemas ?? OPENCLAW_CONFIG_SCHEMAS;
  const pairingTtl = options.pairingTtlMs ?? DEFAULT_PAIRING_TTL_MS;
  const pairingsByApp = new Map<string, AppPairings>();
  const seenApps = new Set<string>();

  function resolveEnv(env: Record<string, string>, reasons: string[]): Record<string, string> {
    const resolved: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
      if (!SECRET_REFERENCE.test(value)) {
        resolved[name] = value;
        continue;
      }
      const secret = options.resolveSecret?.(value);
      if (secret === undefined) reasons.push(`env ${name}: secret reference could not be resolved`);
      else resolved[name] = secret;
    }
    return resolved;
  }

  function versionOf(image: string): string | undefined {
    return openclawVersionOfImage(image, options.versionOfImage);
  }

  function evaluate(app: OpenClawAppState): Evaluation {
    const reasons: string[] = [];
    // A container that exits at start never serves: its probes never pass.
    if (app.startFailure !== undefined)
      reasons.push(`gateway: the container keeps exiting (${app.startFailure})`);
    const version = versionOf(app.image);
    if (!IMAGE.test(app.image))
      reasons.push(`image: ${app.image} is not ghcr.io/openclaw/openclaw or a mirror of it`);
    else if (version === undefined) reasons.push('image: the version of the image is unknown');
    const known = version === undefined ? undefined : schemaFor(version, schemas);
    if (version !== undefined && !known)
      reasons.push(`image: openclaw ${version} is not a version the simulator knows`);

    const env = resolveEnv(app.env, reasons);
    const envToken = env[GATEWAY_TOKEN_ENV];
    if (envToken === undefined) reasons.push(`${GATEWAY_TOKEN_ENV}: missing`);
    else if (!GATEWAY_TOKEN.test(envToken)) {
      reasons.push(`${GATEWAY_TOKEN_ENV}: must be at least 64 hex characters (32 random bytes)`);
    }

    let config: Json | undefined;
    if (app.configJson === undefined) {
      reasons.push('openclaw.json: missing');
    } else {
      try {
        const parsed = parseJson5(app.configJson);
        if (isObject(parsed)) config = parsed;
        else reasons.push('openclaw.json: the top level must be an object');
      } catch (err) {
        reasons.push(`openclaw.json: ${messageOf(err)}`);
      }
    }

    let gatewayToken: string | undefined;
    if (config) {
      const missingEnv: string[] = [];
      config = substituteEnv(config, env, '', missingEnv) as Json;
      reasons.push(...missingEnv);
      const gateway = isObject(config['gateway']) ? config['gateway'] : {};
      const controlUi = isObject(gateway['controlUi']) ? gateway['controlUi'] : {};
      const auth = isObject(gateway['auth']) ? gateway['auth'] : {};
      if (known && version !== undefined) {
        reasons.push(
          ...unknownConfigKeys(config, known.schema.configKeys).map(
            (key) => `${key}: unknown config key for openclaw ${version}`,
          ),
        );
      }

      const bind = gateway['bind'] ?? 'loopback';
      if (typeof bind !== 'string' || !BIND_MODES.includes(bind)) {
        reasons.push(`gateway.bind: must be one of ${BIND_MODES.join(', ')}`);
      }
      const configToken = typeof auth['token'] === 'string' ? auth['token'] : undefined;
      const password = typeof auth['password'] === 'string' ? auth['password'] : undefined;
      gatewayToken = configToken ?? envToken;
      const mode = auth['mode'] ?? (gatewayToken ? 'token' : password ? 'password' : 'none');
      if (typeof mode !== 'string' || !AUTH_MODES.includes(mode)) {
        reasons.push(`gateway.auth.mode: must be one of ${AUTH_MODES.join(', ')}`);
      }
      if (configToken !== undefined && configToken !== envToken && !GATEWAY_TOKEN.test(configToken)) {
        reasons.push('gateway.auth.token: must be at least 64 hex characters (32 random bytes)');
      }
      if (bind !== 'loopback') {
        const hasAuth =
          (mode === 'token' && Boolean(gatewayToken)) ||
          (mode === 'password' && Boolean(password)) ||
          mode === 'trusted-proxy';
        if (!hasAuth)
          reasons.push(
            `gateway.auth: a non-loopback bind (gateway.bind=${JSON.stringify(bind)}) requires auth`,
          );
        const origins = controlUi['allowedOrigins'];
        if (!Array.isArray(origins) || origins.length === 0) {
          reasons.push(
            `gateway.controlUi.allowedOrigins: required for a non-loopback bind (gateway.bind=${JSON.stringify(bind)})`,
          );
        }
      }
      for (const flag of DANGEROUS_FLAGS) {
        if (controlUi[flag] === true) reasons.push(`gateway.controlUi.${flag}: dangerous flag is on`);
      }
    }

    const pluginEntries = isObject(config?.['plugins']) ? config['plugins']['entries'] : undefined;
    const adminRpcEntry = isObject(pluginEntries) ? pluginEntries['admin-http-rpc'] : undefined;
    const adminRpcPath =
      known?.schema.adminRpcPath && isObject(adminRpcEntry) && adminRpcEntry['enabled'] === true
        ? known.schema.adminRpcPath
        : undefined;
    return {
      ...(version !== undefined ? { version } : {}),
      ...(known ? { schemaVersion: known.schemaVersion } : {}),
      ready: reasons.length === 0,
      reasons,
      ...(reasons.length === 0 && gatewayToken !== undefined ? { gatewayToken } : {}),
      ...(adminRpcPath ? { adminRpcPath } : {}),
    };
  }

  function pairingsOf(appName: string): AppPairings {
    let state = pairingsByApp.get(appName);
    if (!state) {
      state = { pending: new Map(), paired: new Map() };
      pairingsByApp.set(appName, state);
    }
    for (const [id, request] of state.pending) {
      if (clock.now() - request.ts > pairingTtl) state.pending.delete(id);
    }
    return state;
  }

  function listPairings(appName: string) {
    const state = pairingsOf(appName);
    return {
      pending: [...state.pending.values()].sort((a, b) => b.ts - a.ts).map((r) => structuredClone(r)),
      paired: [...state.paired.values()]
        .sort((a, b) => b.approvedAtMs - a.approvedAtMs)
        .map((d) => structuredClone(d)),
    };
  }

  function approve(
    appName: string,
    requestId: string,
  ): { requestId: string; device: PairedDevice } | undefined {
    const state = pairingsOf(appName);
    const pending = state.pending.get(requestId);
    if (!pending) return undefined;
    const now = clock.now();
    const existing = state.paired.get(pending.deviceId);
    const role = pending.role;
    const device: PairedDevice = {
      deviceId: pending.deviceId,
      publicKey: pending.publicKey,
      ...(pending.displayName !== undefined ? { displayName: pending.displayName } : {}),
      ...(pending.platform !== undefined ? { platform: pending.platform } : {}),
      ...(pending.clientId !== undefined ? { clientId: pending.clientId } : {}),
      ...(role !== undefined ? { role, roles: [role] } : {}),
      ...(pending.scopes ? { scopes: [...pending.scopes], approvedScopes: [...pending.scopes] } : {}),
      ...(pending.remoteIp !== undefined ? { remoteIp: pending.remoteIp } : {}),
      tokens: role ? [{ role, scopes: [...(pending.scopes ?? [])], createdAtMs: now }] : [],
      createdAtMs: existing?.createdAtMs ?? now,
      approvedAtMs: now,
    };
    state.pending.delete(requestId);
    state.paired.set(device.deviceId, device);
    return { requestId, device: structuredClone(device) };
  }

  // ---- HTTP ----

  function json(status: number, body: unknown, version?: string): SimResponse {
    return {
      status,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...(version ? { 'x-openclaw-version': version } : {}),
      },
      body,
    };
  }

  function rpcError(
    status: number,
    code: string,
    message: string,
    id: unknown,
    version?: string,
  ): SimResponse {
    return json(
      status,
      { ...(id !== undefined ? { id } : {}), ok: false, error: { code, message } },
      version,
    );
  }

  function bearer(req: SimRequest): string | undefined {
    const header = req.headers.authorization;
    return header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  }

  function sameToken(presented: string | undefined, expected: string | undefined): boolean {
    if (presented === undefined || expected === undefined) return false;
    const digest = (value: string) => createHash('sha256').update(value).digest();
    return timingSafeEqual(digest(presented), digest(expected));
  }

  /**
   * The bundled `admin-http-rpc` plugin's route, as the real gateway answers it (its handler in
   * dist/extensions/admin-http-rpc of the package, and test/openclaw-real/gateway.test.ts, which
   * drives this stand-in and the real gateway with the same requests): gateway auth first (401
   * `{error:{type:'unauthorized'}}`), then POST only (405), a JSON object with a method (400
   * `invalid_request`), the method allowlist (400 INVALID_REQUEST), then the method itself.
   * The stand-in implements device.pair.list/approve/reject; the other allowlisted methods are
   * answered as not supported (the broker calls no other).
   */
  function adminRpc(req: SimRequest, appName: string, evaluation: Evaluation, method: string): SimResponse {
    const version = evaluation.version;
    if (!sameToken(bearer(req), evaluation.gatewayToken)) {
      return json(401, { error: { message: 'Unauthorized', type: 'unauthorized' } }, version);
    }
    if (method !== 'POST') {
      const response = json(
        405,
        { ok: false, error: { type: 'method_not_allowed', message: 'Method Not Allowed' } },
        version,
      );
      return { ...response, headers: { ...response.headers, allow: 'POST' } };
    }
    const invalid = (message: string) =>
      json(400, { ok: false, error: { type: 'invalid_request', message } }, version);
    let body: Json;
    try {
      const parsed: unknown = JSON.parse(req.body.toString('utf8'));
      if (!isObject(parsed)) return invalid('request body must be an object');
      body = parsed;
    } catch {
      return invalid(req.body.length === 0 ? 'request body must be JSON' : 'request body must be valid JSON');
    }
    const rpcMethod = typeof body['method'] === 'string' ? body['method'].trim() : '';
    if (rpcMethod === '') return invalid('method must be a non-empty string');
    const id = typeof body['id'] === 'string' && body['id'].trim() !== '' ? body['id'].trim() : randomUUID();
    const params = isObject(body['params']) ? body['params'] : {};
    const requestId = params['requestId'];
    const answer = (payload: unknown) => json(200, { id, ok: true, payload }, version);
    switch (rpcMethod) {
      case 'device.pair.list':
        return answer(listPairings(appName));
      case 'device.pair.approve':
      case 'device.pair.reject': {
        if (typeof requestId !== 'string' || requestId === '') {
          return rpcError(
            400,
            'INVALID_REQUEST',
            `invalid ${rpcMethod} params: must have required property 'requestId'`,
            id,
            version,
          );
        }
        if (rpcMethod === 'device.pair.approve') {
          const approved = approve(appName, requestId);
          return approved
            ? answer(approved)
            : rpcError(400, 'INVALID_REQUEST', 'unknown requestId', id, version);
        }
        const state = pairingsOf(appName);
        const pending = state.pending.get(requestId);
        if (!pending) return rpcError(400, 'INVALID_REQUEST', 'unknown requestId', id, version);
        state.pending.delete(requestId);
        return answer({ requestId, deviceId: pending.deviceId });
      }
      default:
        return rpcError(
          400,
          'INVALID_REQUEST',
          `admin HTTP RPC method is not supported: ${rpcMethod}`,
          id,
          version,
        );
    }
  }

  async function handle(req: SimRequest): Promise<SimResponse | undefined> {
    const match = /^\/openclaw\/([^/]+)(\/.*)?$/.exec(req.url.pathname);
    const appName = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    if (appName === undefined) return json(404, { error: 'no such app' });
    const app = options.getApp(appName);
    if (!app) return json(404, { error: `no such app: ${appName}` });
    seenApps.add(appName);
    if (!app.running) return json(503, { ok: false, error: 'not running' });
    if (options.backend) return options.backend.forward(appName, app, req, match?.[2] ?? '/', options.getApp);

    const evaluation = evaluate(app);
    const version = evaluation.version;
    const probes = (version !== undefined ? schemaFor(version, schemas)?.schema.probes : undefined) ?? {
      startup: '/startupz',
      liveness: '/healthz',
      readiness: '/readyz',
    };
    const path = match?.[2] ?? '/';
    const method = req.method.toUpperCase();
    // Probe bodies as the real gateway's (test/openclaw-real/gateway.test.ts). A real gateway with a
    // config it refuses does not run at all; the stand-in answers 503 instead and says why in
    // `reason`/`reasons` (its own fields), so tests and the sandbox can show it.
    if (method === 'GET' && path === probes.liveness) return json(200, { ok: true, status: 'live' }, version);
    if (method === 'GET' && probes.startup !== null && path === probes.startup) {
      return evaluation.ready
        ? json(200, { ok: true, status: 'started', version: version ?? null }, version)
        : json(
            503,
            { ok: false, status: 'starting', version: version ?? null, pendingReason: evaluation.reasons[0] },
            version,
          );
    }
    if (method === 'GET' && path === probes.readiness) {
      return evaluation.ready
        ? json(200, { ready: true, failing: [] }, version)
        : json(
            503,
            { ready: false, failing: [], reason: evaluation.reasons[0], reasons: evaluation.reasons },
            version,
          );
    }
    if (evaluation.adminRpcPath !== undefined && path === evaluation.adminRpcPath) {
      if (!evaluation.ready) {
        return rpcError(
          503,
          'UNAVAILABLE',
          `gateway is not ready: ${evaluation.reasons[0] ?? ''}`,
          undefined,
          version,
        );
      }
      return adminRpc(req, appName, evaluation, method);
    }
    // The control UI is a single-page app: any other GET gets its page with 200, as OpenClaw's does;
    // asked for JSON only (as the broker's probe asks), the real gateway answers a plain-text 404.
    const accept = req.headers.accept ?? '';
    if (method === 'GET' && !(accept.includes('application/json') && !accept.includes('text/html'))) {
      return {
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          ...(version ? { 'x-openclaw-version': version } : {}),
        },
        body: CONTROL_UI_PAGE,
      };
    }
    return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Not Found' };
  }

  function readiness(appName: string): OpenClawReadiness | undefined {
    const app = options.getApp(appName);
    if (!app) return undefined;
    const { gatewayToken: _token, adminRpcPath: _path, ...view } = evaluate(app);
    return view;
  }

  return {
    name: 'openclaw',
    prefix: '/openclaw/',
    handle,

    snapshot() {
      const names = new Set([...(options.listApps?.() ?? []), ...seenApps, ...pairingsByApp.keys()]);
      return {
        apps: [...names].sort().flatMap((name) => {
          const app = options.getApp(name);
          if (!app) return [];
          return [
            { name, image: app.image, running: app.running, ...readiness(name), ...listPairings(name) },
          ];
        }),
      };
    },

    exportState(): OpenClawStateData {
      return structuredClone({
        pairings: [...pairingsByApp].map(([appName, state]) => [
          appName,
          { pending: [...state.pending.values()], paired: [...state.paired.values()] },
        ]),
        seenApps: [...seenApps],
      });
    },

    importState(state) {
      const data = state as OpenClawStateData;
      pairingsByApp.clear();
      for (const [appName, { pending, paired }] of data.pairings) {
        pairingsByApp.set(appName, {
          pending: new Map(pending.map((request) => [request.requestId, request])),
          paired: new Map(paired.map((device) => [device.deviceId, device])),
        });
      }
      seenApps.clear();
      for (const appName of data.seenApps) seenApps.add(appName);
    },

    requestPairing(appName, request = {}) {
      if (!options.getApp(appName)) throw new Error(`no such app: ${appName}`);
      seenApps.add(appName);
      const state = pairingsOf(appName);
      const publicKey = randomBytes(32).toString('base64url');
      const deviceId = request.deviceId ?? createHash('sha256').update(publicKey).digest('hex');
      for (const [id, existing] of state.pending) {
        if (existing.deviceId === deviceId) state.pending.delete(id);
      }
      const role = request.role ?? 'operator';
      const pending: PendingPairingRequest = {
        requestId: randomUUID(),
        deviceId,
        publicKey,
        displayName: request.displayName ?? 'Browser',
        platform: request.platform ?? 'web',
        clientId: request.clientId ?? 'openclaw-control-ui',
        role,
        roles: [role],
        scopes: request.scopes ?? ['operator.read', 'operator.write'],
        ...(request.remoteIp !== undefined ? { remoteIp: request.remoteIp } : {}),
        isRepair: state.paired.has(deviceId),
        ts: clock.now(),
      };
      state.pending.set(pending.requestId, pending);
      return structuredClone(pending);
    },

    pairings: listPairings,
    readiness,
  };
}
