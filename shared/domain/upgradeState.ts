/**
 * What the upgrade operation and the fleet waves keep on a slug's registry record, and the ids they
 * share (issue 14). No secret values: versions, digests, revision and secret names, times, reasons.
 */

/** One deployed OpenClaw release of a slug: what a rollback returns to. */
export interface DeployedRelease {
  version: string;
  /** `sha256:<64 hex>` of the image the revision runs, when known (apps provisioned by tag have none). */
  digest?: string | undefined;
  /** The container app revision that runs (or ran) it, `ca-<slug>--<suffix>`. */
  revision: string;
  /** The Container Apps secret that holds this version's rendered openclaw.json. */
  configSecret: string;
  /** When it was committed (or adopted from the live app). */
  at: string;
}

/** How the last upgrade of a slug ended. */
export type UpgradeOutcome = 'upgraded' | 'up-to-date' | 'rolled-back' | 'needs-repair' | 'refused';

/** An operator's control over one slug: who set it, when, why. */
export interface UpgradeControl {
  at: string;
  by: string;
  reason?: string | undefined;
}

export interface UpgradeState {
  /** What runs now, as the last upgrade committed it (or as it was adopted from the live app). */
  current?: DeployedRelease | undefined;
  /** What ran before `current`: kept so an operator can see what a rollback would return to. */
  previous?: DeployedRelease | undefined;
  /**
   * Versions that failed their gate on this slug and were rolled back: never tried again on it
   * by a wave or by drift repair (an explicit request may retry one).
   */
  failed?: Record<string, { at: string; requestId: string; reason: string }> | undefined;
  /** Waves skip the slug and explicit upgrade requests for it are refused while set. */
  hold?: UpgradeControl | undefined;
  /** The version the slug stays on: waves skip it, explicit requests for another version are refused. */
  pinned?: (UpgradeControl & { version: string }) | undefined;
  /** In the canary ring of every wave. */
  canary?: boolean | undefined;
  /** An upgrade that has stopped the running revision and not yet committed or rolled back. */
  inFlight?:
    | {
        requestId: string;
        targetVersion: string;
        /** The revision stopped for it (the one a rollback reactivates). */
        stoppedRevision: string;
        /** The share snapshot taken while stopped (`x-ms-snapshot` time), once taken. */
        snapshot?: string | undefined;
        at: string;
      }
    | undefined;
  /** How the last upgrade ended. */
  last?:
    | {
        requestId: string;
        targetVersion: string;
        outcome: UpgradeOutcome;
        at: string;
        reason?: string | undefined;
      }
    | undefined;
}

/**
 * The request id a wave gives the upgrade of one slug: deterministic, so a wave that runs again
 * (a host restart, a replay) enqueues the same request, which intake deduplicates.
 */
export function waveRequestId(waveId: string, slug: string): string {
  return `upgrade:${waveId}:${slug}`;
}

/**
 * What the gateway's config is rendered from besides its version and host name: written by
 * provisioning, read by an upgrade to render the same gateway for another version.
 */
export interface GatewaySettings {
  channels: string[];
  foundry?: { endpoint: string; deployment: string } | undefined;
}
