import type { UpgradeRingPolicy } from '../config.js';
import { compareCalendarVersions, isCalendarVersion } from '../domain/openclawVersion.js';
import type { EnvironmentRecord } from '../storage/environmentRegistry.js';

/**
 * Which slugs a wave upgrades, in which ring (issue 14, "Fleet waves"). Pure: the caller passes
 * the registry's records and the policy.
 *
 * - The canary ring comes first: the slugs marked `upgrades.canary`, or, when none is marked, the
 *   first `canaryCount` slugs in slug order. Its failure budget is zero: one failure halts the wave.
 * - The other slugs, in slug order, fill the configured rings (UPGRADE_RINGS): a share of them
 *   (rounded up, at least one while any are left), a count, and the last ring takes the rest.
 * - Left out, each with its reason: slugs not `ready`, held, pinned to another version, on which
 *   the target version failed before, already on it or on a newer one. Deleted slugs are not listed.
 */

export interface WavePolicy {
  readonly canaryCount: number;
  readonly canaryMinAgeMs: number;
  readonly rings: readonly UpgradeRingPolicy[];
}

export interface PlannedRing {
  name: string;
  canary: boolean;
  slugs: string[];
  minAgeMs: number;
  bakeMs: number;
  failureBudget: number;
}

export interface WavePlan {
  rings: PlannedRing[];
  skipped: { slug: string; reason: string }[];
}

/** Why `record` stays out of a wave to `targetVersion`, or undefined when it takes part. */
export function skipReason(record: EnvironmentRecord, targetVersion: string): string | undefined {
  if (record.state !== 'ready') return `not ready (${record.state})`;
  const upgrades = record.upgrades;
  if (upgrades?.hold) {
    return `held by ${upgrades.hold.by} at ${upgrades.hold.at}${upgrades.hold.reason ? `: ${upgrades.hold.reason}` : ''}`;
  }
  if (upgrades?.pinned && upgrades.pinned.version !== targetVersion) {
    return `pinned to ${upgrades.pinned.version} by ${upgrades.pinned.by}${upgrades.pinned.reason ? `: ${upgrades.pinned.reason}` : ''}`;
  }
  const failed = upgrades?.failed?.[targetVersion];
  if (failed) return `${targetVersion} failed on it before (${failed.requestId}: ${failed.reason})`;
  const version = upgrades?.current?.version ?? record.openclawVersion;
  if (!version || !isCalendarVersion(version)) return 'its version is unknown';
  const order = compareCalendarVersions(version, targetVersion);
  if (order === 0) return `already on ${targetVersion}`;
  if (order > 0) return `runs ${version}, newer than ${targetVersion}`;
  return undefined;
}

export function planWave(
  records: readonly EnvironmentRecord[],
  targetVersion: string,
  policy: WavePolicy,
): WavePlan {
  const skipped: WavePlan['skipped'] = [];
  const taking: EnvironmentRecord[] = [];
  for (const record of [...records].sort((a, b) => a.slug.localeCompare(b.slug))) {
    if (record.state === 'deleted') continue;
    const reason = skipReason(record, targetVersion);
    if (reason) skipped.push({ slug: record.slug, reason });
    else taking.push(record);
  }
  const marked = taking.filter((record) => record.upgrades?.canary === true).map((record) => record.slug);
  const canary =
    marked.length > 0 ? marked : taking.slice(0, policy.canaryCount).map((record) => record.slug);
  const inCanary = new Set(canary);
  const rest = taking.map((record) => record.slug).filter((slug) => !inCanary.has(slug));

  const rings: PlannedRing[] = [
    {
      name: 'canary',
      canary: true,
      slugs: canary,
      minAgeMs: policy.canaryMinAgeMs,
      bakeMs: 0,
      failureBudget: 0,
    },
  ];
  let next = 0;
  policy.rings.forEach((ring, index) => {
    const left = rest.length - next;
    const size =
      ring.size.kind === 'rest'
        ? left
        : ring.size.kind === 'count'
          ? Math.min(ring.size.count, left)
          : Math.min(left, Math.max(left > 0 ? 1 : 0, Math.ceil((rest.length * ring.size.percent) / 100)));
    const slugs = rest.slice(next, next + size);
    next += size;
    rings.push({
      name: `ring ${index + 1}`,
      canary: false,
      slugs,
      minAgeMs: ring.minAgeMs,
      bakeMs: ring.bakeMs,
      failureBudget:
        ring.failureBudget.kind === 'count'
          ? ring.failureBudget.count
          : Math.floor((slugs.length * ring.failureBudget.percent) / 100),
    });
  });
  return { rings, skipped };
}
