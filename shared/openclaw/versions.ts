import { BrokerError, ErrorCodes } from '../errors.js';
import { compareCalendarVersions } from '../domain/openclawVersion.js';

/**
 * What the broker knows about each OpenClaw version it can render config for.
 *
 * OpenClaw validates `openclaw.json` with a strict zod schema (`OpenClawSchema` in
 * src/config/zod-schema.ts): an unknown or retired key stops the gateway. So the broker renders for
 * one pinned version and looks that version up here; a version that is not in the table is refused,
 * never rendered with a neighbour's keys.
 *
 * Provenance: the key lists are OpenClaw's real schema at openclaw/openclaw@000ca690f1 (the commit
 * the sandbox stand-in copied from). At that commit the real schema knows `web`, `crestodian`,
 * `surfaces` and `proxy` all at once and `gateway.channelMaxRestartsPerHour`; the split between
 * the versions below follows the stand-in's table (sandbox/sim/openclaw-schema.ts), whose
 * per-version differences are invented for upgrade tests. The keys the broker itself renders exist
 * in every version below and in the real schema.
 */

/** Config keys one version accepts, for the sections the broker renders and audits. */
export interface OpenClawConfigKeys {
  readonly topLevel: readonly string[];
  readonly gateway: readonly string[];
  readonly controlUi: readonly string[];
  readonly auth: readonly string[];
  readonly rateLimit: readonly string[];
}

export interface OpenClawVersionSupport {
  readonly version: string;
  readonly configKeys: OpenClawConfigKeys;
  /** The one port OpenClaw serves HTTP and WebSocket on (control UI, API, probes). */
  readonly gatewayPort: number;
  /**
   * Unauthenticated probe paths. The control UI answers 200 on unknown paths, so a probe on a path
   * the version lacks would always pass: these are pinned per version, never guessed.
   */
  readonly probes: { readonly liveness: string; readonly readiness: string };
  /** OpenClaw's state dir in the image (`OPENCLAW_STATE_DIR`); the Azure Files share mounts here. */
  readonly stateDir: string;
  /**
   * Whether the bundled `admin-http-rpc` plugin (off by default; `POST /api/v1/admin/rpc` on the
   * gateway port) can be enabled, so the broker can call `device.pair.*` over HTTP.
   */
  readonly adminRpcPlugin: boolean;
  /** Telegram webhook mode: OpenClaw's own local listener (defaults of `channels.telegram.webhook*`). */
  readonly telegramWebhook: { readonly path: string; readonly port: number };
  /** The Microsoft Teams channel's local Bot Framework listener (`channels.msteams.webhook`). */
  readonly teamsWebhook: { readonly path: string; readonly port: number };
}

const TOP_LEVEL_BASE = [
  '$schema',
  'meta',
  'env',
  'wizard',
  'diagnostics',
  'logging',
  'cli',
  'update',
  'browser',
  'ui',
  'secrets',
  'auth',
  'acp',
  'models',
  'nodeHost',
  'agents',
  'tools',
  'bindings',
  'broadcast',
  'audio',
  'media',
  'messages',
  'commands',
  'approvals',
  'session',
  'cron',
  'hooks',
  'channels',
  'discovery',
  'canvasHost',
  'talk',
  'gateway',
  'memory',
  'mcp',
  'skills',
  'plugins',
] as const;

const GATEWAY_BASE = [
  'port',
  'mode',
  'bind',
  'customBindHost',
  'controlUi',
  'auth',
  'trustedProxies',
  'allowRealIpFallback',
  'tools',
  'webchat',
  'channelHealthCheckMinutes',
  'channelStaleEventThresholdMinutes',
  'tailscale',
  'remote',
  'reload',
  'tls',
  'http',
  'push',
  'nodes',
] as const;

const CONTROL_UI = [
  'enabled',
  'basePath',
  'root',
  'embedSandbox',
  'allowExternalEmbedUrls',
  'allowedOrigins',
  'dangerouslyAllowHostHeaderOriginFallback',
  'allowInsecureAuth',
  'dangerouslyDisableDeviceAuth',
] as const;

const AUTH = ['mode', 'token', 'password', 'allowTailscale', 'rateLimit', 'trustedProxy'] as const;
const RATE_LIMIT = ['maxAttempts', 'windowMs', 'lockoutMs', 'exemptLoopback'] as const;

const COMMON = {
  gatewayPort: 18789,
  probes: { liveness: '/healthz', readiness: '/readyz' },
  stateDir: '/home/node/.openclaw',
  telegramWebhook: { path: '/telegram-webhook', port: 8787 },
  teamsWebhook: { path: '/api/messages', port: 3978 },
} as const;

function keys(topLevelExtra: readonly string[], gatewayExtra: readonly string[]): OpenClawConfigKeys {
  return Object.freeze({
    topLevel: Object.freeze([...TOP_LEVEL_BASE, ...topLevelExtra]),
    gateway: Object.freeze([...GATEWAY_BASE, ...gatewayExtra]),
    controlUi: CONTROL_UI,
    auth: AUTH,
    rateLimit: RATE_LIMIT,
  });
}

const TABLE: readonly OpenClawVersionSupport[] = [
  // Knows `web` (WhatsApp Web provider settings); lacks `crestodian` and channelMaxRestartsPerHour.
  // The admin RPC plugin is treated as absent here (the broker falls back to the WebSocket RPC).
  { version: '2026.9.6', configKeys: keys(['web'], []), adminRpcPlugin: false, ...COMMON },
  {
    version: '2026.10.20',
    configKeys: keys(['crestodian'], ['channelMaxRestartsPerHour']),
    adminRpcPlugin: true,
    ...COMMON,
  },
  {
    version: '2026.11.17',
    configKeys: keys(['crestodian', 'surfaces', 'proxy'], ['channelMaxRestartsPerHour']),
    adminRpcPlugin: true,
    ...COMMON,
  },
].map((entry) => Object.freeze(entry));

/** The versions the broker can render for, oldest first. */
export const SUPPORTED_OPENCLAW_VERSIONS: readonly string[] = Object.freeze(
  TABLE.map((entry) => entry.version).sort(compareCalendarVersions),
);

export function isSupportedOpenClawVersion(version: string): boolean {
  return TABLE.some((entry) => entry.version === version);
}

/**
 * The support entry for exactly `version`. Throws a BrokerError (`BadRequest`) naming the
 * supported versions when the version is not in the table: a patch release may add or retire keys,
 * so no neighbouring entry is ever substituted.
 */
export function openClawVersionSupport(version: string): OpenClawVersionSupport {
  const entry = TABLE.find((candidate) => candidate.version === version);
  if (!entry) {
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `OpenClaw ${version} is not supported by this broker; supported: ${SUPPORTED_OPENCLAW_VERSIONS.join(', ')}`,
      { details: { version, supported: SUPPORTED_OPENCLAW_VERSIONS } },
    );
  }
  return entry;
}
