import {
  authConfigSchema,
  containerAppSchema,
  environmentStorageSchema,
  managedEnvironmentSchema,
} from './specSchemas.js';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SimResponse } from '../surface.js';
import { armError } from './armErrors.js';
import type { ReplicaRecord, StoredResource } from './armState.js';
import { workspaceByCustomerId, workspaceSharedKeys } from './monitoring.js';
import {
  isRecord,
  recordOf,
  stringOf,
  type ArmContext,
  type ProviderModule,
  type PutInput,
  type ResourceTypeSpec,
} from './resourceType.js';

export const containerAppsApiVersions = [
  '2025-07-01',
  '2025-02-02-preview',
  '2025-01-01',
  '2024-10-02-preview',
  '2024-03-01',
  '2023-05-01',
  '2022-10-01',
  '2022-03-01',
];
const environmentType = 'Microsoft.App/managedEnvironments';
const appType = 'Microsoft.App/containerApps';
/** Container Apps re-reads Key Vault references on its own about every 30 minutes. */
export const keyVaultRefreshMs = 30 * 60 * 1000;

export interface Revision {
  name: string;
  createdTime: number;
  template: Record<string, unknown>;
  /** Whether the revision is meant to run (GET `active`); its replica may still be starting or stopping. */
  active: boolean;
  provisioningState: 'Provisioning' | 'Provisioned' | 'Failed';
}

/** What the runtime view says about the replica serving the app. */
export interface ReplicaView {
  name: string;
  revisionName: string;
  /** The container runs (its process started and stayed up). */
  started: boolean;
  ready: boolean;
  restartCount: number;
  /** Why the container keeps exiting (crash loop), when it does. */
  failure?: string;
}

/** A secret as the running app sees it: inline, or fetched from Key Vault at `fetchedAt`. */
export interface ResolvedSecret {
  name: string;
  value?: string;
  keyVaultUrl?: string;
  identity?: string;
  fetchedAt: number;
  /** The Key Vault secret version fetched, when a reference. */
  version?: string;
  error?: string;
}

/** What a running container app looks like from inside, for the OpenClaw stand-in and tests. */
export interface ContainerAppRuntime {
  id: string;
  name: string;
  resourceGroup: string;
  fqdn?: string;
  activeRevision?: string;
  runningState: string;
  healthState: string;
  running: boolean;
  containers: { name: string; image: string; env: Record<string, string> }[];
  /** Env of the first container with secret references resolved to the values the app holds. */
  env: Record<string, string>;
  image: string;
  volumes: unknown[];
  /** The replica of the revision that serves the app (traffic), when one runs. */
  replica?: ReplicaView;
}

/** The part of the ARM context the runtime view needs: state only, so other surfaces can use it. */
export type StateContext = Pick<ArmContext, 'state'>;

const revisionsOf = (app: StoredResource) => app.hidden['revisions'] as Revision[];
const secretsOf = (app: StoredResource) => app.hidden['secrets'] as ResolvedSecret[];

function principalForIdentity(
  ctx: StateContext,
  app: StoredResource | undefined,
  identity: string | undefined,
  systemPrincipal: string | undefined,
): string | undefined {
  if (identity === undefined || identity.toLowerCase() === 'system')
    return systemPrincipal ?? (app?.hidden['systemPrincipalId'] as string | undefined);
  const msi = ctx.state.get(identity);
  return msi ? stringOf(recordOf(msi.body['properties']), 'principalId') : undefined;
}

/** Fetches a Key Vault reference as the app's identity would; returns a value or an error. */
function fetchKeyVaultSecret(
  ctx: StateContext,
  keyVaultUrl: string,
  principalId: string | undefined,
): { value: string; version: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(keyVaultUrl);
  } catch {
    return { error: `keyVaultUrl '${keyVaultUrl}' is not a URL` };
  }
  const vault = ctx.state.find('Microsoft.KeyVault/vaults').find((candidate) => {
    const uri = stringOf(recordOf(candidate.body['properties']), 'vaultUri');
    return uri !== '' && new URL(uri).host === url.host;
  });
  if (!vault) return { error: `no vault answers at ${url.host}` };
  const [collection, name, version] = url.pathname.split('/').filter(Boolean);
  if (collection !== 'secrets' || name === undefined)
    return { error: `'${keyVaultUrl}' is not a secret URL` };
  if (principalId === undefined)
    return { error: 'the identity named for the secret is not assigned to the app' };
  const allowed = ctx.state
    .rolesAt(principalId, vault.id, ctx.state.options.dataPlanePropagationMs)
    .some((role) => role.secrets.read);
  if (!allowed)
    return {
      error: `identity ${principalId} is not allowed to get secrets from vault ${vault.name} (ForbiddenByRbac)`,
    };
  const record = ctx.state.keyVault.getVault(vault.name)?.secrets.get(name.toLowerCase());
  if (!record || record.deleted) return { error: `secret '${name}' not found in vault ${vault.name}` };
  const chosen = version
    ? record.versions.find((candidate) => candidate.version === version)
    : [...record.versions].reverse().find((candidate) => candidate.enabled);
  if (!chosen || !chosen.enabled)
    return { error: `secret '${name}' has no enabled version${version ? ` ${version}` : ''}` };
  return { value: chosen.value, version: chosen.version };
}

/** Re-reads Key Vault references older than the refresh interval (what the platform does by itself). */
function refreshDueSecrets(ctx: StateContext, app: StoredResource): void {
  const now = ctx.state.clock.now();
  for (const secret of secretsOf(app)) {
    if (secret.keyVaultUrl === undefined || now - secret.fetchedAt < keyVaultRefreshMs) continue;
    const fetched = fetchKeyVaultSecret(
      ctx,
      secret.keyVaultUrl,
      principalForIdentity(ctx, app, secret.identity, undefined),
    );
    secret.fetchedAt = now;
    if ('value' in fetched) {
      secret.value = fetched.value;
      secret.version = fetched.version;
      delete secret.error;
    } else secret.error = fetched.error;
  }
}

// ---- replicas -----------------------------------------------------------------------------

/**
 * Kubernetes restarts a container that exited with an exponential back-off delay (10 s, 20 s, 40 s,
 * ...) capped at 300 s (kubernetes.io docs/concepts/workloads/pods/pod-lifecycle, "Container
 * restarts"); Container Apps runs replicas as Kubernetes pods (the replica names of the
 * Replicas_List example of Microsoft.App 2025-07-01 are pod names). The reset after 10 minutes of
 * clean running does not arise here: a container that starts keeps running.
 */
export function crashLoopBackOffMs(restartCount: number): number {
  return Math.min(10_000 * 2 ** restartCount, 300_000);
}

const sameApp = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const isRunningAt = (replica: ReplicaRecord, at: number) =>
  replica.startedAt <= at && (replica.stoppedAt === undefined || replica.stoppedAt > at);

