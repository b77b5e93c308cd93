import type { LifecycleOp } from '../requests/lifecycleRequest.js';
import type { RotationPolicy } from '../maintenance/rotationPolicy.js';
import { dueSecrets } from '../maintenance/rotationPolicy.js';
import type { EnvironmentRecord } from '../storage/environmentRegistry.js';
import { BrokerRequestIdPrefix } from '../requests/brokerRequestIds.js';

/**
 * What the timer sweeps decide, as pure functions of the registry and the time: which requests are
 * due, under which deterministic request id, and when each may run so the fleet stays under ARM's
 * write throttle. functions/sweeps.ts runs them and enqueues.
 */

export type SweepKind = 'rotation' | 'sas';

/** A request a sweep will enqueue. */
export interface PlannedRequest {
  requestId: string;
  op: Extract<LifecycleOp, 'rotate-secrets' | 'renew-sas'>;
  slug: string;
  /** What is due and why, for the sweep's report. */
  reason: string;
  /** ARM writes the request is expected to make (for pacing). */
  armWrites: number;
}

export interface SweepPlan {
  due: PlannedRequest[];
  /** Slugs left out and why (not ready, opted out, nothing due). */
  left: { slug: string; reason: string }[];
}

/**
 * ARM writes each piece of maintenance makes (POSTs such as listKeys and restart count as writes):
 * the gateway token and the Entra secret re-set the app's references and restart it (2); the
 * storage key lists keys three times, re-registers the share, restarts and regenerates (6); a SAS
 * renewal re-sets the app's references (1) and, the first time, grants the broker two roles (3).
 */
export const ARM_WRITES = {
  'gateway-token': 2,
  'storage-key': 6,
  'entra-client-secret': 3,
  'telegram-bot-token': 0,
  sasRenewal: 1,
  firstSas: 3,
} as const;

/** `rotate:<slug>:<yyyy-mm-dd>`: one rotation request per slug and UTC day, whatever the sweeps do. */
export function rotationRequestId(slug: string, now: Date): string {
  return `${BrokerRequestIdPrefix.rotation}${slug}:${now.toISOString().slice(0, 10)}`;
}

/**
 * `sas:<slug>:<incarnation>:<expiry>:<attempt>`: one renewal request per SAS (named by its expiry,
 * `none` before the first) and attempt (failures so far), so a repeated sweep adds nothing and a
 * failed renewal gets a fresh id for its next attempt.
 */
export function sasRequestId(record: EnvironmentRecord): string {
  const expiry = record.sasExpiresAt ? compactTime(record.sasExpiresAt) : 'none';
  const attempt = record.maintenance?.sasRenewal?.failures ?? 0;
  return `${BrokerRequestIdPrefix.sasRenewal}${record.slug}:${record.incarnation}:${expiry}:${attempt}`;
}

function compactTime(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function leftOut(record: EnvironmentRecord): string | undefined {
  if (record.state !== 'ready') return `environment is ${record.state}`;
  if (record.maintenance?.optOut) return `opted out of sweeps at ${record.maintenance.optOut.at}`;
  return undefined;
}

/** Rotation: every ready, opted-in slug with a secret due by policy (secret ages in the registry). */
export function planRotationSweep(
  records: EnvironmentRecord[],
  now: Date,
  policy: RotationPolicy,
): SweepPlan {
  const plan: SweepPlan = { due: [], left: [] };
  for (const record of records) {
    const reason = leftOut(record);
    if (reason) {
      plan.left.push({ slug: record.slug, reason });
      continue;
    }
    const due = dueSecrets(record, now, policy);
    if (due.length === 0) {
      plan.left.push({ slug: record.slug, reason: 'nothing due' });
      continue;
    }
    plan.due.push({
      requestId: rotationRequestId(record.slug, now),
      op: 'rotate-secrets',
      slug: record.slug,
      reason: due.map((item) => `${item.kind} since ${item.since}`).join(', '),
      armWrites: due.reduce((sum, item) => sum + ARM_WRITES[item.kind], 0),
    });
  }
  return plan;
}

/**
 * SAS renewal: every ready, opted-in slug without a SAS, whose SAS reached its renewal time (or
 * expired), unless a failed renewal's back-off has not passed yet.
 */
export function planSasSweep(records: EnvironmentRecord[], now: Date, lifetimeMs: number): SweepPlan {
  const plan: SweepPlan = { due: [], left: [] };
  const at = now.getTime();
  for (const record of records) {
    const reason = leftOut(record);
    if (reason) {
      plan.left.push({ slug: record.slug, reason });
      continue;
    }
    const retryAt = record.maintenance?.sasRenewal?.retryAt;
    if (retryAt && Date.parse(retryAt) > at) {
      plan.left.push({ slug: record.slug, reason: `a failed renewal is retried after ${retryAt}` });
      continue;
    }
    const expires = record.sasExpiresAt ? Date.parse(record.sasExpiresAt) : undefined;
    const renewAt = record.maintenance?.sasRenewAt
      ? Date.parse(record.maintenance.sasRenewAt)
      : expires !== undefined
        ? expires - lifetimeMs / 3
        : undefined;
    if (renewAt !== undefined && at < renewAt) {
      plan.left.push({ slug: record.slug, reason: 'not due' });
      continue;
    }
    plan.due.push({
      requestId: sasRequestId(record),
      op: 'renew-sas',
      slug: record.slug,
      reason: expires === undefined ? 'no SAS yet' : `due at ${new Date(renewAt!).toISOString()}`,
      armWrites: expires === undefined ? ARM_WRITES.firstSas : ARM_WRITES.sasRenewal,
    });
  }
  return plan;
}

/** How fast the sweeps let the fleet write to ARM: a token bucket under ARM's own. */
export interface ArmWriteBudget {
  writesPerSecond: number;
  burst: number;
}

/**
 * When each request may run, so that the fleet's ARM writes never outrun the budget's bucket: the
 * first requests run at once on the burst, the rest at the refill rate, in order. Request i may
 * run once the bucket has refilled what the requests before it (and itself) take beyond the
 * burst. Returns delays in milliseconds from now, non-decreasing.
 */
export function paceRequests<T extends { armWrites: number }>(
  requests: readonly T[],
  budget: ArmWriteBudget,
): { request: T; delayMs: number }[] {
  let writes = 0;
  return requests.map((request) => {
    writes += request.armWrites;
    const over = writes - budget.burst;
    return { request, delayMs: over <= 0 ? 0 : Math.ceil((over / budget.writesPerSecond) * 1000) };
  });
}
