import { BrokerError, ErrorCodes } from '../errors.js';
import { compareCalendarVersions } from '../domain/openclawVersion.js';
import { GENERATED_OPENCLAW_RELEASES, type GeneratedOpenClawRelease } from './generated/openclawReleases.js';

/**
 * What the broker knows about each OpenClaw version it can render config for.
 *
 * OpenClaw validates `openclaw.json` with a strict schema: an unknown or retired key stops the
 * gateway. So the broker renders for one pinned version and looks that version up here; a version
 * that is not in the table is refused, never rendered with a neighbour's keys.
 *
 * Provenance: every entry is a real published release (sandbox/openclaw-real/pins.ts), and its
 * config keys, probe paths, port, Telegram webhook defaults and admin RPC route are generated from
 * the installed package (shared/openclaw/generated/openclawReleases.ts, `npm run
 * openclaw:generate`); the real-OpenClaw test tier regenerates them and fails on drift. What is
 * the broker's own choice (the image's state dir, the Teams listener it renders) is marked below.
 */

export interface OpenClawVersionSupport {
  readonly version: string;
  /** Dotted object path (`''` for the top level, `*` for a record's value) -> the keys it accepts. */
  readonly configKeys: Readonly<Record<string, readonly string[]>>;
  /** The one port OpenClaw serves HTTP and WebSocket on (control UI, API, probes). */
  readonly gatewayPort: number;
  /**
   * Unauthenticated probe paths from the version's own probe route table. The control UI answers
   * 200 on unknown paths, so a probe on a path the version lacks would always pass: these are
   * read from the package, never guessed. `startup` is undefined for a version without one.
   */
  readonly probes: { readonly startup?: string; readonly liveness: string; readonly readiness: string };
  /** OpenClaw's state dir in the image (`OPENCLAW_STATE_DIR`); the Azure Files share mounts here. */
  readonly stateDir: string;
  /**
   * Whether the bundled `admin-http-rpc` plugin (off by default) exists in this version, so the
   * broker can call `device.pair.*` over HTTP; `adminRpcPath` is the route it registers.
   */
  readonly adminRpcPlugin: boolean;
  readonly adminRpcPath?: string;
  /** Telegram webhook mode: OpenClaw's own local listener (defaults of `channels.telegram.webhook*`). */
  readonly telegramWebhook: { readonly path: string; readonly port: number };
  /** The Microsoft Teams channel's local Bot Framework listener (`channels.msteams.webhook`). */
  readonly teamsWebhook: { readonly path: string; readonly port: number };
  /**
   * The `@openclaw/msteams` version this release starts with (the real-OpenClaw tier runs it), or
   * undefined when no published plugin starts with it: Teams is refused on such a version.
   */
  readonly teamsPlugin?: string;
}

/**
 * The broker's choices, the same for every version: the official image runs as `node` with HOME
 * /home/node, and the broker renders the Teams listener explicitly on OpenClaw's documented default
 * (docs/channels/msteams/configuration.md in the package: port 3978; Bot Framework's /api/messages).
 */
const BROKER_CHOICES = {
  stateDir: '/home/node/.openclaw',
  teamsWebhook: { path: '/api/messages', port: 3978 },
} as const;

function supportOf(release: GeneratedOpenClawRelease): OpenClawVersionSupport {
  return Object.freeze({
    version: release.version,
    configKeys: release.configKeys,
    gatewayPort: release.gatewayPort,
    probes: Object.freeze({
      ...(release.probes.startup !== null ? { startup: release.probes.startup } : {}),
      liveness: release.probes.liveness,
      readiness: release.probes.readiness,
    }),
    adminRpcPlugin: release.adminRpc !== null,
    ...(release.adminRpc ? { adminRpcPath: release.adminRpc.path } : {}),
    telegramWebhook: release.telegramWebhook,
    ...(release.teamsPlugin ? { teamsPlugin: release.teamsPlugin.version } : {}),
    ...BROKER_CHOICES,
  });
}

const TABLE: readonly OpenClawVersionSupport[] = GENERATED_OPENCLAW_RELEASES.map(supportOf);

/** The versions the broker can render for, oldest first. */
export const SUPPORTED_OPENCLAW_VERSIONS: readonly string[] = Object.freeze(
  TABLE.map((entry) => entry.version).sort(compareCalendarVersions),
);

/** The newest supported version. */
export const LATEST_SUPPORTED_OPENCLAW_VERSION: string = SUPPORTED_OPENCLAW_VERSIONS.at(-1) ?? '';

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

/**
 * The keys a version (its `configKeys`) does not know in `config`, as dotted paths, for every object the
 * generated data covers (the objects the broker renders). Arrays of objects are checked item by item.
 */
export function unknownConfigKeys(
  config: unknown,
  configKeys: OpenClawVersionSupport['configKeys'],
): string[] {
  const unknown: string[] = [];
  for (const [objectPath, known] of Object.entries(configKeys)) {
    for (const { at, value } of objectsAt(config, objectPath)) {
      for (const key of Object.keys(value)) {
        if (!known.includes(key)) unknown.push(at ? `${at}.${key}` : key);
      }
    }
  }
  return [...new Set(unknown)].sort();
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function objectsAt(root: unknown, objectPath: string): Array<{ at: string; value: Json }> {
  let current: Array<{ at: string; value: unknown }> = [{ at: '', value: root }];
  for (const segment of objectPath === '' ? [] : objectPath.split('.')) {
    const next: Array<{ at: string; value: unknown }> = [];
    const join = (at: string, key: string) => (at ? `${at}.${key}` : key);
    for (const { at, value } of current) {
      if (!isObject(value)) continue;
      if (segment === '*') {
        for (const [key, item] of Object.entries(value)) next.push({ at: join(at, key), value: item });
      } else if (segment.endsWith('[]')) {
        const key = segment.slice(0, -2);
        const items = value[key];
        if (Array.isArray(items))
          items.forEach((item, i) => next.push({ at: `${join(at, key)}[${i}]`, value: item }));
      } else if (segment in value) {
        next.push({ at: join(at, segment), value: value[segment] });
      }
    }
    current = next;
  }
  return current.filter((entry): entry is { at: string; value: Json } => isObject(entry.value));
}