function replicasOf(ctx: StateContext, appId: string, revisionName?: string): ReplicaRecord[] {
  return ctx.state.replicas.filter(
    (replica) =>
      sameApp(replica.appId, appId) &&
      (revisionName === undefined || replica.revisionName.toLowerCase() === revisionName.toLowerCase()),
  );
}

/** Replicas of the revision present now (running, starting, crash-looping or still stopping). */
function presentReplicas(ctx: StateContext, appId: string, revisionName: string): ReplicaRecord[] {
  const now = ctx.state.clock.now();
  return replicasOf(ctx, appId, revisionName).filter((replica) => isRunningAt(replica, now));
}

function modeOf(app: StoredResource): 'Single' | 'Multiple' {
  const configuration = recordOf(recordOf(app.body['properties'])['configuration']);
  return stringOf(configuration, 'activeRevisionsMode', 'Single').toLowerCase() === 'multiple'
    ? 'Multiple'
    : 'Single';
}

/** The Azure Files volumes of a template: storage names and the shares behind them. */
function mountedShares(
  ctx: StateContext,
  app: StoredResource,
  template: Record<string, unknown>,
): { storageNames: string[]; shares: string[] } {
  const environmentId = stringOf(recordOf(app.body['properties']), 'managedEnvironmentId');
  const storageNames: string[] = [];
  const shares: string[] = [];
  for (const raw of Array.isArray(template['volumes']) ? template['volumes'] : []) {
    const volume = recordOf(raw);
    const storageName = stringOf(volume, 'storageName');
    const storageType = stringOf(volume, 'storageType', 'AzureFile').toLowerCase();
    if (storageName === '' || (storageType !== 'azurefile' && storageType !== 'nfsazurefile')) continue;
    storageNames.push(storageName);
    const storage = ctx.state.get(`${environmentId}/storages/${storageName}`);
    const azureFile = recordOf(recordOf(storage?.body['properties'])['azureFile']);
    const account = stringOf(azureFile, 'accountName');
    const share = stringOf(azureFile, 'shareName');
    if (account !== '' && share !== '') shares.push(`${account}/${share}`.toLowerCase());
  }
  return { storageNames, shares };
}

/** A replica of the revision starts at `startedAt`; its container is due to start at `startAt`. */
function startReplica(
  ctx: StateContext,
  app: StoredResource,
  revision: Revision,
  startedAt: number,
  startAt: number,
): ReplicaRecord {
  const replica: ReplicaRecord = {
    appId: app.id,
    revisionName: revision.name,
    // Pod names as Kubernetes makes them (Replicas_List example, 2025-07-01).
    name: `${revision.name}-${randomBytes(5).toString('hex').slice(0, 9)}-${randomBytes(3).toString('hex').slice(0, 5)}`,
    ...mountedShares(ctx, app, revision.template),
    startedAt,
    startAt,
    restartCount: 0,
  };
  ctx.state.replicas.push(replica);
  return replica;
}

/** Stops the revision's replicas at `at` (a replica already stopping sooner keeps its time). */
function stopReplicas(ctx: StateContext, appId: string, revisionName: string, at: number): void {
  for (const replica of replicasOf(ctx, appId, revisionName)) {
    if (replica.stoppedAt === undefined || replica.stoppedAt > at) replica.stoppedAt = at;
  }
}

/** At least a millisecond: what takes time in Azure takes some in the simulator, even unprofiled. */
const someMs = (ms: number) => Math.max(ms, 1);

/**
 * Plays a replica's container forward to `now`: its start at `startAt`, and while it exits, a
 * restart after each back-off. Whether a start succeeds is asked when it is due (an injected
 * `containerExit` fault, then the container starter, e.g. the OpenClaw stand-in), with the world as
 * it is when the simulator gets to it.
 */
function advanceReplica(ctx: ArmContext | StateContext, app: StoredResource, replica: ReplicaRecord): void {
  const now = ctx.state.clock.now();
  const revision = revisionsOf(app).find((candidate) => candidate.name === replica.revisionName);
  for (let guard = 0; guard < 1000 && replica.readyAt === undefined; guard++) {
    const due = replica.crash ? replica.crash.nextStartAt : replica.startAt;
    if (due > now || (replica.stoppedAt !== undefined && due >= replica.stoppedAt)) return;
    if (replica.crash) replica.restartCount += 1;
    const result = startContainer(ctx, app, revision, replica);
    if (result.state === 'running') {
      replica.readyAt = due;
      delete replica.crash;
      return;
    }
    replica.crash = {
      exitCode: result.exitCode,
      reason: result.reason,
      exitedAt: due,
      nextStartAt: due + crashLoopBackOffMs(replica.restartCount),
    };
  }
}

function startContainer(
  ctx: ArmContext | StateContext,
  app: StoredResource,
  revision: Revision | undefined,
  replica: ReplicaRecord,
): { state: 'running' } | { state: 'exited'; exitCode: number; reason: string } {
  const faults = 'faults' in ctx ? ctx.faults : undefined;
  const fault = faults?.match(['containerExit'], {
    surface: 'containerapps',
    method: 'START',
    path: `${app.id}/revisions/${replica.revisionName}/replicas/${replica.name}`,
  });
  if (fault)
    return {
      state: 'exited',
      exitCode: fault.exitCode ?? 1,
      reason: fault.message ?? `the container exited at start (injected fault ${fault.id})`,
    };
  const starter = ctx.state.containerStarter;
  if (!starter || !revision) return { state: 'running' };
  try {
    return starter(replica, { app, template: revision.template });
  } catch (error) {
    return { state: 'exited', exitCode: 1, reason: `the container failed to start: ${String(error)}` };
  }
}

/** The operation that created the revision (a PUT started at its creation time), if still known. */
function creatingOperationEnd(
  ctx: StateContext,
  app: StoredResource,
  revision: Revision,
): number | undefined {
  for (const operation of ctx.state.operations.values()) {
    if (
      operation.kind === 'put' &&
      sameApp(operation.resourceId, app.id) &&
      operation.startedAt === revision.createdTime
    )
      return operation.readyAt;
  }
  return undefined;
}

/**
 * What simulated time does to container apps, run after every tick:
 * - A new revision's replica starts as soon as the revision is created, and its container starts
 *   when the operation is due to end (create and update complete "when one of its replicas starts
 *   and becomes ready", learn.microsoft.com azure/container-apps/application-lifecycle-management).
 * - Single revision mode: "The existing active revision isn't deactivated until the new revision is
 *   ready" (same page, "Zero downtime deployment"; microsoft/azure-container-apps#497, the
 *   announcement: "we will keep your existing revision running until any Startup and Readiness probes
 *   pass successfully. Only then will we deactivate your existing revision"). The old revision is then
 *   "allowed 30 seconds before it's asked to shutdown" (a maintainer in #493): its replica stops the
 *   revision `deactivate` duration after the new one is ready. So two replicas run, and mount the same
 *   share, from the update until then: the overlap #969, #1129 and #1674 are about. A new revision
 *   that never becomes ready never ends the old one.
 * - Multiple revision mode: nothing is deactivated by itself.
 */
