import {
  compareCalendarVersions,
  isCalendarVersion,
  parseOpenClawVersion,
} from '../domain/openclawVersion.js';
import { SUPPORTED_OPENCLAW_VERSIONS } from '../openclaw/versions.js';
import type { NpmPublishTimes } from '../registries/npmRegistry.js';

/**
 * Which OpenClaw versions a slug may be upgraded to (issue 14, "Which versions are eligible").
 *
 * A version is eligible for a slug when all of these hold:
 * - it is a final release (`YYYY.M.PATCH` or a `-N` correction, never `-beta.N`/`-alpha.N`;
 *   OpenClaw's docs/reference/RELEASING.md, "Version naming") in the broker's support table;
 * - it is at least `minReleaseAgeMs` old, measured from npm's publish time `time[version]` in the
 *   full packument (npm/registry docs/responses/package-metadata.md). npm is the clock because
 *   "regular final releases publish the npm package first" and the Docker images after
 *   (RELEASING.md), so no image of the version exists before that time. A missing, unparsable or
 *   implausible time (later than now plus a clock skew, or before the version's own month
 *   YYYY.M) makes it ineligible: it cannot be aged;
 * - it is not blocked by the operator, and it has not failed on that slug.
 *
 * Pure: the caller passes the clock, the publish times and the slug's history.
 */

export type IneligibleReason =
  | 'not-a-version'
  | 'prerelease'
  | 'unsupported'
  | 'blocked'
  | 'failed-on-slug'
  | 'not-published'
  | 'publish-time-missing'
  | 'publish-time-unparsable'
  | 'publish-time-in-future'
  | 'publish-time-before-release-month'
  | 'too-young';

export type VersionVerdict =
  | {
      readonly version: string;
      readonly eligible: true;
      /** npm's publish time, ISO 8601. */
      readonly publishedAt: string;
      readonly ageMs: number;
    }
  | {
      readonly version: string;
      readonly eligible: false;
      readonly reason: IneligibleReason;
      /** One line for an operator: what was found. */
      readonly detail: string;
      /** Set when the publish time was readable. */
      readonly publishedAt?: string;
      /** When a too-young version becomes old enough, ISO 8601. */
      readonly eligibleFrom?: string;
    };

export interface EligibilityPolicy {
  /** The minimum time between npm's publish time and now. */
  readonly minReleaseAgeMs: number;
  /** How far in the future a publish time may lie before it is implausible; default 5 minutes. */
  readonly maxClockSkewMs?: number;
  /** Versions the operator blocked. */
  readonly blocked?: readonly string[];
  /** The support table's versions; default the broker's own (shared/openclaw/versions.ts). */
  readonly supported?: readonly string[];
}

export interface EligibilityInput {
  /** Now, in epoch milliseconds (the caller's clock; an orchestration's replay-safe time). */
  readonly now: number;
  /** The full packument's versions and publish times. */
  readonly published: NpmPublishTimes;
  readonly policy: EligibilityPolicy;
  /** Versions that failed on this slug (a rolled-back upgrade). */
  readonly failedOnSlug?: readonly string[];
}

export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** npm's times are ISO 8601 UTC (`2021-11-23T19:12:24.006Z`); anything else is unparsable here. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

function no(
  version: string,
  reason: IneligibleReason,
  detail: string,
  extra: { publishedAt?: string; eligibleFrom?: string } = {},
): VersionVerdict {
  return { version, eligible: false, reason, detail, ...extra };
}

/** The verdict on one version for one slug. */
export function judgeVersion(version: string, input: EligibilityInput): VersionVerdict {
  const parsed = parseOpenClawVersion(version);
  if (!parsed) return no(version, 'not-a-version', `${version} is not an OpenClaw version`);
  if (parsed.prerelease) {
    return no(version, 'prerelease', `${version} is a ${parsed.prerelease.channel} pre-release`);
  }
  const supported = input.policy.supported ?? SUPPORTED_OPENCLAW_VERSIONS;
  if (!supported.includes(version)) {
    return no(version, 'unsupported', `${version} is not in the broker's support table`);
  }
  if (input.policy.blocked?.includes(version)) return no(version, 'blocked', `${version} is blocked`);
  if (input.failedOnSlug?.includes(version)) {
    return no(version, 'failed-on-slug', `${version} already failed on this slug`);
  }
  if (!input.published.versions.includes(version)) {
    return no(version, 'not-published', `npm lists no ${version}`);
  }
  const raw = input.published.time[version];
  if (raw === undefined) return no(version, 'publish-time-missing', `npm has no publish time for ${version}`);
  const publishedMs = ISO_UTC.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(publishedMs)) {
    return no(version, 'publish-time-unparsable', `npm's publish time for ${version} is not a time`);
  }
  const publishedAt = new Date(publishedMs).toISOString();
  const skew = input.policy.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (publishedMs > input.now + skew) {
    return no(version, 'publish-time-in-future', `npm's publish time for ${version} is in the future`, {
      publishedAt,
    });
  }
  // A YYYY.M release cannot be published before its own month began. The month may be named in the
  // releaser's local time (up to UTC+14), so a time up to 14 hours before the 1st (UTC) still passes.
  const monthStart = Date.UTC(parsed.year, parsed.month - 1, 1) - 14 * 3_600_000;
  if (publishedMs < monthStart) {
    return no(
      version,
      'publish-time-before-release-month',
      `npm's publish time for ${version} is before ${parsed.year}.${parsed.month}`,
      { publishedAt },
    );
  }
  const ageMs = input.now - publishedMs;
  if (ageMs < input.policy.minReleaseAgeMs) {
    return no(version, 'too-young', `${version} is younger than the minimum release age`, {
      publishedAt,
      eligibleFrom: new Date(publishedMs + input.policy.minReleaseAgeMs).toISOString(),
    });
  }
  return { version, eligible: true, publishedAt, ageMs };
}

/**
 * The verdicts on every version npm lists and every version of the support table, oldest first
 * (versions that are not OpenClaw versions last).
 */
export function judgeVersions(input: EligibilityInput): VersionVerdict[] {
  const supported = input.policy.supported ?? SUPPORTED_OPENCLAW_VERSIONS;
  const candidates = [...new Set([...input.published.versions, ...supported])];
  const versions = candidates.filter(isCalendarVersion).sort(compareCalendarVersions);
  const others = candidates.filter((candidate) => !isCalendarVersion(candidate));
  return [...versions, ...others].map((version) => judgeVersion(version, input));
}

/** The newest eligible version newer than `current`, or undefined when there is none. */
export function newestEligibleAbove(
  current: string,
  verdicts: readonly VersionVerdict[],
): string | undefined {
  if (!isCalendarVersion(current)) throw new Error(`not an OpenClaw version: ${current}`);
  return verdicts
    .filter((verdict) => verdict.eligible && compareCalendarVersions(verdict.version, current) > 0)
    .map((verdict) => verdict.version)
    .sort(compareCalendarVersions)
    .at(-1);
}
