import type {
  FlaggedSecret,
  MaintenanceTarget,
  MaintenanceTiming,
  RotatableSecret,
  StepBase,
  StorageKeyName,
} from '../maintenance/contracts.js';
import type { LifecycleRequest } from '../requests/lifecycleRequest.js';

/**
 * The vocabulary of routine maintenance (rotate-secrets, renew-sas): what the orchestrations send
 * their activities and get back. All of it is JSON and none of it is secret: activities read and
 * write values in Key Vault, ARM and Graph themselves and hand each other versions, key names,
 * key ids and times, never values.
 */

export type RotateSecretsRequest = Extract<LifecycleRequest, { op: 'rotate-secrets' }>;

/** One secret a rotation plan covers, with what each step expects to find. */
export type RotationItem =
  | { kind: 'gateway-token'; fromVersion: string }
  | {
      kind: 'storage-key';
      fromKey: StorageKeyName;
      toKey: StorageKeyName;
      /** creationTime of the key in use when planned: a later one means it was regenerated already. */
      fromKeyCreatedAt: string;
    }
  | { kind: 'entra-client-secret'; applicationId: string; fromKeyId: string }
  | { kind: FlaggedSecret; setAt: string };

/** A secret the plan leaves alone, and why (not due, superseded, not set up). */
export interface RotationSkip {
  kind: string;
  reason: string;
}

export interface RotationPlanInput {
  request: RotateSecretsRequest;
  /** The orchestration's time (the due checks and every time the steps record use it). */
  now: string;
}

export type RotationPlan =
  | {
      status: 'planned';
      target: MaintenanceTarget;
      timing: MaintenanceTiming;
      entraGraceMs: number;
      items: RotationItem[];
      skipped: RotationSkip[];
    }
  | { status: 'refused'; reason: string };

export interface GatewayWriteInput extends StepBase {
  fromVersion: string;
}

export interface GatewayVerifyInput extends StepBase {
  fromVersion: string;
  toVersion: string;
}

export interface RetireVersionsInput extends StepBase {
  secretName: string;
  /** The version the app uses now; every older enabled version is disabled. */
  keepVersion: string;
}

export interface StorageMoveInput extends StepBase {
  fromKey: StorageKeyName;
  toKey: StorageKeyName;
}

export interface StorageVerifyInput extends StepBase {
  toKey: StorageKeyName;
}

export interface StorageRegenerateInput extends StepBase {
  fromKey: StorageKeyName;
  toKey: StorageKeyName;
  fromKeyCreatedAt: string;
}

export interface EntraAddInput extends StepBase {
  applicationId: string;
  fromKeyId: string;
}

export interface EntraVerifyInput extends StepBase {
  applicationId: string;
  toKeyId: string;
}

export interface EntraRetireInput {
  target: MaintenanceTarget;
  applicationId: string;
  /** The client secret to remove once `notBefore` has passed. */
  keyId: string;
  notBefore: string;
}

export interface FlagSecretInput extends StepBase {
  kind: FlaggedSecret;
  setAt: string;
}

export interface RecordRotationInput extends StepBase {
  kind: RotatableSecret;
  storageKeyInUse?: StorageKeyName | undefined;
}

export interface RecordSkipInput extends StepBase {
  kind: string;
  reason: string;
}