export function reconcileContainerApps(ctx: ArmContext | StateContext): void {
  // One pass over the record per tick: a fleet's worth of apps and replicas stays cheap.
  const byApp = new Map<string, ReplicaRecord[]>();
  for (const replica of ctx.state.replicas) {
    const key = replica.appId.toLowerCase();
    const list = byApp.get(key);
    if (list) list.push(replica);
    else byApp.set(key, [replica]);
  }
  for (const app of ctx.state.find(appType)) {
    const revisions = revisionsOf(app);
    const own = byApp.get(app.id.toLowerCase()) ?? [];
    const ofRevision = (name: string) => own.filter((replica) => replica.revisionName === name);
    for (const revision of revisions) {
      if (revision.provisioningState === 'Failed') continue;
      if (revision.provisioningState !== 'Provisioning' && !revision.active) continue;
      if (ofRevision(revision.name).length > 0) continue;
      own.push(
        startReplica(
          ctx,
          app,
          revision,
          revision.createdTime,
          creatingOperationEnd(ctx, app, revision) ?? revision.createdTime,
        ),
      );
    }
    for (const replica of own) if (replica.readyAt === undefined) advanceReplica(ctx, app, replica);
    const properties = app.body['properties'] as Record<string, unknown>;
    const ready = [...revisions]
      .reverse()
      .find((revision) => ofRevision(revision.name).some((replica) => replica.readyAt !== undefined));
    if (ready) properties['latestReadyRevisionName'] = ready.name;
    const newest = revisions.at(-1);
    if (modeOf(app) !== 'Single' || !newest || newest.provisioningState !== 'Provisioned') continue;
    const readyAt = ofRevision(newest.name)
      .map((replica) => replica.readyAt)
      .find((at) => at !== undefined);
    if (readyAt === undefined) continue;
    for (const revision of revisions) {
      if (revision === newest || !revision.active) continue;
      revision.active = false;
      stopReplicas(
        ctx,
        app.id,
        revision.name,
        readyAt + someMs(ctx.state.durationOf(`${app.id}/revisions/${revision.name}`, 'deactivate')),
      );
      ctx.state.emit({ kind: 'revisionDeactivated', appId: app.id, revisionName: revision.name });
    }
  }
}

// ---- revisions and traffic ---------------------------------------------------------------

/**
 * Traffic weight by revision name. Single revision mode sends everything to the latest ready
 * revision (revision weights "can not be used in this mode", `activeRevisionsMode`, ContainerApps
 * spec 2025-07-01); so does `latestRevision: true` in multiple mode ("traffic doesn't switch to the
 * latest revision until it's ready", application-lifecycle-management); `revisionName` rules name
 * theirs. Without ingress rules, the default rule (`latestRevision`, 100).
 */
function trafficWeights(app: StoredResource): Map<string, number> {
  const properties = recordOf(app.body['properties']);
  const latestReady = stringOf(properties, 'latestReadyRevisionName');
  const weights = new Map<string, number>();
  const add = (name: string, weight: number) => {
    if (name !== '') weights.set(name.toLowerCase(), (weights.get(name.toLowerCase()) ?? 0) + weight);
  };
  const ingress = recordOf(recordOf(properties['configuration'])['ingress']);
  const rules = Array.isArray(ingress['traffic']) ? ingress['traffic'].map(recordOf) : [];
  if (modeOf(app) === 'Single' || rules.length === 0) {
    add(latestReady, 100);
    return weights;
  }
  for (const rule of rules) {
    const weight = typeof rule['weight'] === 'number' ? rule['weight'] : 0;
    add(rule['latestRevision'] === true ? latestReady : stringOf(rule, 'revisionName'), weight);
  }
  return weights;
}

/**
 * Running state with the RevisionRunningState values of the 2025-07-01 spec (Running, Processing,
 * Stopped, Degraded, Failed, Unknown). The spec does not say which a revision shows while its
 * replica starts or stops, nor for a crash loop: the simulator answers Processing while a replica
 * starts or stops, Degraded while its container keeps exiting.
 */
function revisionRunningState(ctx: StateContext, app: StoredResource, revision: Revision): string {
  if (revision.provisioningState === 'Failed') return 'Failed';
  const replicas = presentReplicas(ctx, app.id, revision.name);
  if (replicas.length === 0) return revision.active ? 'Processing' : 'Stopped';
  if (!revision.active) return 'Processing';
  if (replicas.some((replica) => replica.crash !== undefined)) return 'Degraded';
  return replicas.every((replica) => replica.readyAt !== undefined) ? 'Running' : 'Processing';
}

/** A crash-looping revision is Unhealthy; a running, ready one Healthy; otherwise None. */
function revisionHealth(ctx: StateContext, app: StoredResource, revision: Revision): string {
  if (revision.provisioningState === 'Failed') return 'Unhealthy';
  const replicas = presentReplicas(ctx, app.id, revision.name);
  if (replicas.some((replica) => replica.crash !== undefined)) return 'Unhealthy';
  return revisionRunningState(ctx, app, revision) === 'Running' ? 'Healthy' : 'None';
}

function revisionResource(
  ctx: StateContext,
  app: StoredResource,
  revision: Revision,
): Record<string, unknown> {
  const fqdn = stringOf(recordOf(app.body['properties']), 'latestRevisionFqdn');
  const replicas = replicasOf(ctx, app.id, revision.name);
  const lastActive = Math.max(revision.createdTime, ...replicas.map((replica) => replica.stoppedAt ?? 0));
  const crash = presentReplicas(ctx, app.id, revision.name).find((replica) => replica.crash)?.crash;
  return {
    id: `${app.id}/revisions/${revision.name}`,
    name: revision.name,
    type: 'Microsoft.App/containerApps/revisions',
    properties: {
      createdTime: new Date(revision.createdTime).toISOString(),
      lastActiveTime: new Date(revision.active ? ctx.state.clock.now() : lastActive).toISOString(),
      fqdn: fqdn.replace(/^[^.]+/, revision.name),
      template: revision.template,
      active: revision.active,
      // "Number of pods currently running for this revision" (Revision, 2025-07-01).
      replicas: presentReplicas(ctx, app.id, revision.name).length,
      trafficWeight: trafficWeights(app).get(revision.name.toLowerCase()) ?? 0,
      healthState: revisionHealth(ctx, app, revision),
      provisioningState: revision.provisioningState,
      runningState: revisionRunningState(ctx, app, revision),
      ...(crash
        ? { provisioningError: `Container exited with code ${crash.exitCode}: ${crash.reason}` }
        : {}),
    },
  };
}

/**
 * A replica as the 2025-07-01 spec shapes it (Replica, ReplicaContainer; Replicas_List example).
 * Container runningState is Running, Waiting (not yet started, or in back-off after an exit) or
 * Terminated; the replica is Running once a container runs. `runningStateDetails` texts are the
 * simulator's (CrashLoopBackOff is Kubernetes' name for the back-off).
 */
