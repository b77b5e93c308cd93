import { createHash, randomBytes } from 'node:crypto';
import type { AuthConfig, ContainerApp } from '@azure/arm-appcontainers';
import type { AzureClients } from './azureClients.js';
import type { AzureFailure } from './azureErrors.js';
import {
  driftOf,
  driftSummary,
  getOrUndefined,
  ownershipTags,
  readUnlessNew,
  type Change,
  type EnsureOptions,
  type Ensured,
} from './ensure.js';
import { storageAccountKey } from './storage.js';
import { workspaceSharedKey } from './monitoring.js';
import { stopRevisions } from './revisions.js';

export interface ManagedEnvironmentFacts {
  id: string;
  /** `<unique>.<region>.azurecontainerapps.io`: apps get `<app>.<defaultDomain>`. */
  defaultDomain: string;
}

export interface ContainerAppFacts {
  id: string;
  fqdn: string;
  latestRevisionName: string;
}

/** Tag on the container app holding a hash of the rendered config files (their text is write-only). */
export const CONFIG_HASH_TAG = 'claw-broker-config';

/**
 * The Container Apps environment, shipping its logs to the slug's Log Analytics workspace.
 * Idempotent: read first; created when missing, log destination and tags repaired when drifted.
 * The workspace's shared key is fetched only when writing, used in the request and dropped.
 */
export async function ensureManagedEnvironment(
  azure: AzureClients,
  input: {
    resourceGroup: string;
    name: string;
    slug: string;
    location: string;
    workspace: { resourceGroup: string; name: string; customerId: string };
  },
  options: EnsureOptions = {},
): Promise<Ensured<ManagedEnvironmentFacts>> {
  const tags = ownershipTags(input.slug);
  const environments = azure.containerApps.managedEnvironments;
  const existing = await readUnlessNew(options.inNewGroup, () =>
    environments.get(input.resourceGroup, input.name),
  );
  const drift = existing
    ? driftOf(
        {
          tags,
          appLogsConfiguration: {
            // A GET may leave the destination out (the 2025-07-01 examples show only customerId,
            // which the spec says is given only for log-analytics): then the customer id decides.
            destination:
              existing.appLogsConfiguration?.destination === undefined ? undefined : 'log-analytics',
            logAnalyticsConfiguration: { customerId: input.workspace.customerId },
          },
        },
        existing,
      )
    : [];
  if (existing?.provisioningState === 'Failed') drift.push('provisioningState (Failed)');
  if (existing && drift.length === 0) return { value: environmentFacts(existing) };
  const sharedKey = await workspaceSharedKey(azure, input.workspace);
  const written = await environments.beginCreateOrUpdateAndWait(
    input.resourceGroup,
    input.name,
    {
      location: existing?.location ?? input.location,
      tags: { ...existing?.tags, ...tags },
      appLogsConfiguration: {
        destination: 'log-analytics',
        logAnalyticsConfiguration: { customerId: input.workspace.customerId, sharedKey },
      },
    },
    azure.poll,
  );
  return {
    value: environmentFacts(written),
    change: existing
      ? { resource: `Container Apps environment ${input.name}`, action: 'updated', fields: drift }
      : { resource: `Container Apps environment ${input.name}`, action: 'created' },
  };
}

/**
 * Registers the state file share on the environment (read-write), so the app can mount it.
 * Idempotent: read first; written only when missing or pointing elsewhere. The account key is
 * write-only in ARM (never returned), fetched only when writing.
 */
export async function ensureEnvironmentStorage(
  azure: AzureClients,
  input: {
    resourceGroup: string;
    environmentName: string;
    storageName: string;
    accountName: string;
    shareName: string;
  },
  options: EnsureOptions = {},
): Promise<Change | undefined> {
  const storages = azure.containerApps.managedEnvironmentsStorages;
  const desired = {
    accountName: input.accountName,
    shareName: input.shareName,
    accessMode: 'ReadWrite' as const,
  };
  const existing = await readUnlessNew(options.inNewGroup, () =>
    storages.get(input.resourceGroup, input.environmentName, input.storageName),
  );
  const drift = existing ? driftOf({ properties: { azureFile: desired } }, existing) : [];
  if (existing && drift.length === 0) return undefined;
  const accountKey = await storageAccountKey(azure, {
    resourceGroup: input.resourceGroup,
    accountName: input.accountName,
  });
  await storages.createOrUpdate(input.resourceGroup, input.environmentName, input.storageName, {
    properties: { azureFile: { ...desired, accountKey } },
  });
  const resource = `environment storage ${input.environmentName}/${input.storageName}`;
  return existing ? { resource, action: 'updated', fields: drift } : { resource, action: 'created' };
}

/**
 * Deploys the container app `spec` (built by buildContainerAppSpec) when the app is missing, differs
 * from it, or its latest revision failed. Idempotent: it reads first and compares what the spec
 * sets (secret values excluded: ARM never returns them; the rendered config files are compared by
 * the hash in CONFIG_HASH_TAG). A failed revision is redeployed under a new revision suffix, since
 * the same template would otherwise not make a new revision. A failed deployment surfaces as
 * Azure's error (see isKeyVaultReferenceUnreadable for the one that means "not yet").
 *
 * One writer: before a write that makes a new revision, every running revision is deactivated; the
 * answer carries `waiting` (and writes nothing) until none has a replica, for the caller to ask
 * again.
 */
