import { randomUUID } from 'node:crypto';
import type { ControllableSimClock } from '../clock.js';
import { operationMs, type LatencyOptions, type OperationKind } from '../latencyProfile.js';
import type { IdentityDirectory } from '../identity.js';
import type { KeyVaultStore } from '../keyVaultStore.js';
import { findBuiltInRole, type BuiltInRole } from './roles.js';
import { resourceGroupOf, sameId, scopeCovers } from './resourcePath.js';

/** A resource as stored: `body` is what GET returns; `hidden` holds provider-private data. */
export interface StoredResource {
  id: string;
  type: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  body: Record<string, unknown>;
  hidden: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed';

/** A long-running operation; it settles when simulated time reaches `readyAt`. */
export interface ArmOperation {
  id: string;
  namespace: string;
  location: string;
  resourceId: string;
  kind: 'put' | 'delete' | 'action';
  status: OperationStatus;
  startedAt: number;
  readyAt: number;
  endedAt?: number;
  /** Set when the operation is planned to fail (fault or provider decision). */
  failure?: { code: string; message: string };
  /** Applies the outcome to the state; runs once, when the operation settles. */
  settle: (succeeded: boolean) => void;
  /** What the Location URL answers once settled successfully (default: 200 with no body). */
  result?: () => { status: number; body?: unknown };
  /** How to rebuild `settle` and `result` after a restart (the simulator's state file). */
  resume?: OperationResume;
}

/**
 * The JSON-serialisable description of what an operation does when it settles. Operations are
 * started with one, and `settle`/`result` are built from it, so an operation restored from the state
 * file settles exactly as it would have without the restart.
 */
export type OperationResume =
  | { kind: 'put'; type: string; previous?: StoredResource }
  | { kind: 'delete'; previousState: unknown; query: string }
  | { kind: 'groupDelete' }
  | { kind: 'purgeVault'; vaultName: string };

/** Builds `settle` and `result` for an operation on `resourceId` from its resume description. */
export type OperationSettler = (
  resourceId: string,
  resume: OperationResume,
) => Pick<ArmOperation, 'settle' | 'result'>;

/** An operation as the state file holds it: everything but the functions. */
export type PersistedOperation = Omit<ArmOperation, 'settle' | 'result'>;

/** ArmState as the state file holds it. Map keys are kept as they were. */
export interface ArmStateData {
  resources: [string, StoredResource][];
  /** Absent in state files written before replicas were recorded. */
  replicas?: ReplicaRecord[];
  operations: PersistedOperation[];
  roleAssignments: [string, RoleAssignment][];
  deletedVaults: [string, SoftDeletedVault][];
  deletedWorkspaces: [string, SoftDeletedWorkspace][];
}

export interface RoleAssignment {
  id: string;
  name: string;
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: string;
  createdAt: number;
  createdBy: string;
  description?: string;
  /** An ABAC condition (conditionVersion 2.0) that limits what the role grants. */
  condition?: string;
  conditionVersion?: string;
}

export interface SoftDeletedVault {
  name: string;
  location: string;
  vaultId: string;
  deletionDate: number;
  scheduledPurgeDate: number;
  purgeProtectionEnabled: boolean;
  tags: Record<string, string>;
  resource: StoredResource;
}

export interface SoftDeletedWorkspace {
  name: string;
  workspaceId: string;
  resourceGroup: string;
  deletedAt: number;
  reservedUntil: number;
  resource: StoredResource;
}

/**
 * One replica of a container app revision over its whole life: what it mounted and when it ran, in
 * simulated ms. A replica runs from `startedAt` until `stoppedAt` (absent while it runs; it may lie
 * in the future while the replica is still stopping). Its container is due to start at `startAt`
 * (image pulled, process launched); `readyAt` is when it started and passed its probes. A container
 * that exits is restarted with back-off (`crash`), each restart counted in `restartCount`.
 * Records outlive their app, so tests can check what ever ran (Simulator.replicaRecord).
 */
export interface ReplicaRecord {
  /** ARM id of the container app. */
  appId: string;
  revisionName: string;
  /** Replica name, `<revision>-<suffix>` as Azure names pods. */
  name: string;
  /** `storageName`s of the template's Azure Files volumes (template.volumes). */
  storageNames: string[];
  /** The shares behind them, `<account>/<share>` (lower case), resolved when the replica started. */
  shares: string[];
  startedAt: number;
  stoppedAt?: number;
  startAt: number;
  readyAt?: number;
  restartCount: number;
  /** The last exit while the container keeps failing to start, and when the next attempt is due. */
  crash?: { exitCode: number; reason: string; exitedAt: number; nextStartAt: number };
}

/**
 * What a container does when the platform starts it: runs (and is ready), or exits at once with a
 * code and a reason (a gateway refusing its state exits 78). The OpenClaw stand-in answers for
 * OpenClaw images; without a starter every container runs.
 */
export type ContainerStartResult =
  { state: 'running' } | { state: 'exited'; exitCode: number; reason: string };
export type ContainerStarter = (
  replica: ReplicaRecord,
  context: { app: StoredResource; template: Record<string, unknown> },
) => ContainerStartResult;

/**
 * The most replicas that ever ran at the same time with the same share mounted (all shares, or the
 * one named `<account>/<share>`). A replica stopping at the instant another starts does not count
 * as overlapping; one still stopping does.
 */
export function maxConcurrentMounts(records: readonly ReplicaRecord[], share?: string): number {
  const byShare = new Map<string, { at: number; delta: number }[]>();
  for (const record of records) {
    for (const key of record.shares) {
      if (share !== undefined && key !== share.toLowerCase()) continue;
      const events = byShare.get(key) ?? [];
      events.push({ at: record.startedAt, delta: 1 });
      if (record.stoppedAt !== undefined) events.push({ at: record.stoppedAt, delta: -1 });
      byShare.set(key, events);
    }
  }
  let most = 0;
  for (const events of byShare.values()) {
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let running = 0;
    for (const event of events) {
      running += event.delta;
      most = Math.max(most, running);
    }
  }
  return most;
}

/** What the OpenClaw stand-in (and tests) hear about container apps. */
export interface ContainerAppEvent {
  kind: 'revisionCreated' | 'revisionRestarted' | 'revisionActivated' | 'revisionDeactivated' | 'appDeleted';
  /** ARM id of the container app. */
  appId: string;
  revisionName?: string;
}

export interface ArmStateOptions {
  subscriptionId: string;
  subscriptionName: string;
  tenantId: string;
  /** How long after its creation a principal can be named in a role assignment (simulated ms). */
  principalPropagationMs: number;
  /** How long a role assignment takes before Key Vault and Storage data planes honour it. */
  dataPlanePropagationMs: number;
  /** Default duration of asynchronous provisioning (simulated ms). */
  provisioningMs: number;
  /**
   * How a container app write answers a Key Vault reference its identity cannot read: a synchronous
   * 400 (`invalidParameter`), a Failed operation (`failedRevision`), or each in turn (`alternate`).
   */
  keyVaultReferenceFailure: 'invalidParameter' | 'failedRevision' | 'alternate';
  /** Whether listSecrets returns the value an app fetched for a Key Vault reference (undocumented). */
  listSecretsKeyVaultValues: boolean;
  /** Per-type durations (latencyProfile.ts); where it has no figure, `provisioningMs` applies. */
  latency?: LatencyOptions;
}

/**
 * Everything ARM knows: resources, operations, role assignments and soft-deleted names. Reads by
 * other surfaces go through `getResource`, `listResources` and `listContainerApps`, which return
 * copies; container app changes are announced through `onContainerAppEvent`.
 */
export class ArmState {
  readonly resources = new Map<string, StoredResource>();
  readonly operations = new Map<string, ArmOperation>();
  readonly roleAssignments = new Map<string, RoleAssignment>();
  /** Unreadable Key Vault references answered so far (`alternate` picks the shape by it). */
  keyVaultFailures = 0;
  readonly deletedVaults = new Map<string, SoftDeletedVault>();
  readonly deletedWorkspaces = new Map<string, SoftDeletedWorkspace>();
  /** Every replica that ever ran (see ReplicaRecord). */
  readonly replicas: ReplicaRecord[] = [];
  /** Decides whether a container starts; set by the simulator's wiring (the OpenClaw stand-in). */
  containerStarter: ContainerStarter | undefined;
  private readonly listeners = new Set<(event: ContainerAppEvent) => void>();
  private readonly reconcilers: (() => void)[] = [];
  private reconciling = false;
  private settler: OperationSettler | undefined;

