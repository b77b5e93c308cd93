import type { BrokerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { LIFECYCLE_REQUEST_SCHEMA_VERSION } from '../requests/lifecycleRequest.js';
import { validateLifecycleRequest } from '../requests/parseLifecycleRequest.js';
import { rotationPolicy } from '../maintenance/rotationPolicy.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../storage/environmentRegistry.js';
import type { RequestStore } from '../storage/requestStore.js';
import type { SweepControl } from './sweepControl.js';
import { statusOf } from '../azure/azureErrors.js';
import {
  paceRequests,
  planRotationSweep,
  planSasSweep,
  type PlannedRequest,
  type SweepKind,
} from './sweepPlanner.js';

/** The one queue operation a sweep needs (a QueueClient has it). */
export interface QueueSender {
  sendMessage(text: string, options?: { visibilityTimeout?: number }): Promise<unknown>;
}

export interface SweepDependencies {
  config: BrokerConfig;
  registry: EnvironmentRegistry;
  requests: RequestStore;
  control: SweepControl;
  queue(): Promise<QueueSender>;
  log: Logger;
  /** Waits that long (Retry-After); a test can pass one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
  /** A monotonic clock in milliseconds (performance.now by default), for the pacing delays. */
  monotonicNow?: () => number;
}

export interface SweepReport {
  kind: SweepKind;
  at: string;
  /** Why nothing was enqueued, when the sweeps are paused. */
  paused?: string | undefined;
  /** Requests put on the queue by this run, with the delay before each becomes visible. */
  enqueued: { requestId: string; delaySeconds: number }[];
  /** Due requests an earlier run already enqueued (same deterministic id). */
  known: string[];
  /** Slugs left out and why. */
  left: { slug: string; reason: string }[];
  /** Planned requests the queue or the request store refused. */
  failed: { requestId: string; reason: string }[];
}

const ENQUEUE_ATTEMPTS = 5;

/**
 * Runs one sweep: reads the registry, plans what is due (shared/sweeps/sweepPlanner.ts), and
 * enqueues each due request once under its deterministic id; it does not do the work. Each request
 * is first recorded (the request store's key is its id), so an overlapping or repeated sweep finds
 * it and enqueues nothing; the intake would drop a duplicate message anyway. Requests are paced
 * by queue visibility so the fleet's ARM writes stay within the configured budget, enqueued with
 * bounded concurrency, and a throttled queue write waits its Retry-After. A global pause
 * (SWEEPS_PAUSED or the stored switch) makes the run enqueue nothing.
 */
export async function runSweep(kind: SweepKind, now: Date, deps: SweepDependencies): Promise<SweepReport> {
  const report: SweepReport = { kind, at: now.toISOString(), enqueued: [], known: [], left: [], failed: [] };
  const { config } = deps;
  if (config.sweepsPaused) {
    report.paused = 'SWEEPS_PAUSED is set in configuration';
    return report;
  }
  const pause = await deps.control.get();
  if (pause?.paused) {
    report.paused = `paused by ${pause.by} at ${pause.at}${pause.reason ? `: ${pause.reason}` : ''}`;
    return report;
  }
  const records = await deps.registry.list();
  if (kind === 'sas') logFleet(records, now, deps.log);
  const plan =
    kind === 'rotation'
      ? planRotationSweep(records, now, rotationPolicy(config))
      : planSasSweep(records, now, config.sas.lifetimeMs);
  report.left = plan.left;
  const paced = paceRequests(plan.due, {
    writesPerSecond: config.sweeps.armWritesPerSecond,
    burst: config.sweeps.armWriteBurst,
  });
  const queue = await deps.queue();
  const clock = deps.monotonicNow ?? (() => performance.now());
  const enqueueStarted = clock();
  await forEachBounded(paced, config.sweeps.enqueueConcurrency, async ({ request, delayMs }) => {
    try {
      // Delays count from the start of enqueueing: a slow enqueue must not push the whole pace back.
      const remaining = Math.max(0, delayMs - (clock() - enqueueStarted));
      const outcome = await enqueueOnce(kind, request, remaining, now, queue, deps);
      if (outcome === 'known') report.known.push(request.requestId);
      else report.enqueued.push({ requestId: request.requestId, delaySeconds: Math.ceil(delayMs / 1000) });
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      report.failed.push({ requestId: request.requestId, reason });
      deps.log.warn('sweep could not enqueue', { kind, requestId: request.requestId, reason });
    }
  });
  deps.log.info('sweep done', {
    kind,
    at: report.at,
    enqueued: report.enqueued.length,
    known: report.known.length,
    left: report.left.length,
    failed: report.failed.length,
  });
  return report;
}

async function enqueueOnce(
  kind: SweepKind,
  planned: PlannedRequest,
  delayMs: number,
  now: Date,
  queue: QueueSender,
  deps: SweepDependencies,
): Promise<'enqueued' | 'known'> {
  const parsed = validateLifecycleRequest({
    schemaVersion: LIFECYCLE_REQUEST_SCHEMA_VERSION,
    requestId: planned.requestId,
    op: planned.op,
    slug: planned.slug,
    params: {},
    requestedBy: { kind: 'timer', id: `${kind}-sweep` },
    requestedAt: now.toISOString(),
  });
  if (!parsed.ok) throw new Error(`${parsed.code}: ${parsed.reason}`);
  const recorded = await deps.requests.record(parsed.request, now.toISOString(), { origin: 'broker' });
  if (recorded.kind === 'conflict') {
    throw new Error(
      `requestId ${planned.requestId} is already used for ${recorded.record.op} ${recorded.record.slug}`,
    );
  }
  if (recorded.record.admitted || recorded.record.enqueued) return 'known';
  const visibilityTimeout = Math.ceil(delayMs / 1000);
  await withRetryAfter(
    () =>
      queue.sendMessage(JSON.stringify(parsed.request), visibilityTimeout > 0 ? { visibilityTimeout } : {}),
    deps.sleep ?? defaultSleep,
  );
  await deps.requests.update(planned.requestId, { enqueued: true });
  return 'enqueued';
}

/**
 * Runs `send`, and when Storage answers 429 or 503 waits what its Retry-After says (or a growing
 * back-off without one) and tries again, up to ENQUEUE_ATTEMPTS times.
 */
export async function withRetryAfter<T>(
  send: () => Promise<T>,
  sleep: (ms: number) => Promise<void>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const status = statusOf(error);
      if ((status !== 429 && status !== 503) || attempt >= ENQUEUE_ATTEMPTS) throw error;
      await sleep(retryAfterMs(error) ?? 500 * 2 ** attempt);
    }
  }
}

