/**
 * Which config keys each simulated OpenClaw version knows. OpenClaw validates `openclaw.json` with a
 * strict zod schema, so an unknown or retired key stops the gateway; the simulator reproduces that
 * for the top level and the gateway sections the broker renders.
 *
 * Provenance: the key lists are copied from OpenClaw's real schema, `OpenClawSchema` in
 * src/config/zod-schema.ts of github.com/openclaw/openclaw (read at commit 000ca690f1). The
 * differences between the versions below are invented for the simulator (a key added in
 * 2026.10.20, one retired, more added in 2026.11.17), so that upgrade tests meet a real-shaped
 * schema change; they are not OpenClaw's release history.
 */

export interface OpenClawConfigSchema {
  readonly topLevel: readonly string[];
  readonly gateway: readonly string[];
  readonly controlUi: readonly string[];
  readonly auth: readonly string[];
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
];

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
];

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
];

const AUTH = ['mode', 'token', 'password', 'allowTailscale', 'rateLimit', 'trustedProxy'];

/** Known versions, oldest first. */
export const OPENCLAW_CONFIG_SCHEMAS: Readonly<Record<string, OpenClawConfigSchema>> = {
  // Has `web` (the WhatsApp Web provider settings); lacks `crestodian` and channelMaxRestartsPerHour.
  '2026.9.6': {
    topLevel: [...TOP_LEVEL_BASE, 'web'],
    gateway: GATEWAY_BASE,
    controlUi: CONTROL_UI,
    auth: AUTH,
  },
  // Adds `crestodian` and gateway.channelMaxRestartsPerHour; retires `web`.
  '2026.10.20': {
    topLevel: [...TOP_LEVEL_BASE, 'crestodian'],
    gateway: [...GATEWAY_BASE, 'channelMaxRestartsPerHour'],
    controlUi: CONTROL_UI,
    auth: AUTH,
  },
  // Adds `surfaces` and `proxy`.
  '2026.11.17': {
    topLevel: [...TOP_LEVEL_BASE, 'crestodian', 'surfaces', 'proxy'],
    gateway: [...GATEWAY_BASE, 'channelMaxRestartsPerHour'],
    controlUi: CONTROL_UI,
    auth: AUTH,
  },
};

/** Compares calendar versions such as 2026.9.6 and 2026.10.20 numerically; NaN when either is not one. */
export function compareCalendarVersions(a: string, b: string): number {
  const parse = (v: string) => (/^\d+(\.\d+){2}$/.test(v) ? v.split('.').map(Number) : undefined);
  const left = parse(a);
  const right = parse(b);
  if (!left || !right) return Number.NaN;
  for (let i = 0; i < 3; i += 1) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/**
 * The schema a version validates against: its own, or that of the newest known version before it
 * (a patch release keeps its schema). Undefined for a version older than every known one or not a
 * calendar version.
 */
export function schemaFor(
  version: string,
  schemas: Readonly<Record<string, OpenClawConfigSchema>> = OPENCLAW_CONFIG_SCHEMAS,
): { schemaVersion: string; schema: OpenClawConfigSchema } | undefined {
  const candidates = Object.keys(schemas)
    .filter((known) => compareCalendarVersions(known, version) <= 0)
    .sort(compareCalendarVersions);
  const schemaVersion = candidates.at(-1);
  const schema = schemaVersion === undefined ? undefined : schemas[schemaVersion];
  return schemaVersion !== undefined && schema ? { schemaVersion, schema } : undefined;
}