function replicaResource(
  ctx: StateContext,
  app: StoredResource,
  revision: Revision,
  replica: ReplicaRecord,
): Record<string, unknown> {
  const now = ctx.state.clock.now();
  const stopping = replica.stoppedAt !== undefined && replica.stoppedAt > now;
  const started = replica.readyAt !== undefined && replica.readyAt <= now;
  const details = replica.crash
    ? `CrashLoopBackOff: back-off restarting failed container (exit code ${replica.crash.exitCode}: ${replica.crash.reason})`
    : started
      ? stopping
        ? 'Terminating'
        : 'Running'
      : 'ContainerCreating';
  const containers = (
    Array.isArray(revision.template['containers']) ? revision.template['containers'] : []
  ).map((raw, index) => ({
    name: stringOf(recordOf(raw), 'name'),
    containerId: `containerd://${createHash('sha256').update(`${replica.name}/${index}/${replica.restartCount}`).digest('hex')}`,
    ready: started,
    started,
    restartCount: replica.restartCount,
    runningState: started ? 'Running' : 'Waiting',
    runningStateDetails: details,
  }));
  return {
    id: `${app.id}/revisions/${revision.name}/replicas/${replica.name}`,
    name: replica.name,
    type: 'Microsoft.App/containerApps/revisions/replicas',
    properties: {
      createdTime: new Date(replica.startedAt).toISOString(),
      runningState: started ? 'Running' : 'NotRunning',
      runningStateDetails: details,
      containers,
      initContainers: [],
    },
  };
}

function latestOf(app: StoredResource): Revision | undefined {
  return revisionsOf(app).at(-1);
}

/**
 * The revision that answers the app's traffic: the one with the most traffic among those with a
 * replica present; else the newest with a replica; else the latest ready, else the latest revision.
 */
function servingRevision(ctx: StateContext, app: StoredResource): Revision | undefined {
  const revisions = revisionsOf(app);
  const weights = trafficWeights(app);
  const present = revisions.filter((revision) => presentReplicas(ctx, app.id, revision.name).length > 0);
  const weighted = [...present]
    .reverse()
    .sort((a, b) => (weights.get(b.name.toLowerCase()) ?? 0) - (weights.get(a.name.toLowerCase()) ?? 0));
  const latestReady = stringOf(recordOf(app.body['properties']), 'latestReadyRevisionName');
  return (
    weighted[0] ??
    revisions.find((revision) => revision.name === latestReady) ??
    revisions.find((revision) => revision.active) ??
    latestOf(app)
  );
}

function replicaView(ctx: StateContext, app: StoredResource, revision: Revision): ReplicaView | undefined {
  const replica = presentReplicas(ctx, app.id, revision.name).at(-1);
  if (!replica) return undefined;
  const started = replica.readyAt !== undefined;
  return {
    name: replica.name,
    revisionName: revision.name,
    started,
    ready: started,
    restartCount: replica.restartCount,
    ...(replica.crash ? { failure: `exit code ${replica.crash.exitCode}: ${replica.crash.reason}` } : {}),
  };
}

/** The runtime view of one container app (by ARM id or by name), or undefined. */
export function containerAppRuntime(ctx: StateContext, idOrName: string): ContainerAppRuntime | undefined {
  ctx.state.tick();
  const app =
    ctx.state.get(idOrName) ??
    ctx.state.find(appType).find((candidate) => candidate.name.toLowerCase() === idOrName.toLowerCase());
  if (!app || app.type !== appType) return undefined;
  refreshDueSecrets(ctx, app);
  const active = servingRevision(ctx, app);
  const template = recordOf(active?.template);
  const secrets = new Map(secretsOf(app).map((secret) => [secret.name, secret.value]));
  const containers = (Array.isArray(template['containers']) ? template['containers'] : []).map((raw) => {
    const container = recordOf(raw);
    const env: Record<string, string> = {};
    for (const item of Array.isArray(container['env']) ? container['env'] : []) {
      const variable = recordOf(item);
      const name = stringOf(variable, 'name');
      if (typeof variable['value'] === 'string') env[name] = variable['value'];
      else if (typeof variable['secretRef'] === 'string') {
        const value = secrets.get(variable['secretRef']);
        if (value !== undefined) env[name] = value;
      }
    }
    return { name: stringOf(container, 'name'), image: stringOf(container, 'image'), env };
  });
  const runningState = active ? revisionRunningState(ctx, app, active) : 'Stopped';
  const replica = active ? replicaView(ctx, app, active) : undefined;
  const fqdn = stringOf(
    recordOf(recordOf(recordOf(app.body['properties'])['configuration'])['ingress']),
    'fqdn',
  );
  return {
    id: app.id,
    name: app.name,
    resourceGroup: app.resourceGroup,
    ...(fqdn ? { fqdn } : {}),
    ...(active ? { activeRevision: active.name } : {}),
    runningState,
    healthState: active ? revisionHealth(ctx, app, active) : 'None',
    // A replica whose container runs answers; one in back-off is reachable only as far as the
    // platform goes (the stand-in answers its probes as never started).
    running: replica !== undefined && (replica.started || replica.failure !== undefined),
    containers,
    env: containers[0]?.env ?? {},
    image: containers[0]?.image ?? '',
    volumes: Array.isArray(template['volumes']) ? template['volumes'] : [],
    ...(replica ? { replica } : {}),
  };
}

