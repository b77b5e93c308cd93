import type { AzureFailure } from '../azure/azureErrors.js';
import type { LifecycleRequest } from '../requests/lifecycleRequest.js';

/**
 * The vocabulary of routine maintenance (rotate-secrets, renew-sas): what the orchestrations send
 * their activities and get back. All of it is JSON and none of it is secret: activities read and
 * write values in Key Vault, ARM and Graph themselves and hand each other versions, key names,
 * key ids and times, never values.
 */

export type RotateSecretsRequest = Extract<LifecycleRequest, { op: 'rotate-secrets' }>;
export type RenewSasRequest = Extract<LifecycleRequest, { op: 'renew-sas' }>;

/** Secrets the broker rotates by API. */
export type RotatableSecret = 'gateway-token' | 'storage-key' | 'entra-client-secret';
/** Secrets no API can rotate (bot tokens): flagged for an operator instead. */
export const FLAGGED_SECRETS = ['telegram-bot-token'] as const;
export type FlaggedSecret = (typeof FLAGGED_SECRETS)[number];

/** Everything a maintenance step needs to find the slug's resources (names, not secrets). */
export interface MaintenanceTarget {
  slug: string;
  requestId: string;
  incarnation: number;
  resourceGroup: string;
  keyVault: string;
  vaultUri: string;
  storageAccount: string;
  stateFileShare: string;
  logContainer: string;
  managedEnvironment: string;
  environmentStorage: string;
  containerApp: string;
  entraApplication: string;
  /** The gateway's host name and OpenClaw version, for its probes and admin RPC. */
  fqdn: string;
  openclawVersion: string;
}

/** Waits of the verify steps, from configuration, fixed for one run. */
export interface MaintenanceTiming {
  verifyIntervalMs: number;
  verifyTimeoutMs: number;
}

/**
 * What a maintenance activity answers. Only infrastructure failures (worth retrying as the same
 * step) throw; everything else is one of these.
 */
export type MaintenanceOutcome<T> =
  | { status: 'done'; value: T }
  /** Azure or the app is not there yet (propagation, a restart): wait and run the step again. */
  | { status: 'not-yet'; reason: string }
  /** The step's precondition no longer holds (a newer rotation happened): nothing was changed. */
  | { status: 'refused'; reason: string }
  /** The step cannot be done here by policy (the tenant forbids client secrets): nothing was changed. */
  | { status: 'skipped'; reason: string }
  /** Azure's definitive answer; running the step again would not change it. */
  | { status: 'failed'; error: AzureFailure };

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

export type StorageKeyName = 'key1' | 'key2';

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

export interface StepBase {
  target: MaintenanceTarget;
  now: string;
}

export interface GatewayWriteInput extends StepBase {
  fromVersion: string;
}

export interface GatewayVerifyInput extends StepBase {
  fromVersion: string;
  toVersion: string;
}

/**
 * What the app must be found with before it is made to take a credential: a newer rotation since
 * the plan means the step is refused, so a late step never re-points the app to an older value.
 */
export type DeliveryExpectation =
  | { kind: 'secret-version'; secretName: string; version: string }
  | { kind: 'entra-key'; keyId: string }
  | { kind: 'storage-key'; keyName: StorageKeyName };

export interface DeliverInput extends StepBase {
  expect: DeliveryExpectation;
  /** Restart the active revision so the containers read the new value (env vars, mounts). */
  restart: boolean;
  /** Add this Key Vault reference to the app when it lacks it (the log-shipping SAS). */
  ensureReference?: { appSecretName: string; vaultSecretName: string } | undefined;
}

export interface DeliverOutput {
  revision: string;
  restarted: boolean;
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

/** Secret names in the slug's vault that maintenance adds to provisioning's (SLUG_SECRET_NAMES). */
export const MAINTENANCE_SECRET_NAMES = {
  logShippingSas: 'log-shipping-sas',
} as const;

/** Container Apps secret names that maintenance adds to the app. */
export const MAINTENANCE_APP_SECRETS = {
  logShippingSas: 'log-shipping-sas',
} as const;

/** Key Vault tags maintenance puts on the versions it writes (no values). */
export const MAINTENANCE_TAGS = {
  /** The request that wrote this version: a step run twice finds its own write. */
  request: 'claw-broker-request',
  /** The storage account key (`key1`/`key2`) this version of the storage key holds. */
  keyName: 'keyName',
  /** The Entra client secret's key id (provisioning's tag name). */
  keyId: 'keyId',
  previousKeyId: 'previousKeyId',
  issuedAt: 'issuedAt',
} as const;
