import type { DeployedRelease } from '../domain/upgradeState.js';
import type { MaintenanceTarget } from '../maintenance/contracts.js';
import type { LifecycleRequest } from '../requests/lifecycleRequest.js';

/**
 * The upgrade of one slug: what its activities hand each other. Versions, digests, revision and
 * secret names, snapshot ids and times; never a secret value (the rendered config holds only
 * `${ENV}` names and is rendered again where it is needed, never carried).
 */

export type UpgradeRequest = Extract<LifecycleRequest, { op: 'upgrade' }>;

/** Waits, from configuration, fixed for one run. */
export interface UpgradeTiming {
  readyTimeoutMs: number;
  pollIntervalMs: number;
  soakMs: number;
  stopTimeoutMs: number;
}

export interface UpgradePlanInput {
  request: UpgradeRequest;
  now: string;
}

/** Everything the steps share, decided once by the plan. */
export interface UpgradePlan {
  target: MaintenanceTarget;
  /** What runs now: the revision a rollback returns to. */
  from: DeployedRelease;
  to: { version: string; digest: string; repository: string };
  /** Whether the request waits for approval from the admin chat (a manual request under APPROVAL_POLICY.upgrade). */
  approval: boolean;
  timing: UpgradeTiming;
  /** npm's publish time of the target. */
  publishedAt: string;
}

export type PlanOutcome = { kind: 'upgrade'; plan: UpgradePlan } | { kind: 'up-to-date'; summary: string };

export interface UpgradeStepInput {
  plan: UpgradePlan;
  now: string;
}

export interface StopInput extends UpgradeStepInput {
  /** Record the upgrade as in flight (the first stop); a rollback's stop records nothing. */
  recordInFlight: boolean;
}

export interface GateInput extends UpgradeStepInput {
  /** The revision that must be started and ready. */
  revision: string;
  /** During the soak: the restart count seen when it became ready; more restarts fail the gate. */
  restartsAtMost?: number | undefined;
}

export interface GateFacts {
  revision: string;
  restarts: number;
}

export interface RestoreInput extends UpgradeStepInput {
  snapshot: string;
}

export interface CommitInput extends UpgradeStepInput {
  revision: string;
  snapshot: string;
}

export interface RollbackRecordInput extends UpgradeStepInput {
  reason: string;
  /** The target failed its gate (marked failed on the slug); false when the upgrade stopped before the target ran. */
  targetFailed: boolean;
}

/** The step names of the custom status, in order. */
export const UPGRADE_STEPS = [
  'plan',
  'preflight',
  'approval',
  'stop',
  'snapshot',
  'start',
  'gate',
  'soak',
  'commit',
] as const;
