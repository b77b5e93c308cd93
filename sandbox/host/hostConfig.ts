import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The parts of host.json the local host honours, with the Functions host's defaults. */
export interface HostJsonSettings {
  routePrefix: string;
  queues: {
    batchSize: number;
    newBatchThreshold: number;
    maxPollingIntervalMs: number;
    visibilityTimeoutMs: number;
    maxDequeueCount: number;
    messageEncoding: 'base64' | 'none';
  };
  durableTask: {
    hubName: string | undefined;
    maxConcurrentActivityFunctions: number;
    maxConcurrentOrchestratorFunctions: number;
    /**
     * Which existing instances a start with the same instance id replaces. The extension's default
     * is NonRunningStates (DurableTaskOptions.OverridableExistingInstanceStates in
     * azure-functions-durable-extension); AnyState would replace a running instance, which the slug
     * runner's "start if not running" must never do. host.json pins it, so no extension version's
     * default matters, and the local host implements only NonRunningStates: it refuses AnyState
     * rather than hide the difference.
     */
    overridableExistingInstanceStates: 'NonRunningStates';
  };
  raw: Record<string, unknown>;
}

/** Reads host.json from a path, takes an object as is, or reads `<cwd>/host.json` when omitted. */
export function loadHostJson(source: string | object | undefined): HostJsonSettings {
  let raw: Record<string, unknown>;
  if (source === undefined) {
    raw = readJson(resolve(process.cwd(), 'host.json'));
  } else if (typeof source === 'string') {
    raw = readJson(source);
  } else {
    raw = source as Record<string, unknown>;
  }
  const extensions = record(raw['extensions']);
  const http = record(extensions['http']);
  const queues = record(extensions['queues']);
  const durable = record(extensions['durableTask']);
  const batchSize = numberOr(queues['batchSize'], 16);
  return {
    routePrefix: trimSlashes(typeof http['routePrefix'] === 'string' ? http['routePrefix'] : 'api'),
    queues: {
      batchSize,
      newBatchThreshold: numberOr(queues['newBatchThreshold'], Math.floor(batchSize / 2)),
      maxPollingIntervalMs: durationOr(queues['maxPollingInterval'], 60_000),
      visibilityTimeoutMs: durationOr(queues['visibilityTimeout'], 0),
      maxDequeueCount: numberOr(queues['maxDequeueCount'], 5),
      messageEncoding: queues['messageEncoding'] === 'none' ? 'none' : 'base64',
    },
    durableTask: {
      hubName: typeof durable['hubName'] === 'string' ? durable['hubName'] : undefined,
      maxConcurrentActivityFunctions: numberOr(durable['maxConcurrentActivityFunctions'], 10),
      maxConcurrentOrchestratorFunctions: numberOr(durable['maxConcurrentOrchestratorFunctions'], 10),
      overridableExistingInstanceStates: overridableStates(durable['overridableExistingInstanceStates']),
    },
    raw,
  };
}

function overridableStates(value: unknown): 'NonRunningStates' {
  if (value === undefined || value === 'NonRunningStates') return 'NonRunningStates';
  throw new Error(
    `host.json durableTask.overridableExistingInstanceStates ${JSON.stringify(value)} is not supported by the local host (only NonRunningStates)`,
  );
}

/**
 * Resolves `%NAME%` tokens against app settings (process.env), as the Functions host does for binding
 * properties. A missing setting is an error naming it, never an empty string.
 */
export function resolveSettingTokens(value: string, where: string): string {
  return value.replace(/%([^%]+)%/g, (_match, name: string) => {
    const resolved = process.env[name];
    if (resolved === undefined) {
      throw new Error(`App setting "${name}" referenced by ${where} is not set.`);
    }
    return resolved;
  });
}

/**
 * Parses .NET TimeSpan strings ("00:00:30", "1.02:03:04", "00:00:00.500") and ISO-8601 durations
 * ("PT30S") to milliseconds.
 */
export function parseTimeSpan(value: string): number {
  const span = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (span) {
    const [, negative, days, hours, minutes, seconds, fraction] = span;
    const ms =
      ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 +
      Number(seconds) * 1000 +
      (fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0);
    return negative ? -ms : ms;
  }
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value.trim());
  if (iso && value.trim() !== 'P' && value.trim() !== 'PT') {
    const [, days, hours, minutes, seconds] = iso;
    return (
      ((Number(days ?? 0) * 24 + Number(hours ?? 0)) * 60 + Number(minutes ?? 0)) * 60_000 +
      Math.round(Number(seconds ?? 0) * 1000)
    );
  }
  throw new Error(`"${value}" is not a TimeSpan (d.hh:mm:ss) or ISO-8601 duration.`);
}

/** Formats milliseconds as a .NET TimeSpan string ("d.hh:mm:ss"). */
export function formatTimeSpan(ms: number): string {
  const totalSeconds = Math.floor(ms / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  return days > 0 ? `${days}.${time}` : time;
}

function readJson(path: string): Record<string, unknown> {
  return record(JSON.parse(readFileSync(path, 'utf8')) as unknown);
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function durationOr(value: unknown, fallback: number): number {
  return typeof value === 'string' ? parseTimeSpan(value) : fallback;
}

function trimSlashes(value: string): string {
  return value.replace(/^\/+|\/+$/g, '');
}
