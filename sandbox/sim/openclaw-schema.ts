import { compareCalendarVersions, isCalendarVersion } from '../../shared/domain/openclawVersion.js';
import { GENERATED_OPENCLAW_RELEASES } from '../../shared/openclaw/generated/openclawReleases.js';

/**
 * Which config keys each simulated OpenClaw version knows, and where its probes are. OpenClaw
 * validates `openclaw.json` with a strict schema, so an unknown or retired key stops the gateway;
 * the stand-in reproduces that for every object the broker renders.
 *
 * Provenance: derived, not copied. Everything here comes from the data generated from the real
 * releases (shared/openclaw/generated/openclawReleases.ts, `npm run openclaw:generate`), the same
 * data the broker renders from; test/openclaw-real/standInAgreement.test.ts drives this stand-in
 * and the real gateway with the same cases.
 */

export interface OpenClawConfigSchema {
  /** Dotted object path (`''` the top level, `*` a record's value, `x[]` items) -> its keys. */
  readonly configKeys: Readonly<Record<string, readonly string[]>>;
  readonly probes: { readonly startup: string | null; readonly liveness: string; readonly readiness: string };
  /** The admin RPC route of the bundled `admin-http-rpc` plugin; null when the version lacks it. */
  readonly adminRpcPath: string | null;
}

/** Known versions, oldest first. */
export const OPENCLAW_CONFIG_SCHEMAS: Readonly<Record<string, OpenClawConfigSchema>> = Object.fromEntries(
  [...GENERATED_OPENCLAW_RELEASES]
    .sort((a, b) => compareCalendarVersions(a.version, b.version))
    .map((release) => [
      release.version,
      {
        configKeys: release.configKeys,
        probes: release.probes,
        adminRpcPath: release.adminRpc?.path ?? null,
      },
    ]),
);

/** Orders OpenClaw versions (shared/domain/openclawVersion.ts); NaN when either is not one. */
export function compareCalendarVersions_(a: string, b: string): number {
  return isCalendarVersion(a) && isCalendarVersion(b) ? compareCalendarVersions(a, b) : Number.NaN;
}
export { compareCalendarVersions_ as compareCalendarVersions };

/**
 * The schema a version validates against: its own, or that of the newest known version before it
 * (the stand-in's assumption for a release the data does not cover). Undefined for a version older
 * than every known one or not an OpenClaw version.
 */
export function schemaFor(
  version: string,
  schemas: Readonly<Record<string, OpenClawConfigSchema>> = OPENCLAW_CONFIG_SCHEMAS,
): { schemaVersion: string; schema: OpenClawConfigSchema } | undefined {
  if (!isCalendarVersion(version)) return undefined;
  const candidates = Object.keys(schemas)
    .filter((known) => compareCalendarVersions(known, version) <= 0)
    .sort(compareCalendarVersions);
  const schemaVersion = candidates.at(-1);
  const schema = schemaVersion === undefined ? undefined : schemas[schemaVersion];
  return schemaVersion !== undefined && schema ? { schemaVersion, schema } : undefined;
}
