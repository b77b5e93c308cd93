/**
 * What routine maintenance (rotate-secrets, renew-sas) shares: the target a step works on, the
 * verify waits, the app delivery step's contract and the tags on the versions it writes. None of
 * it is secret: activities hand each other versions, key names, key ids and times, never values.
 */

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

export type StorageKeyName = 'key1' | 'key2';

export interface StepBase {
  target: MaintenanceTarget;
  now: string;
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