function buildIdentity(input: PutInput): { identity?: Record<string, unknown>; systemPrincipalId?: string } {
  const { ctx, body, existing, name, id } = input;
  const requested = recordOf(body['identity']);
  const type = stringOf(requested, 'type', 'None');
  if (type === 'None') return {};
  const result: Record<string, unknown> = { type };
  let systemPrincipalId: string | undefined;
  if (type.includes('SystemAssigned')) {
    systemPrincipalId = (existing?.hidden['systemPrincipalId'] as string | undefined) ?? randomUUID();
    if (!ctx.state.identity.get(systemPrincipalId))
      ctx.state.identity.register({
        objectId: systemPrincipalId,
        appId: randomUUID(),
        displayName: name,
        managedIdentityId: id,
      });
    result['principalId'] = systemPrincipalId;
    result['tenantId'] = ctx.state.options.tenantId;
  }
  if (type.includes('UserAssigned')) {
    const assigned: Record<string, unknown> = {};
    for (const identityId of Object.keys(recordOf(requested['userAssignedIdentities']))) {
      const msi = ctx.state.get(identityId);
      if (!msi || msi.type !== 'Microsoft.ManagedIdentity/userAssignedIdentities') {
        throw armError(
          400,
          'InvalidUserAssignedIdentity',
          `The user-assigned identity '${identityId}' was not found.`,
        );
      }
      const properties = recordOf(msi.body['properties']);
      // GET lowercases the `resourcegroups` segment of these keys (ContainerApps_Get.json, 2025-07-01).
      assigned[msi.id.replace(/\/resourceGroups\//i, '/resourcegroups/')] = {
        principalId: properties['principalId'],
        clientId: properties['clientId'],
      };
    }
    result['userAssignedIdentities'] = assigned;
  }
  return { identity: result, ...(systemPrincipalId ? { systemPrincipalId } : {}) };
}

/**
 * Every secret must carry its value whole: a `value`, or a `keyVaultUrl` with the `identity` that
 * reads it. ARM replaces `configuration.secrets` as a whole and GET returns no values, so a secret
 * listed by name alone (to "keep" it) is refused, not kept. Sources: the `Secret` definition of
 * Microsoft.App 2025-07-01 (CommonDefinitions.json); the answer Azure gives, quoted in public
 * reports (Azure-Samples/langfuse-on-azure#12, pulumi/pulumi-azure-native#2673): 400
 * ContainerAppSecretInvalid "Invalid Request: Container app secret(s) with name(s) '...' are
 * invalid: value or keyVaultUrl and identity should be provided."; and azure-cli, which re-reads
 * values with listSecrets before it updates an app in place (`_get_existing_secrets`).
 */
function checkSecretsWhole(declared: Record<string, unknown>[]): void {
  const invalid = declared
    .filter(
      (secret) =>
        typeof secret['value'] !== 'string' &&
        (typeof secret['keyVaultUrl'] !== 'string' || typeof secret['identity'] !== 'string'),
    )
    .map((secret) => stringOf(secret, 'name'));
  if (invalid.length > 0)
    throw armError(
      400,
      'ContainerAppSecretInvalid',
      `Invalid Request: Container app secret(s) with name(s) '${invalid.join(', ')}' are invalid: value or keyVaultUrl and identity should be provided.`,
    );
}

/**
 * Probe fields within the ranges the Microsoft.App 2025-07-01 spec states (CommonDefinitions.json,
 * `ContainerAppProbe`): failureThreshold 1-10, successThreshold 1-10 and exactly 1 for liveness and
 * startup, periodSeconds 1-240, timeoutSeconds 1-240, terminationGracePeriodSeconds at most 3600,
 * type Liveness/Readiness/Startup, httpGet/tcpSocket with a port 1-65535, scheme HTTP/HTTPS; and at
 * most one probe of each type per container (learn.microsoft.com azure/container-apps/health-probes).
 * initialDelaySeconds: the spec says 1-60, Learn's probe page 0-60; the simulator takes the wider 0-60.
 * The code is the one Container Apps answers template field errors with
 * (InvalidParameterValueInContainerTemplate, "The following field(s) are either invalid or
 * missing. Field '...' is invalid with details: '...'", quoted in microsoft/azure-container-apps#1174);
 * the detail text is the simulator's.
 */
function checkProbes(containers: Record<string, unknown>[]): void {
  const problems: string[] = [];
  const ranges: [string, number, number][] = [
    ['failureThreshold', 1, 10],
    ['successThreshold', 1, 10],
    ['periodSeconds', 1, 240],
    ['timeoutSeconds', 1, 240],
    ['initialDelaySeconds', 0, 60],
    ['terminationGracePeriodSeconds', 0, 3600],
  ];
  containers.forEach((container, index) => {
    const probes = Array.isArray(container['probes']) ? container['probes'].map(recordOf) : [];
    const seen = new Set<string>();
    probes.forEach((probe, probeIndex) => {
      const at = `template.containers[${index}].probes[${probeIndex}]`;
      const type = stringOf(probe, 'type');
      if (!['Liveness', 'Readiness', 'Startup'].includes(type))
        problems.push(`Field '${at}.type' is invalid with details: 'Invalid value: "${type}"'`);
      else if (seen.has(type))
        problems.push(`Field '${at}.type' is invalid with details: 'only one ${type} probe is allowed'`);
      seen.add(type);
      for (const [field, min, max] of ranges) {
        const value = probe[field];
        if (value === undefined || value === null) continue;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
          problems.push(
            `Field '${at}.${field}' is invalid with details: 'Invalid value: ${JSON.stringify(value)}: must be between ${min} and ${max}'`,
          );
      }
      if (
        (type === 'Liveness' || type === 'Startup') &&
        probe['successThreshold'] !== undefined &&
        probe['successThreshold'] !== 1
      )
        problems.push(
          `Field '${at}.successThreshold' is invalid with details: 'must be 1 for ${type} probes'`,
        );
      const handlers = (['httpGet', 'tcpSocket'] as const).filter((key) => isRecord(probe[key]));
      if (handlers.length !== 1)
        problems.push(
          `Field '${at}' is invalid with details: 'exactly one of httpGet or tcpSocket is required'`,
        );
      for (const key of handlers) {
        const handler = recordOf(probe[key]);
        const port = handler['port'];
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
          problems.push(
            `Field '${at}.${key}.port' is invalid with details: 'must be in the range 1 to 65535'`,
          );
        if (
          key === 'httpGet' &&
          handler['scheme'] !== undefined &&
          !['HTTP', 'HTTPS'].includes(stringOf(handler, 'scheme'))
        )
          problems.push(`Field '${at}.httpGet.scheme' is invalid with details: 'must be HTTP or HTTPS'`);
      }
    });
  });
  if (problems.length > 0)
    throw armError(
      400,
      'InvalidParameterValueInContainerTemplate',
      `The following field(s) are either invalid or missing. ${problems.join('; ')}.`,
    );
}

/**
 * A Key Vault reference the app's identity cannot read (no grant, a grant still propagating, a
 * missing secret): Azure does not say which, and answers in one of two shapes, both quoted in
 * public reports (microsoft/azure-container-apps#1174, #722, #733): a synchronous 400
 * InvalidParameterValueInContainerTemplate "The following field(s) are either invalid or missing.
 * Field 'configuration.secrets' is invalid with details: 'Invalid value: "<name>": Unable to get
 * value using Managed identity <identity> for secret <name>. ...'", or a Failed operation whose
 * revision could not be provisioned ("Failed to provision revision ... unable to get value using
 * Managed identity"). The operation's code, ContainerAppOperationError, is the one Container Apps
 * reports failed operations with; the detail after the quoted part is the simulator's.
 */
function keyVaultReferenceFailure(
  ctx: StateContext,
  appName: string,
  unreadable: { secretName: string; identityRef: string; error: string },
): { code: string; message: string } {
  const mode = ctx.state.options.keyVaultReferenceFailure;
  const sync =
    mode === 'invalidParameter' || (mode === 'alternate' && ctx.state.keyVaultFailures++ % 2 === 0);
  const { secretName, identityRef, error } = unreadable;
  const detail = `Unable to get value using Managed identity ${identityRef} for secret ${secretName}. Error: unable to fetch secret '${secretName}' using Managed identity '${identityRef}' (${error})`;
  if (sync)
    throw armError(
      400,
      'InvalidParameterValueInContainerTemplate',
      `The following field(s) are either invalid or missing. Field 'configuration.secrets' is invalid with details: 'Invalid value: "${secretName}": ${detail}';.`,
    );
  return {
    code: 'ContainerAppOperationError',
    message: `Failed to provision revision for container app '${appName}'. Error details: '${secretName}' unable to get value using Managed identity ${identityRef}: ${detail}.`,
  };
}

/**
 * Ingress traffic rules: "The combined weight of all traffic split rules must equal 100%"
 * (learn.microsoft.com azure/container-apps/traffic-splitting); in single revision mode "Revision
 * weights can not be used" (`activeRevisionsMode`, ContainerApps spec 2025-07-01), so a rule naming a
 * revision is refused there. A rule naming a revision that does not exist: the sources are silent;
 * the simulator refuses it (a revision this very request creates, by its revisionSuffix, counts as
 * existing). The code and messages are the simulator's.
 */
function checkTraffic(configuration: Record<string, unknown>, revisions: Revision[]): void {
  const ingress = recordOf(configuration['ingress']);
  if (!Array.isArray(ingress['traffic'])) return;
  const rules = ingress['traffic'].map(recordOf);
  const problems: string[] = [];
  const total = rules.reduce(
    (sum, rule) => sum + (typeof rule['weight'] === 'number' ? rule['weight'] : 0),
    0,
  );
  if (rules.length > 0 && total !== 100) problems.push(`the traffic weights add up to ${total}, not 100`);
  // As stored: the body's mode, Single when omitted (a PATCH body is already merged).
  const mode =
    stringOf(configuration, 'activeRevisionsMode', 'Single').toLowerCase() === 'multiple'
      ? 'Multiple'
      : 'Single';
  rules.forEach((rule, index) => {
    const named = stringOf(rule, 'revisionName');
    if (named !== '' && rule['latestRevision'] === true)
      problems.push(`traffic[${index}] names a revision and latestRevision at once`);
    if (named === '') return;
    if (mode === 'Single')
      problems.push(
        `traffic[${index}] names revision '${named}', but revision weights can not be used in single revision mode`,
      );
    else if (!revisions.some((revision) => revision.name.toLowerCase() === named.toLowerCase()))
      problems.push(`traffic[${index}] names revision '${named}', which does not exist`);
  });
  if (problems.length > 0)
    throw armError(
      400,
      'ContainerAppInvalidIngressTraffic',
      `Invalid ingress traffic: ${problems.join('; ')}.`,
    );
}

const acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d';

/**
 * An image on a registry the app pulls from with a managed identity (`configuration.registries`
 * with `identity`) needs that identity to hold a pull role on the registry, propagated (AcrPull;
 * Reader, Contributor and Owner carry registries/pull/read too: learn.microsoft.com
 * azure/container-registry/container-registry-roles). Without it the revision cannot pull and fails.
 * Only registries the simulator holds (by `loginServer`) are checked: others are public to it. The
 * message, beyond ACR's "UNAUTHORIZED: authentication required", is the simulator's.
 */
function imagePullFailure(
  ctx: StateContext,
  appName: string,
  containers: Record<string, unknown>[],
  configuration: Record<string, unknown>,
  existing: StoredResource | undefined,
  systemPrincipalId: string | undefined,
): { code: string; message: string } | undefined {
  const registries = Array.isArray(configuration['registries'])
    ? configuration['registries'].map(recordOf)
    : [];
  for (const container of containers) {
    const image = stringOf(container, 'image');
    const host = image.split('/')[0]!.toLowerCase();
    const entry = registries.find((candidate) => stringOf(candidate, 'server').toLowerCase() === host);
    if (!entry || typeof entry['identity'] !== 'string') continue;
    const registry = ctx.state
      .find('Microsoft.ContainerRegistry/registries')
      .find(
        (candidate) => stringOf(recordOf(candidate.body['properties']), 'loginServer').toLowerCase() === host,
      );
    if (!registry) continue;
    const principal = principalForIdentity(ctx, existing, entry['identity'], systemPrincipalId);
    const canPull =
      principal !== undefined &&
      ctx.state
        .rolesAt(principal, registry.id, ctx.state.options.dataPlanePropagationMs)
        .some((role) => role.id === acrPullRoleId || role.control.read);
    if (!canPull)
      return {
        code: 'ContainerAppOperationError',
        message: `Failed to provision revision for container app '${appName}'. Error details: image '${image}' could not be pulled from ${host} with managed identity '${entry['identity']}': UNAUTHORIZED: authentication required (the identity has no pull role on the registry yet).`,
      };
  }
  return undefined;
}

const environmentSpec: ResourceTypeSpec = {
  schema: managedEnvironmentSchema,
  type: environmentType,
  apiVersions: containerAppsApiVersions,
  tracked: true,
  putMode: 'asyncOperation',
  patchMode: 'asyncOperation',
  runningState: 'InitializationInProgress',
  deleteMode: 'asyncOperation',
  build({ ctx, body, existing }) {
    const properties = recordOf(body['properties']);
    const logs = recordOf(properties['appLogsConfiguration']);
    let appLogsConfiguration: Record<string, unknown> | undefined;
    if (stringOf(logs, 'destination') === 'log-analytics') {
      const analytics = recordOf(logs['logAnalyticsConfiguration']);
      const customerId = stringOf(analytics, 'customerId');
      const workspace = workspaceByCustomerId(ctx, customerId);
      if (!workspace)
        throw armError(
          400,
          'ManagedEnvironmentInvalidLogAnalyticsConfiguration',
          `No Log Analytics workspace has customer id '${customerId}'.`,
        );
      const keys = workspaceSharedKeys(workspace);
      const sharedKey = stringOf(analytics, 'sharedKey');
      if (sharedKey !== keys.primarySharedKey && sharedKey !== keys.secondarySharedKey) {
        throw armError(
          400,
          'ManagedEnvironmentInvalidLogAnalyticsConfiguration',
          'The shared key of the Log Analytics workspace is not valid.',
        );
      }
      appLogsConfiguration = { destination: 'log-analytics', logAnalyticsConfiguration: { customerId } };
    } else if (logs['destination'] !== undefined) {
      appLogsConfiguration = { destination: logs['destination'] };
    }
    const previous = recordOf(existing?.body['properties']);
    const suffix = randomBytes(5).toString('hex');
    return {
      properties: {
        defaultDomain: stringOf(previous, 'defaultDomain', `${suffix}.westeurope.azurecontainerapps.io`),
        staticIp: stringOf(
          previous,
          'staticIp',
          `20.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`,
        ),
        ...(appLogsConfiguration ? { appLogsConfiguration } : {}),
        zoneRedundant: properties['zoneRedundant'] === true,
        workloadProfiles: Array.isArray(properties['workloadProfiles'])
          ? properties['workloadProfiles']
          : [{ name: 'Consumption', workloadProfileType: 'Consumption' }],
        infrastructureResourceGroup: stringOf(previous, 'infrastructureResourceGroup', `ME_${suffix}`),
        peerAuthentication: recordOf(properties['peerAuthentication']),
      },
    };
  },
};

const storageSpec: ResourceTypeSpec = {
  schema: environmentStorageSchema,
  type: `${environmentType}/storages`,
  apiVersions: containerAppsApiVersions,
  tracked: false,
  putMode: 'sync',
  createdStatus: 200,
  deleteMode: 'sync',
  build({ body }) {
    const azureFile = recordOf(recordOf(body['properties'])['azureFile']);
    for (const field of ['accountName', 'shareName', 'accessMode']) {
      if (typeof azureFile[field] !== 'string')
        throw armError(400, 'InvalidRequestContent', `properties.azureFile.${field} is required.`);
    }
    // The account key is write-only: stored privately, never returned.
    const { accountKey, ...visible } = azureFile;
    return { properties: { azureFile: visible }, hidden: { accountKey } };
  },
};

const appSpec: ResourceTypeSpec = {
  schema: containerAppSchema,
  type: appType,
  apiVersions: containerAppsApiVersions,
  tracked: true,
  putMode: 'asyncOperation',
  patchMode: 'asyncOperation',
  runningState: 'InProgress',
  deleteMode: 'asyncOperation',
  build(input) {
    const { ctx, body, name, existing } = input;
    const properties = recordOf(body['properties']);
    const environmentId = stringOf(properties, 'managedEnvironmentId', stringOf(properties, 'environmentId'));
    const environment = environmentId ? ctx.state.get(environmentId) : undefined;
    if (!environment || environment.type !== environmentType) {
      throw armError(
        400,
        'ManagedEnvironmentNotFound',
        `The managed environment '${environmentId}' was not found.`,
      );
    }
    const { identity, systemPrincipalId } = buildIdentity(input);
    const configuration = recordOf(properties['configuration']);
    const template = recordOf(properties['template']);
    const containers = Array.isArray(template['containers']) ? template['containers'].map(recordOf) : [];
    if (
      containers.length === 0 ||
      containers.some(
        (container) => typeof container['image'] !== 'string' || typeof container['name'] !== 'string',
      )
    ) {
      throw armError(
        400,
        'ContainerAppInvalidTemplate',
        'template.containers needs at least one container, each with a name and an image.',
      );
    }
    checkProbes(containers);
    const now = ctx.state.clock.now();
    const declared = Array.isArray(configuration['secrets']) ? configuration['secrets'].map(recordOf) : [];
    const secrets: ResolvedSecret[] = [];
    let unreadable: { secretName: string; identityRef: string; error: string } | undefined;
    checkSecretsWhole(declared);
    for (const secret of declared) {
      const secretName = stringOf(secret, 'name');
      if (typeof secret['value'] === 'string')
        secrets.push({ name: secretName, value: secret['value'], fetchedAt: now });
      else {
        const keyVaultUrl = stringOf(secret, 'keyVaultUrl');
        const identityRef = stringOf(secret, 'identity');
        const fetched = fetchKeyVaultSecret(
          ctx,
          keyVaultUrl,
          principalForIdentity(ctx, existing, identityRef, systemPrincipalId),
        );
        const resolved: ResolvedSecret = {
          name: secretName,
          keyVaultUrl,
          identity: identityRef,
          fetchedAt: now,
        };
        if ('value' in fetched) secrets.push({ ...resolved, value: fetched.value, version: fetched.version });
        else {
          secrets.push({ ...resolved, error: fetched.error });
          unreadable ??= { secretName, identityRef, error: fetched.error };
        }
      }
    }
    const failure = unreadable
      ? keyVaultReferenceFailure(ctx, name, unreadable)
      : imagePullFailure(ctx, name, containers, configuration, existing, systemPrincipalId);
    const secretNames = new Set(secrets.map((secret) => secret.name));
    for (const container of containers) {
      for (const variable of Array.isArray(container['env']) ? container['env'].map(recordOf) : []) {
        if (typeof variable['secretRef'] === 'string' && !secretNames.has(variable['secretRef'])) {
          throw armError(
            400,
            'ContainerAppSecretRefNotFound',
            `Env var '${stringOf(variable, 'name')}' refers to secret '${variable['secretRef']}', which is not defined.`,
          );
        }
      }
    }
    // A new revision when the template changes (revision-scope change); secrets alone do not make one.
    const revisions: Revision[] = structuredClone(existing ? revisionsOf(existing) : []);
    const latest = revisions.at(-1);
    const templateChanged = !latest || JSON.stringify(latest.template) !== JSON.stringify(template);
    if (templateChanged) {
      const suffix = stringOf(template, 'revisionSuffix') || randomBytes(4).toString('hex').slice(0, 7);
      const revisionName = `${name}--${suffix}`;
      if (revisions.some((revision) => revision.name === revisionName)) {
        throw armError(
          400,
          'ContainerAppRevisionSuffixConflict',
          `Revision '${revisionName}' already exists; use a new revisionSuffix.`,
        );
      }
      revisions.push({
        name: revisionName,
        createdTime: now,
        template,
        active: false,
        provisioningState: 'Provisioning',
      });
    }
    checkTraffic(configuration, revisions);
    const environmentProperties = recordOf(environment.body['properties']);
    // A GET answers what was sent with the defaults and nulls Azure fills in: the nulls and
    // exposedPort 0 as a real GET shows them (the app quoted in microsoft/azure-container-apps#1174),
    // the scale defaults as learn.microsoft.com azure/container-apps/scale-app documents them.
    const ingress = isRecord(configuration['ingress'])
      ? {
          transport: 'Auto',
          allowInsecure: false,
          traffic: [{ weight: 100, latestRevision: true }],
          additionalPortMappings: null,
          clientCertificateMode: null,
          corsPolicy: null,
          customDomains: null,
          exposedPort: 0,
          ipSecurityRestrictions: null,
          stickySessions: null,
          ...configuration['ingress'],
          fqdn: `${name}.${stringOf(environmentProperties, 'defaultDomain')}`,
        }
      : undefined;
    const previous = recordOf(existing?.body['properties']);
    const newest = revisions.at(-1)!;
    return {
      ...(failure ? { failure } : {}),
      extra: identity ? { identity } : { identity: { type: 'None' } },
      properties: {
        managedEnvironmentId: environment.id,
        environmentId: environment.id,
        workloadProfileName: stringOf(properties, 'workloadProfileName', 'Consumption'),
        latestRevisionName: newest.name,
        latestReadyRevisionName: stringOf(previous, 'latestReadyRevisionName', ''),
        latestRevisionFqdn: ingress
          ? `${newest.name}.${stringOf(environmentProperties, 'defaultDomain')}`
          : '',
        customDomainVerificationId: stringOf(
          previous,
          'customDomainVerificationId',
          randomBytes(32).toString('hex').toUpperCase(),
        ),
        configuration: {
          activeRevisionsMode: stringOf(configuration, 'activeRevisionsMode', 'Single'),
          dapr: null,
          ...configuration,
          secrets: secrets.map((secret) => ({
            name: secret.name,
            ...(secret.keyVaultUrl ? { keyVaultUrl: secret.keyVaultUrl } : {}),
            ...(secret.identity ? { identity: secret.identity } : {}),
          })),
          ...(ingress ? { ingress } : {}),
        },
        template: {
          ...template,
          scale: { cooldownPeriod: 300, pollingInterval: 30, ...recordOf(template['scale']) },
        },
        runningStatus: 'Running',
        outboundIpAddresses: [stringOf(environmentProperties, 'staticIp')],
      },
      hidden: { revisions, secrets, ...(systemPrincipalId ? { systemPrincipalId } : {}) },
    };
  },
  onProvisioned(app, ctx) {
    const newest = revisionsOf(app).at(-1);
    if (!newest || newest.provisioningState !== 'Provisioning') return;
    // The new revision runs; in single revision mode the old one stops once the new one is ready
    // (reconcileContainerApps), not before.
    newest.provisioningState = 'Provisioned';
    newest.active = true;
    ctx.state.emit({ kind: 'revisionCreated', appId: app.id, revisionName: newest.name });
  },
  onFailed(app, ctx) {
    const newest = revisionsOf(app).at(-1);
    if (newest?.provisioningState !== 'Provisioning') return;
    newest.provisioningState = 'Failed';
    stopReplicas(ctx, app.id, newest.name, ctx.state.clock.now());
  },
  onDeleted(app, ctx) {
    for (const revision of revisionsOf(app)) stopReplicas(ctx, app.id, revision.name, ctx.state.clock.now());
    ctx.state.emit({ kind: 'appDeleted', appId: app.id });
  },
  actions: {
    listsecrets: ({ ctx, resource }): SimResponse => {
      refreshDueSecrets(ctx, resource);
      return {
        status: 200,
        body: {
          value: secretsOf(resource).map((secret) => ({
            name: secret.name,
            ...(secret.value !== undefined &&
            (secret.keyVaultUrl === undefined || ctx.state.options.listSecretsKeyVaultValues)
              ? { value: secret.value }
              : {}),
            ...(secret.keyVaultUrl ? { keyVaultUrl: secret.keyVaultUrl } : {}),
            ...(secret.identity ? { identity: secret.identity } : {}),
          })),
        },
      };
    },
  },
  async route({ ctx, req, resource, segments }) {
    const [collection, revisionName, action, replicaName, ...extra] = segments;
    if (collection?.toLowerCase() !== 'revisions' || extra.length > 0) return undefined;
    ctx.state.tick();
    const revisions = revisionsOf(resource);
    if (revisionName === undefined) {
      if (req.method !== 'GET') return undefined;
      return {
        status: 200,
        body: { value: revisions.map((revision) => revisionResource(ctx, resource, revision)) },
      };
    }
    const revision = revisions.find(
      (candidate) => candidate.name.toLowerCase() === revisionName.toLowerCase(),
    );
    if (!revision)
      throw armError(
        404,
        'ContainerAppRevisionNotFound',
        `Revision '${revisionName}' of container app '${resource.name}' was not found.`,
      );
    if (action === undefined && req.method === 'GET')
      return { status: 200, body: revisionResource(ctx, resource, revision) };
    // ContainerAppsRevisionReplicas_ListReplicas / _GetReplica (2025-07-01): the replicas present now.
    if (action?.toLowerCase() === 'replicas' && req.method === 'GET') {
      const present = presentReplicas(ctx, resource.id, revision.name);
      if (replicaName === undefined)
        return {
          status: 200,
          body: { value: present.map((replica) => replicaResource(ctx, resource, revision, replica)) },
        };
      const replica = present.find((candidate) => candidate.name.toLowerCase() === replicaName.toLowerCase());
      if (!replica)
        throw armError(
          404,
          'ContainerAppReplicaNotFound',
          `Replica '${replicaName}' of revision '${revision.name}' was not found.`,
        );
      return { status: 200, body: replicaResource(ctx, resource, revision, replica) };
    }
    if (req.method !== 'POST' || action === undefined || replicaName !== undefined) return undefined;
    const now = ctx.state.clock.now();
    const revisionId = `${resource.id}/revisions/${revision.name}`;
    switch (action.toLowerCase()) {
      // Activation starts a replica, which takes the revision `activate` time to start; deactivation
      // shuts the containers down (application-lifecycle-management, "Deactivate"), taking the
      // `deactivate` time. The 200 comes at once (the spec's only answer); GET shows the transition.
      case 'activate':
        if (!revision.active || presentReplicas(ctx, resource.id, revision.name).length === 0) {
          revision.active = true;
          if (
            !presentReplicas(ctx, resource.id, revision.name).some(
              (replica) => replica.stoppedAt === undefined,
            )
          )
            startReplica(
              ctx,
              resource,
              revision,
              now,
              now + someMs(ctx.state.durationOf(revisionId, 'activate')),
            );
          reconcileContainerApps(ctx);
        }
        ctx.state.emit({ kind: 'revisionActivated', appId: resource.id, revisionName: revision.name });
        return { status: 200 };
      case 'deactivate':
        revision.active = false;
        stopReplicas(
          ctx,
          resource.id,
          revision.name,
          now + someMs(ctx.state.durationOf(revisionId, 'deactivate')),
        );
        ctx.state.emit({ kind: 'revisionDeactivated', appId: resource.id, revisionName: revision.name });
        return { status: 200 };
      case 'restart':
        if (!revision.active)
          throw armError(
            400,
            'ContainerAppRevisionNotActive',
            `Revision '${revision.name}' is not active and cannot be restarted.`,
          );
        // A restart replaces the replica: the old one stops now and a new one starts, its container
        // after the `restart` time. Whether Azure starts the new one before the old one ends is not
        // published; the simulator does not overlap them. A restart does not re-read Key Vault
        // references: the app keeps the values it holds.
        stopReplicas(ctx, resource.id, revision.name, now);
        startReplica(ctx, resource, revision, now, now + someMs(ctx.state.durationOf(revisionId, 'restart')));
        reconcileContainerApps(ctx);
        ctx.state.emit({ kind: 'revisionRestarted', appId: resource.id, revisionName: revision.name });
        return { status: 200 };
      default:
        return undefined;
    }
  },
};

const authConfigSpec: ResourceTypeSpec = {
  schema: authConfigSchema,
  type: `${appType}/authConfigs`,
  apiVersions: containerAppsApiVersions,
  tracked: false,
  putMode: 'sync',
  createdStatus: 200,
  deleteMode: 'sync',
  build({ body, name }) {
    if (name !== 'current')
      throw armError(400, 'InvalidAuthConfigName', `The auth config name must be 'current', not '${name}'.`);
    return { properties: recordOf(body['properties']) };
  },
};

/**
 * Microsoft.App: managed environments (+ Azure Files storages) and container apps with
 * revisions, Key Vault secret references resolved through the app's identity and RBAC, and
 * authConfigs. PUT/PATCH answer with Azure-AsyncOperation; deletes with 202 + Location +
 * Azure-AsyncOperation; revision actions and listSecrets are synchronous.
 */
export const containerAppsProvider: ProviderModule = {
  namespace: 'Microsoft.App',
  types: [environmentSpec, storageSpec, appSpec, authConfigSpec],
};