  constructor(
    readonly options: ArmStateOptions,
    readonly clock: ControllableSimClock,
    readonly identity: IdentityDirectory,
    readonly keyVault: KeyVaultStore,
  ) {}

  get subscriptionId(): string {
    return this.options.subscriptionId;
  }

  // ---- read-only accessors for other surfaces -------------------------------------------

  /** A copy of the resource as GET returns it, or undefined. */
  getResource(id: string): Record<string, unknown> | undefined {
    this.tick();
    const resource = this.resources.get(id.toLowerCase());
    return resource ? structuredClone(resource.body) : undefined;
  }

  /** Copies of all resources of a type (e.g. "Microsoft.App/containerApps"), optionally under a scope. */
  listResources(type?: string, scope?: string): Record<string, unknown>[] {
    this.tick();
    return this.find(type, scope).map((resource) => structuredClone(resource.body));
  }

  listContainerApps(): Record<string, unknown>[] {
    return this.listResources('Microsoft.App/containerApps');
  }

  /** Subscribes to container app revision events; returns the unsubscribe function. */
  onContainerAppEvent(listener: (event: ContainerAppEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: ContainerAppEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not break ARM; the listener owns its errors.
      }
    }
  }

  /**
   * Runs `reconcile` at the end of every tick, after due operations settled: what providers derive
   * from simulated time (replicas starting, stopping, restarting).
   */
  addReconciler(reconcile: () => void): void {
    this.reconcilers.push(reconcile);
  }

