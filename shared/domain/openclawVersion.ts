/**
 * OpenClaw's release scheme, as the npm package `openclaw` publishes it (`npm view openclaw
 * versions`): `YEAR.MONTH.PATCH` without leading zeros, where PATCH is a running number within the
 * month, not a day (2026.7.33 exists); a correction of a release is `-N` (2026.7.1-1, 2026.7.1-2,
 * both newer than 2026.7.1); pre-releases are `-beta.N` and `-alpha.N` (2026.9.1-beta.1, older
 * than 2026.9.1).
 */
const OPENCLAW_VERSION =
  /^(20\d{2})\.([1-9]|1[0-2])\.(0|[1-9]\d{0,3})(?:-([1-9]\d{0,3})|-(alpha|beta)\.([1-9]\d{0,3}))?$/;

/** The JSON Schema pattern of OPENCLAW_VERSION, for published schemas. */
export const OPENCLAW_VERSION_PATTERN = OPENCLAW_VERSION.source;

export interface ParsedOpenClawVersion {
  readonly year: number;
  readonly month: number;
  readonly patch: number;
  /** The `-N` correction; 0 for the release itself. */
  readonly correction: number;
  readonly prerelease?: { readonly channel: 'alpha' | 'beta'; readonly number: number };
}

export function parseOpenClawVersion(value: string): ParsedOpenClawVersion | undefined {
  const match = OPENCLAW_VERSION.exec(value);
  if (!match) return undefined;
  const channel = match[5] as 'alpha' | 'beta' | undefined;
  return {
    year: Number(match[1]),
    month: Number(match[2]),
    patch: Number(match[3]),
    correction: match[4] === undefined ? 0 : Number(match[4]),
    ...(channel ? { prerelease: { channel, number: Number(match[6]) } } : {}),
  };
}

/** True for any OpenClaw version string: a release, a correction or a pre-release. */
export function isCalendarVersion(value: string): boolean {
  return OPENCLAW_VERSION.test(value);
}

/** True for a release or a correction, false for an alpha or beta. */
export function isStableOpenClawVersion(value: string): boolean {
  const parsed = parseOpenClawVersion(value);
  return parsed !== undefined && parsed.prerelease === undefined;
}

/**
 * Orders two OpenClaw versions; negative when a is older than b. Within one YEAR.MONTH.PATCH:
 * alpha < beta < the release < its -1 correction < -2. Throws on a string that is not a version.
 */
export function compareCalendarVersions(a: string, b: string): number {
  const pa = parseOpenClawVersion(a);
  const pb = parseOpenClawVersion(b);
  if (!pa || !pb) throw new Error(`not an OpenClaw version: ${!pa ? a : b}`);
  const rank = (v: ParsedOpenClawVersion) =>
    v.prerelease ? (v.prerelease.channel === 'alpha' ? -2 : -1) : 0;
  return (
    pa.year - pb.year ||
    pa.month - pb.month ||
    pa.patch - pb.patch ||
    rank(pa) - rank(pb) ||
    (pa.prerelease?.number ?? 0) - (pb.prerelease?.number ?? 0) ||
    pa.correction - pb.correction
  );
}
