import type { LifecycleRequest } from '../requests/lifecycleRequest.js';

export type RenewSasRequest = Extract<LifecycleRequest, { op: 'renew-sas' }>;
import type { MaintenanceTarget, MaintenanceTiming } from '../maintenance/contracts.js';

/** renew-sas's activity inputs and outputs: times, versions and reasons, never the SAS itself. */

export interface SasPlanInput {
  request: RenewSasRequest;
  now: string;
}

export type SasPlan =
  | { status: 'planned'; target: MaintenanceTarget; timing: MaintenanceTiming; lifetimeMs: number }
  | { status: 'refused'; reason: string };

export interface SasGrantInput {
  target: MaintenanceTarget;
  now: string;
}

export interface SasIssueInput {
  target: MaintenanceTarget;
  now: string;
  lifetimeMs: number;
}

export interface SasIssued {
  /** The Key Vault version holding the SAS URL. */
  version: string;
  issuedAt: string;
  /** The expiry actually issued: the earlier of the SAS's and its signing key's. */
  expiresAt: string;
}

export interface SasRecordInput extends SasIssued {
  target: MaintenanceTarget;
  now: string;
}

export interface SasRecordOutput {
  renewAt: string;
}

export interface SasFailureInput {
  target: MaintenanceTarget;
  now: string;
  /** Azure's (or the step's) code and message: no secret. */
  error: string;
}

export interface SasFailureOutput {
  failures: number;
  retryAt: string;
  currentExpiresAt?: string | undefined;
}
