import { randomBytes, randomUUID } from 'node:crypto';
import type { SimResponse } from '../surface.js';
import { armError } from './armErrors.js';
import type { StoredResource } from './armState.js';
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
  active: boolean;
  provisioningState: 'Provisioning' | 'Provisioned' | 'Failed';
  /** A restart keeps the revision "Activating" until this simulated time. */
  restartingUntil?: number;
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

function revisionRunningState(ctx: StateContext, revision: Revision): string {
  if (revision.provisioningState === 'Failed') return 'Failed';
  if (revision.provisioningState === 'Provisioning') return 'Activating';
  if (!revision.active) return 'Stopped';
  if (revision.restartingUntil !== undefined && ctx.state.clock.now() < revision.restartingUntil)
    return 'Activating';
  return 'Running';
}

function revisionHealth(ctx: StateContext, revision: Revision): string {
  if (revision.provisioningState === 'Failed') return 'Unhealthy';
  const running = revisionRunningState(ctx, revision);
  return running === 'Running' ? 'Healthy' : 'None';
}

function revisionResource(
  ctx: StateContext,
  app: StoredResource,
  revision: Revision,
): Record<string, unknown> {
  const fqdn = stringOf(recordOf(app.body['properties']), 'latestRevisionFqdn');
  return {
    id: `${app.id}/revisions/${revision.name}`,
    name: revision.name,
    type: 'Microsoft.App/containerApps/revisions',
    properties: {
      createdTime: new Date(revision.createdTime).toISOString(),
      lastActiveTime: new Date(revision.createdTime).toISOString(),
      fqdn: fqdn.replace(/^[^.]+/, revision.name),
      template: revision.template,
      active: revision.active,
      replicas: revision.active && revision.provisioningState === 'Provisioned' ? 1 : 0,
      trafficWeight: revision.active ? 100 : 0,
      healthState: revisionHealth(ctx, revision),
      provisioningState: revision.provisioningState,
      runningState: revisionRunningState(ctx, revision),
    },
  };
}

function latestOf(app: StoredResource): Revision | undefined {
  return revisionsOf(app).at(-1);
}

/** The runtime view of one container app (by ARM id or by name), or undefined. */
export function containerAppRuntime(ctx: StateContext, idOrName: string): ContainerAppRuntime | undefined {
  ctx.state.tick();
  const app =
    ctx.state.get(idOrName) ??
    ctx.state.find(appType).find((candidate) => candidate.name.toLowerCase() === idOrName.toLowerCase());
  if (!app || app.type !== appType) return undefined;
  refreshDueSecrets(ctx, app);
  const active = revisionsOf(app).find((revision) => revision.active) ?? latestOf(app);
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
  const runningState = active ? revisionRunningState(ctx, active) : 'Stopped';
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
    healthState: active ? revisionHealth(ctx, active) : 'None',
    running: runningState === 'Running',
    containers,
    env: containers[0]?.env ?? {},
    image: containers[0]?.image ?? '',
    volumes: Array.isArray(template['volumes']) ? template['volumes'] : [],
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
      assigned[msi.id] = { principalId: properties['principalId'], clientId: properties['clientId'] };
    }
    result['userAssignedIdentities'] = assigned;
  }
  return { identity: result, ...(systemPrincipalId ? { systemPrincipalId } : {}) };
}

