import type { LifecycleRequest } from '../requests/lifecycleRequest.js';

/**
 * The teardown orchestration's vocabulary: every activity's input and output. All of it is JSON
 * and none of it is secret (the storage key used for the backup stays inside its activity).
 */

export type TeardownRequest = Extract<LifecycleRequest, { op: 'teardown' }>;

export const TEARDOWN_STEPS = [
  'inspect',
  'approval',
  'backup',
  'resourceGroup',
  'keyVault',
  'entra',
  'finish',
] as const;
export type TeardownStep = (typeof TEARDOWN_STEPS)[number];

export interface InspectInput {
  slug: string;
  requestId: string;
  purgeKeyVault: boolean;
}

/** A resource in the group, as ARM lists it. */
export interface GroupResource {
  type: string;
  name: string;
}

/** What teardown will remove, found by looking (read-only), or why it must not. */
export type Inspection =
  | { kind: 'refused'; reason: string }
  | { kind: 'gone'; reason: string }
  | { kind: 'plan'; plan: TeardownPlan };

export interface TeardownPlan {
  slug: string;
  requestId: string;
  /** The registry's incarnation (undefined without a record). */
  incarnation?: number | undefined;
  resourceGroup: string;
  /** Whether the resource group still exists (a retry after it was deleted finds it gone). */
  groupExists: boolean;
  location?: string | undefined;
  resources: GroupResource[];
  keyVault?: { name: string; location: string; purgeProtection: boolean } | undefined;
  storageAccount?: string | undefined;
  /**
   * The gateway identity's object id, when the group still holds the identity: its AcrPull on the
   * shared registry lies outside the group, so teardown removes it by this id.
   */
  gatewayPrincipalId?: string | undefined;
  stateShare: string;
  entra: { application?: { id: string; appId: string } | undefined; group?: { id: string } | undefined };
  entraNames: { application: string; group: string };
  /**
   * Entra objects of the footprint's names that the broker does not own (it is not among their
   * Entra owners): teardown leaves them alone.
   */
  entraLeftAlone?: { kind: 'application' | 'group'; name: string; id: string }[] | undefined;
  /** Purge the soft-deleted vault: asked for, allowed by policy, and possible (no purge protection). */
  purgeKeyVault: boolean;
  /** Why a purge that was asked for will not happen, when it will not. */
  purgeRefusal?: string | undefined;
  backupRetentionMs: number;
}

export interface BackupInput {
  plan: TeardownPlan;
  at: string;
}

export interface BackupFacts {
  /** `<container>/<prefix>` in the broker's storage, or undefined when there was nothing to back up. */
  location?: string | undefined;
  files: number;
  bytes: number;
  retainUntil?: string | undefined;
  /** Why nothing was backed up (no storage account left, for example). */
  skipped?: string | undefined;
}

export interface VaultOutcome {
  name?: string | undefined;
  outcome: 'kept' | 'purged' | 'absent';
  /** Until when a kept vault can be recovered. */
  recoverableUntil?: string | undefined;
}

export interface EntraOutcome {
  removed: string[];
}

export interface FinishInput {
  plan: TeardownPlan;
  backup: BackupFacts;
  vault: VaultOutcome;
  at: string;
}

export interface MarkInput {
  slug: string;
  requestId: string;
  at: string;
}
