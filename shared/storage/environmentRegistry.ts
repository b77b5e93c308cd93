import type { TableClient } from '@azure/data-tables';
import { StorageNames, type BrokerStorage } from './brokerStorage.js';
import { BrokerError, ErrorCodes } from '../errors.js';
import type { LifecycleOp } from '../requests/lifecycleRequest.js';
import { hasStatus } from '../azure/azureErrors.js';
import type { GatewaySettings, UpgradeState } from '../domain/upgradeState.js';

export const ENVIRONMENT_STATES = [
  'provisioning',
  'ready',
  'failed',
  'updating',
  /** An upgrade failed and its rollback failed too: everything is stopped until an operator repairs it. */
  'needs-repair',
  'deleting',
  'deleted',
] as const;
export type EnvironmentState = (typeof ENVIRONMENT_STATES)[number];

export interface OperationSummary {
  requestId: string;
  op: LifecycleOp;
  outcome: 'running' | 'succeeded' | 'failed' | 'rejected';
  at: string;
  reason?: string | undefined;
}

/**
 * What routine maintenance (rotation, SAS renewal, sweeps) keeps on a slug's record. No secret
 * values: times, key names, reasons.
 */
export interface MaintenanceState {
  /** Sweeps enqueue nothing for this slug while set (an operator opted it out). */
  optOut?: { at: string; by: string; reason?: string | undefined } | undefined;
  /** When the current log-shipping SAS was issued, and when it is due for renewal (about 2/3 of its issued lifetime). */
  sasIssuedAt?: string | undefined;
  sasRenewAt?: string | undefined;
  /** Failed renewals since the last success and when the next attempt may run (back-off). */
  sasRenewal?: { failures: number; retryAt: string; lastError: string } | undefined;
  /** The storage account key the consumers use (`key1` or `key2`). */
  storageKeyInUse?: string | undefined;
  /** Secrets flagged for an operator (bot tokens cannot be rotated by API), by kind. */
  flags?: Record<string, { flaggedAt: string; reason: string }> | undefined;
  /** Secrets a rotation had to skip (a tenant policy), by kind, with when and why. */
  skipped?: Record<string, { at: string; reason: string }> | undefined;
}

/** What the last teardown left behind: where the final backup is, and what became of the vault. */
export interface TeardownFacts {
  requestId: string;
  at: string;
  /** `<container>/<prefix>/` of the final backup of the state share in the broker's storage. */
  backupLocation?: string | undefined;
  backupRetainUntil?: string | undefined;
  keyVault: 'kept' | 'purged' | 'absent';
  /** Until when a kept (soft-deleted) vault can be recovered. */
  keyVaultRecoverableUntil?: string | undefined;
}

/**
 * The Entra objects provisioning created (or adopted) for an incarnation, by object id, written the
 * moment each exists. Entra is eventually consistent: a retry moments later may not find a fresh
 * object by name (it would make a second one) nor see the broker among its owners (it would refuse
 * it as someone else's), so provisioning reads its own objects by id from here.
 */
export interface EntraObjects {
  incarnation: number;
  application?: (EntraObjectEntry & { ownerAdded: boolean }) | undefined;
  group?: EntraObjectEntry | undefined;
}

/** The Entra objects recorded for `incarnation` (the record's own by default); undefined for another one. */
export function entraObjectsOf(
  record: EnvironmentRecord | undefined,
  incarnation = record?.incarnation,
): EntraObjects | undefined {
  const objects = record?.entraObjects;
  return objects && objects.incarnation === incarnation ? objects : undefined;
}

export interface EntraObjectEntry {
  id: string;
  /** When it was created or adopted. */
  at: string;
  /** The request whose provision created it (absent when adopted): its change log reports it. */
  createdBy?: string | undefined;
}

/** One slug's environment: what the broker knows of its footprint. Holds no secret values. */
export interface EnvironmentRecord {
  slug: string;
  state: EnvironmentState;
  incarnation: number;
  openclawVersion?: string | undefined;
  url?: string | undefined;
  owners: string[];
  /** When each secret was last set, by kind (ISO timestamps). */
  secretAges: Record<string, string>;
  sasExpiresAt?: string | undefined;
  /** Rotation, SAS renewal and sweep bookkeeping. */
  maintenance?: MaintenanceState | undefined;
  lastOperation?: OperationSummary | undefined;
  /** Set by teardown (state `deleted`). */
  teardown?: TeardownFacts | undefined;
  entraObjects?: EntraObjects | undefined;
  /** What upgrades keep: the deployed release and the one before, failures, operator controls. */
  upgrades?: UpgradeState | undefined;
  /** What the gateway's config is rendered from (channels, model), as provisioning last set it. */
  gateway?: GatewaySettings | undefined;
  activeRequestId?: string | undefined;
  currentStep?: string | undefined;
  progress?: { done: number; total: number } | undefined;
  createdAt: string;
  updatedAt: string;
  /** The storage etag this record was read at; updates are conditional on it. */
  etag: string;
}

interface EnvironmentEntity {
  partitionKey: string;
  rowKey: string;
  state: string;
  incarnation: number;
  openclawVersion?: string;
  url?: string;
  ownersJson: string;
  secretAgesJson: string;
  sasExpiresAt?: string;
  maintenanceJson?: string;
  lastOperationJson?: string;
  teardownJson?: string;
  entraObjectsJson?: string;
  upgradesJson?: string;
  gatewayJson?: string;
  activeRequestId?: string;
  currentStep?: string;
  progressJson?: string;
  createdAt: string;
  updatedAt: string;
  etag?: string;
}