export async function ensureContainerApp(
  azure: AzureClients,
  input: { resourceGroup: string; name: string; spec: ContainerApp; configHash: string },
): Promise<Ensured<ContainerAppFacts> & { waiting?: string }> {
  const apps = azure.containerApps.containerApps;
  const spec: ContainerApp = {
    ...input.spec,
    tags: { ...input.spec.tags, [CONFIG_HASH_TAG]: input.configHash },
  };
  // Always read, even in a new group: whether the latest revision failed decides the body (a PUT
  // of an unchanged template would not replace a failed revision).
  const existing = await getOrUndefined(() => apps.get(input.resourceGroup, input.name));
  const failed = existing?.provisioningState === 'Failed';
  const drift = existing ? driftOf(comparable(spec), existing) : [];
  if (existing && !failed && drift.length === 0) return { value: appFacts(existing) };
  // A write that makes a new revision (a template change, or replacing a failed one) starts it only
  // once no revision runs: OpenClaw must stay the only writer of its state share.
  if (existing && (failed || driftOf(spec.template, existing.template).length > 0)) {
    const stopped = await stopRevisions(azure, input.resourceGroup, input.name);
    if (stopped.stillRunning.length > 0) {
      return {
        value: appFacts(existing),
        waiting: `stopping revision(s) ${stopped.stillRunning.join(', ')} before the new one starts (one writer on the state share)`,
      };
    }
  }
  const body: ContainerApp = failed
    ? { ...spec, template: { ...spec.template, revisionSuffix: `r${randomBytes(3).toString('hex')}` } }
    : spec;
  const written = await apps.beginCreateOrUpdateAndWait(input.resourceGroup, input.name, body, azure.poll);
  const resource = `container app ${input.name}`;
  return {
    value: appFacts(written),
    change: !existing
      ? { resource, action: 'created' }
      : {
          resource,
          action: 'updated',
          fields: failed ? ['failed revision', ...driftSummary(drift)] : driftSummary(drift),
        },
  };
}

/**
 * Whether a container app write failed because a Key Vault reference could not be read through the
 * app's identity. Azure answers it in two shapes (public reports: microsoft/azure-container-apps
 * #1174, #722, #733): a synchronous 400 InvalidParameterValueInContainerTemplate ("Field
 * 'configuration.secrets' is invalid ... Unable to get value using Managed identity ...") or a
 * Failed operation ("Failed to provision revision ... unable to get value using Managed
 * identity"). Neither says why: a grant still propagating (minutes) reads the same as a missing
 * grant or secret, so the caller waits and retries within its propagation timeout instead of
 * failing at once. Matched on the message, since the codes differ between the shapes.
 */
export function isKeyVaultReferenceUnreadable(failure: AzureFailure): boolean {
  return /unable to (?:get|fetch) (?:value|secret)[\s\S]*?using managed identity/i.test(failure.message);
}

/**
 * Whether a container app write failed because its image could not be pulled from `loginServer`
 * with the app's identity: an AcrPull grant that has not propagated yet reads like a missing one
 * (ACR answers "UNAUTHORIZED: authentication required"), so the caller waits within its
 * propagation timeout. Matched on the registry's name and ACR's refusal in the message, whatever
 * the code.
 */
export function isImagePullUnauthorized(failure: AzureFailure, loginServer: string): boolean {
  const message = failure.message.toLowerCase();
  return message.includes(loginServer.toLowerCase()) && /unauthorized|authentication required/.test(message);
}

/**
 * Puts the app's built-in authentication (`authConfigs/current`). Idempotent: read first, written
 * only when it differs from `desired` in what `desired` sets.
 */
export async function ensureAuthConfig(
  azure: AzureClients,
  input: { resourceGroup: string; appName: string; desired: AuthConfig },
  options: EnsureOptions = {},
): Promise<Change | undefined> {
  const configs = azure.containerApps.containerAppsAuthConfigs;
  const existing = await readUnlessNew(options.inNewGroup, () =>
    configs.get(input.resourceGroup, input.appName, 'current'),
  );
  const drift = existing ? driftOf(input.desired, existing) : [];
  if (existing && drift.length === 0) return undefined;
  await configs.createOrUpdate(input.resourceGroup, input.appName, 'current', input.desired);
  const resource = `built-in auth of ${input.appName}`;
  return existing
    ? { resource, action: 'updated', fields: driftSummary(drift, 3) }
    : { resource, action: 'created' };
}

/** A short, stable hash of the rendered config texts (no secrets: they hold only `${ENV}` names). */
export function configHash(...texts: string[]): string {
  return createHash('sha256').update(texts.join('\u0000')).digest('hex').slice(0, 16);
}

/** The parts of a spec ARM returns as sent: everything except secret values and the location. */
function comparable(spec: ContainerApp): unknown {
  const { location: _location, configuration, ...rest } = spec;
  return {
    ...rest,
    configuration: configuration && {
      ...configuration,
      secrets: configuration.secrets?.map(({ value: _value, ...secret }) => secret),
    },
  };
}

function environmentFacts(environment: { id?: string; defaultDomain?: string }): ManagedEnvironmentFacts {
  return { id: environment.id!, defaultDomain: environment.defaultDomain! };
}

function appFacts(app: ContainerApp): ContainerAppFacts {
  return {
    id: app.id!,
    fqdn: app.configuration?.ingress?.fqdn ?? app.latestRevisionFqdn ?? '',
    latestRevisionName: app.latestRevisionName ?? '',
  };
}