function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?(name: string): string | undefined } } }).response
    ?.headers;
  const value = headers?.get?.('retry-after');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work` over `items`, at most `limit` at a time, in order of start. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(workers);
}

/**
 * One event per live environment, hourly with the SAS sweep: the fleet as Application Insights
 * sees it (infra/monitoring: the workbook's fleet table, the SAS-expiry alert). Values only, never
 * secrets: state, version, when the SAS expires and how old the oldest secret is.
 */
function logFleet(records: readonly EnvironmentRecord[], now: Date, log: Logger): void {
  for (const record of records) {
    if (record.state === 'deleted') continue;
    const ages = Object.values(record.secretAges)
      .map((at) => Date.parse(at))
      .filter(Number.isFinite);
    log.info('environment snapshot', {
      slug: record.slug,
      state: record.state,
      openclawVersion: record.openclawVersion,
      sasExpiresAt: record.sasExpiresAt,
      sasHoursLeft:
        record.sasExpiresAt === undefined
          ? undefined
          : Math.floor((Date.parse(record.sasExpiresAt) - now.getTime()) / 3_600_000),
      oldestSecretDays:
        ages.length === 0 ? undefined : Math.floor((now.getTime() - Math.min(...ages)) / 86_400_000),
      lastOutcome: record.lastOperation?.outcome,
    });
  }
}