const ROW = 'environment';
const MAX_ATTEMPTS = 8;

export type EnvironmentMutation = (
  current: EnvironmentRecord | undefined,
) => Omit<EnvironmentRecord, 'etag' | 'updatedAt' | 'createdAt'> | undefined;

/**
 * The environment registry: one record per slug in Table storage (partition = slug). Writers use
 * optimistic concurrency: `update` reads the record and its etag, applies a pure mutation and writes
 * it back only if nobody wrote in between, retrying on conflict.
 */
export class EnvironmentRegistry {
  constructor(
    private readonly storage: BrokerStorage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(slug: string): Promise<EnvironmentRecord | undefined> {
    const table = await this.table();
    try {
      return fromEntity(await table.getEntity<EnvironmentEntity>(slug, ROW));
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async list(): Promise<EnvironmentRecord[]> {
    const table = await this.table();
    const records: EnvironmentRecord[] = [];
    for await (const entity of table.listEntities<EnvironmentEntity>()) records.push(fromEntity(entity));
    return records.sort((a, b) => a.slug.localeCompare(b.slug));
  }

  /**
   * Applies `mutate` to the current record (undefined when none) and stores the result under the
   * etag it read. Returning undefined leaves the record as it is. Retries when another writer won.
   */
  async update(slug: string, mutate: EnvironmentMutation): Promise<EnvironmentRecord | undefined> {
    const table = await this.table();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const current = await this.get(slug);
      const next = mutate(current);
      if (!next) return current;
      const now = this.now().toISOString();
      const entity = toEntity({ ...next, slug, createdAt: current?.createdAt ?? now, updatedAt: now });
      try {
        if (current) await table.updateEntity(entity, 'Replace', { etag: current.etag });
        else await table.createEntity(entity);
        return await this.get(slug);
      } catch (error) {
        if (!hasStatus(error, 412) && !hasStatus(error, 409)) throw error;
      }
    }
    throw new BrokerError(
      ErrorCodes.ConcurrencyConflict,
      `environment ${slug} changed ${MAX_ATTEMPTS} times while being updated; try again`,
    );
  }

  private table(): Promise<TableClient> {
    return this.storage.table(StorageNames.environmentsTable);
  }
}

function toEntity(record: Omit<EnvironmentRecord, 'etag'>): EnvironmentEntity {
  const entity: EnvironmentEntity = {
    partitionKey: record.slug,
    rowKey: ROW,
    state: record.state,
    incarnation: record.incarnation,
    ownersJson: JSON.stringify(record.owners),
    secretAgesJson: JSON.stringify(record.secretAges),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
  if (record.openclawVersion) entity.openclawVersion = record.openclawVersion;
  if (record.url) entity.url = record.url;
  if (record.sasExpiresAt) entity.sasExpiresAt = record.sasExpiresAt;
  if (record.maintenance) entity.maintenanceJson = JSON.stringify(record.maintenance);
  if (record.lastOperation) entity.lastOperationJson = JSON.stringify(record.lastOperation);
  if (record.teardown) entity.teardownJson = JSON.stringify(record.teardown);
  if (record.entraObjects) entity.entraObjectsJson = JSON.stringify(record.entraObjects);
  if (record.upgrades) entity.upgradesJson = JSON.stringify(record.upgrades);
  if (record.gateway) entity.gatewayJson = JSON.stringify(record.gateway);
  if (record.activeRequestId) entity.activeRequestId = record.activeRequestId;
  if (record.currentStep) entity.currentStep = record.currentStep;
  if (record.progress) entity.progressJson = JSON.stringify(record.progress);
  return entity;
}

function fromEntity(entity: EnvironmentEntity): EnvironmentRecord {
  return {
    slug: entity.partitionKey,
    state: entity.state as EnvironmentState,
    incarnation: entity.incarnation,
    openclawVersion: entity.openclawVersion,
    url: entity.url,
    owners: JSON.parse(entity.ownersJson) as string[],
    secretAges: JSON.parse(entity.secretAgesJson) as Record<string, string>,
    sasExpiresAt: entity.sasExpiresAt,
    maintenance: entity.maintenanceJson
      ? (JSON.parse(entity.maintenanceJson) as MaintenanceState)
      : undefined,
    lastOperation: entity.lastOperationJson
      ? (JSON.parse(entity.lastOperationJson) as OperationSummary)
      : undefined,
    teardown: entity.teardownJson ? (JSON.parse(entity.teardownJson) as TeardownFacts) : undefined,
    entraObjects: entity.entraObjectsJson ? (JSON.parse(entity.entraObjectsJson) as EntraObjects) : undefined,
    upgrades: entity.upgradesJson ? (JSON.parse(entity.upgradesJson) as UpgradeState) : undefined,
    gateway: entity.gatewayJson ? (JSON.parse(entity.gatewayJson) as GatewaySettings) : undefined,
    activeRequestId: entity.activeRequestId,
    currentStep: entity.currentStep,
    progress: entity.progressJson
      ? (JSON.parse(entity.progressJson) as { done: number; total: number })
      : undefined,
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
    etag: entity.etag ?? '',
  };
}