  // ---- store ----------------------------------------------------------------------------

  get(id: string): StoredResource | undefined {
    return this.resources.get(id.toLowerCase());
  }

  put(resource: StoredResource): void {
    this.resources.set(resource.id.toLowerCase(), resource);
  }

  remove(id: string): void {
    this.resources.delete(id.toLowerCase());
  }

  find(type?: string, scope?: string): StoredResource[] {
    return [...this.resources.values()].filter(
      (resource) =>
        (type === undefined || sameId(resource.type, type)) &&
        (scope === undefined || scopeCovers(scope, resource.id)),
    );
  }

  resourceGroupExists(name: string): boolean {
    return this.get(`/subscriptions/${this.subscriptionId}/resourceGroups/${name}`) !== undefined;
  }

  // ---- long-running operations ----------------------------------------------------------

  /** The ARM surface registers how operations settle, so restored operations can settle too. */
  setOperationSettler(settler: OperationSettler): void {
    this.settler = settler;
  }

  /** `settle` and `result` for a resume description; a no-op when nobody can settle it. */
  private settlerFor(resourceId: string, resume: OperationResume): Pick<ArmOperation, 'settle' | 'result'> {
    if (resume.kind === 'purgeVault') {
      return {
        settle: (succeeded) => {
          if (!succeeded) return;
          this.deletedVaults.delete(resume.vaultName.toLowerCase());
          this.keyVault.dropVault(resume.vaultName);
        },
      };
    }
    return this.settler?.(resourceId, resume) ?? { settle: () => undefined };
  }

  /**
   * Starts a long-running operation. Give `resume` (preferred: the operation survives a restart)
   * or a `settle` function.
   */
  startOperation(
    input: Omit<ArmOperation, 'id' | 'status' | 'startedAt' | 'readyAt' | 'settle'> & {
      durationMs?: number;
      settle?: ArmOperation['settle'];
    },
  ): ArmOperation {
    const now = this.clock.now();
    const { durationMs, ...rest } = input;
    const functions = input.resume
      ? {
          ...this.settlerFor(input.resourceId, input.resume),
          ...(input.settle ? { settle: input.settle } : {}),
        }
      : { settle: input.settle ?? (() => undefined) };
    const operation: ArmOperation = {
      ...rest,
      ...functions,
      id: randomUUID(),
      status: 'InProgress',
      startedAt: now,
      readyAt:
        now +
        (durationMs ??
          this.durationOf(
            input.resourceId,
            input.kind === 'delete'
              ? 'delete'
              : input.resume?.kind === 'put' && input.resume.previous
                ? 'update'
                : 'create',
          )),
    };
    this.operations.set(operation.id, operation);
    return operation;
  }

  /**
   * How long an operation on the resource takes: the latency profile's figure for its type and kind
   * (scaled), else the default provisioning time.
   */
  durationOf(resourceId: string, kind: OperationKind): number {
    return (
      (this.options.latency && operationMs(this.options.latency, resourceId, kind)) ??
      this.options.provisioningMs
    );
  }