const environmentSpec: ResourceTypeSpec = {
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
    const now = ctx.state.clock.now();
    const declared = Array.isArray(configuration['secrets']) ? configuration['secrets'].map(recordOf) : [];
    const secrets: ResolvedSecret[] = [];
    let failure: { code: string; message: string } | undefined;
    for (const secret of declared) {
      const secretName = stringOf(secret, 'name');
      if (typeof secret['value'] === 'string')
        secrets.push({ name: secretName, value: secret['value'], fetchedAt: now });
      else if (typeof secret['keyVaultUrl'] === 'string') {
        const identityRef = typeof secret['identity'] === 'string' ? secret['identity'] : undefined;
        const fetched = fetchKeyVaultSecret(
          ctx,
          secret['keyVaultUrl'],
          principalForIdentity(ctx, existing, identityRef, systemPrincipalId),
        );
        const resolved: ResolvedSecret = {
          name: secretName,
          keyVaultUrl: secret['keyVaultUrl'],
          ...(identityRef ? { identity: identityRef } : {}),
          fetchedAt: now,
        };
        if ('value' in fetched) secrets.push({ ...resolved, value: fetched.value, version: fetched.version });
        else {
          secrets.push({ ...resolved, error: fetched.error });
          failure ??= {
            code: 'ContainerAppSecretKeyVaultReferenceFailed',
            message: `Failed to provision revision: Key Vault reference for secret '${secretName}' could not be resolved: ${fetched.error}.`,
          };
        }
      } else if (existing) {
        // A PATCH that lists a secret by name only keeps its current value.
        const kept = secretsOf(existing).find((candidate) => candidate.name === secretName);
        if (kept) secrets.push(kept);
        else
          throw armError(
            400,
            'ContainerAppSecretInvalid',
            `Secret '${secretName}' needs a value or a keyVaultUrl.`,
          );
      } else
        throw armError(
          400,
          'ContainerAppSecretInvalid',
          `Secret '${secretName}' needs a value or a keyVaultUrl.`,
        );
    }
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
    const environmentProperties = recordOf(environment.body['properties']);
    const ingress = isRecord(configuration['ingress'])
      ? {
          transport: 'Auto',
          allowInsecure: false,
          traffic: [{ weight: 100, latestRevision: true }],
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
          ...configuration,
          secrets: secrets.map((secret) => ({
            name: secret.name,
            ...(secret.keyVaultUrl ? { keyVaultUrl: secret.keyVaultUrl } : {}),
            ...(secret.identity ? { identity: secret.identity } : {}),
          })),
          ...(ingress ? { ingress } : {}),
        },
        template,
        runningStatus: 'Running',
        outboundIpAddresses: [stringOf(environmentProperties, 'staticIp')],
      },
      hidden: { revisions, secrets, ...(systemPrincipalId ? { systemPrincipalId } : {}) },
    };
  },
  onProvisioned(app, ctx) {
    const revisions = revisionsOf(app);
    const newest = revisions.at(-1);
    if (!newest || newest.provisioningState !== 'Provisioning') return;
    const single =
      stringOf(
        recordOf(recordOf(app.body['properties'])['configuration']),
        'activeRevisionsMode',
        'Single',
      ) !== 'Multiple';
    // Stop before start: in single-revision mode the old revision is deactivated before the new one runs.
    if (single) {
      for (const revision of revisions) {
        if (revision !== newest && revision.active) {
          revision.active = false;
          ctx.state.emit({ kind: 'revisionDeactivated', appId: app.id, revisionName: revision.name });
        }
      }
    }
    newest.provisioningState = 'Provisioned';
    newest.active = true;
    (app.body['properties'] as Record<string, unknown>)['latestReadyRevisionName'] = newest.name;
    ctx.state.emit({ kind: 'revisionCreated', appId: app.id, revisionName: newest.name });
  },
  onFailed(app) {
    const newest = revisionsOf(app).at(-1);
    if (newest?.provisioningState === 'Provisioning') newest.provisioningState = 'Failed';
  },
  onDeleted(app, ctx) {
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
            ...(secret.value !== undefined ? { value: secret.value } : {}),
            ...(secret.keyVaultUrl ? { keyVaultUrl: secret.keyVaultUrl } : {}),
            ...(secret.identity ? { identity: secret.identity } : {}),
          })),
        },
      };
    },
  },
  async route({ ctx, req, resource, segments }) {
    const [collection, revisionName, action, ...extra] = segments;
    if (collection?.toLowerCase() !== 'revisions' || extra.length > 0) return undefined;
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
    if (req.method !== 'POST' || action === undefined) return undefined;
    switch (action.toLowerCase()) {
      case 'activate':
        revision.active = true;
        ctx.state.emit({ kind: 'revisionActivated', appId: resource.id, revisionName: revision.name });
        return { status: 200 };
      case 'deactivate':
        revision.active = false;
        ctx.state.emit({ kind: 'revisionDeactivated', appId: resource.id, revisionName: revision.name });
        return { status: 200 };
      case 'restart':
        if (!revision.active)
          throw armError(
            400,
            'ContainerAppRevisionNotActive',
            `Revision '${revision.name}' is not active and cannot be restarted.`,
          );
        // A restart does not re-read Key Vault references: the app keeps the values it holds.
        revision.restartingUntil =
          ctx.state.clock.now() +
          Math.max(ctx.state.durationOf(`${resource.id}/revisions/${revision.name}`, 'restart'), 1);
        ctx.state.emit({ kind: 'revisionRestarted', appId: resource.id, revisionName: revision.name });
        return { status: 200 };
      default:
        return undefined;
    }
  },
};

const authConfigSpec: ResourceTypeSpec = {
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