  /**
   * Settles what simulated time has made due: operations, expired soft-deleted vaults and
   * workspace name reservations. Called on every request and by the real-time ticker.
   */
  tick(): void {
    const now = this.clock.now();
    const due = [...this.operations.values()]
      .filter((operation) => operation.status === 'InProgress' && operation.readyAt <= now)
      .sort((a, b) => a.readyAt - b.readyAt);
    for (const operation of due) {
      const succeeded = operation.failure === undefined;
      operation.status = succeeded ? 'Succeeded' : 'Failed';
      operation.endedAt = Math.max(operation.readyAt, operation.startedAt);
      operation.settle(succeeded);
    }
    for (const [key, vault] of this.deletedVaults) {
      if (vault.scheduledPurgeDate <= now) {
        this.deletedVaults.delete(key);
        this.keyVault.dropVault(vault.name);
      }
    }
    for (const [key, workspace] of this.deletedWorkspaces) {
      if (workspace.reservedUntil <= now) this.deletedWorkspaces.delete(key);
    }
    // A reconciler may read through accessors that tick (a container starter reading the app): no re-entry.
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      for (const reconcile of this.reconcilers) reconcile();
    } finally {
      this.reconciling = false;
    }
  }

  // ---- role assignments -----------------------------------------------------------------

  /** Role assignments of a principal that cover `scope`, honoured by data planes after `minAgeMs`. */
  rolesAt(principalId: string, scope: string, minAgeMs = 0): BuiltInRole[] {
    const now = this.clock.now();
    const roles: BuiltInRole[] = [];
    for (const assignment of this.roleAssignments.values()) {
      if (assignment.principalId !== principalId) continue;
      if (!scopeCovers(assignment.scope, scope)) continue;
      if (now - assignment.createdAt < minAgeMs) continue;
      const role = findBuiltInRole(assignment.roleDefinitionId);
      if (role) roles.push(role);
    }
    return roles;
  }

  /** Removes role assignments whose scope lies inside `scope` (the scope was deleted). */
  removeAssignmentsUnder(scope: string): void {
    for (const [key, assignment] of this.roleAssignments) {
      if (scopeCovers(scope, assignment.scope)) this.roleAssignments.delete(key);
    }
  }

  /** Everything ARM knows, as JSON-serialisable data for the state file. */
  exportState(): ArmStateData {
    return structuredClone({
      resources: [...this.resources],
      operations: [...this.operations.values()].map(
        ({ settle: _settle, result: _result, ...operation }) => operation,
      ),
      roleAssignments: [...this.roleAssignments],
      deletedVaults: [...this.deletedVaults],
      deletedWorkspaces: [...this.deletedWorkspaces],
      replicas: this.replicas,
    });
  }

  /**
   * Replaces everything ARM knows with saved data. Operations get their `settle`/`result` back
   * from their resume description (so call this after the ARM surface is created); one without a
   * description settles without effect.
   */
  importState(data: ArmStateData): void {
    this.resources.clear();
    this.operations.clear();
    this.roleAssignments.clear();
    this.deletedVaults.clear();
    this.deletedWorkspaces.clear();
    this.replicas.length = 0;
    this.replicas.push(...(data.replicas ?? []));
    for (const [key, resource] of data.resources) this.resources.set(key, resource);
    for (const [key, assignment] of data.roleAssignments) this.roleAssignments.set(key, assignment);
    for (const [key, vault] of data.deletedVaults) this.deletedVaults.set(key, vault);
    for (const [key, workspace] of data.deletedWorkspaces) this.deletedWorkspaces.set(key, workspace);
    for (const operation of data.operations) {
      const functions = operation.resume
        ? this.settlerFor(operation.resourceId, operation.resume)
        : { settle: () => undefined };
      this.operations.set(operation.id, { ...operation, ...functions });
    }
  }

  snapshot(): unknown {
    this.tick();
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      subscriptionId: this.subscriptionId,
      resourceGroups: this.find('Microsoft.Resources/resourceGroups').map((group) => group.body),
      resources: [...this.resources.values()]
        .filter((resource) => resource.type !== 'Microsoft.Resources/resourceGroups')
        .map((resource) => ({ ...resource.body, resourceGroup: resourceGroupOf(resource.id) })),
      operations: [...this.operations.values()].map((operation) => ({
        id: operation.id,
        kind: operation.kind,
        resourceId: operation.resourceId,
        status: operation.status,
        startedAt: iso(operation.startedAt),
        readyAt: iso(operation.readyAt),
        failure: operation.failure,
      })),
      roleAssignments: [...this.roleAssignments.values()].map((assignment) => ({
        ...assignment,
        createdAt: iso(assignment.createdAt),
        roleName: findBuiltInRole(assignment.roleDefinitionId)?.roleName,
      })),
      deletedVaults: [...this.deletedVaults.values()].map((vault) => ({
        name: vault.name,
        vaultId: vault.vaultId,
        deletionDate: iso(vault.deletionDate),
        scheduledPurgeDate: iso(vault.scheduledPurgeDate),
      })),
      deletedWorkspaces: [...this.deletedWorkspaces.values()].map((workspace) => ({
        name: workspace.name,
        workspaceId: workspace.workspaceId,
        reservedUntil: iso(workspace.reservedUntil),
      })),
    };
  }
}
