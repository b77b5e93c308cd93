import type { AzureClients } from './azureClients.js';
import { driftOf, readUnlessNew, ownershipTags, type EnsureOptions, type Ensured } from './ensure.js';

export interface WorkspaceFacts {
  id: string;
  customerId: string;
}

export interface AppInsightsFacts {
  id: string;
}

/** Days the slug's logs are kept in Log Analytics. */
export const LOG_RETENTION_DAYS = 30;

/**
 * The slug's Log Analytics workspace. Idempotent: read first; created when missing, retention,
 * SKU and tags repaired when drifted.
 */
export async function ensureLogAnalyticsWorkspace(
  azure: AzureClients,
  input: { resourceGroup: string; name: string; slug: string; location: string },
  options: EnsureOptions = {},
): Promise<Ensured<WorkspaceFacts>> {
  const tags = ownershipTags(input.slug);
  const desired = { tags, sku: { name: 'PerGB2018' as const }, retentionInDays: LOG_RETENTION_DAYS };
  const existing = await readUnlessNew(options.inNewGroup, () =>
    azure.logAnalytics.workspaces.get(input.resourceGroup, input.name),
  );
  const drift = existing ? driftOf(desired, existing) : [];
  if (existing?.provisioningState === 'Failed') drift.push('provisioningState (Failed)');
  if (existing && drift.length === 0) return { value: factsOf(existing) };
  const written = await azure.logAnalytics.workspaces.beginCreateOrUpdateAndWait(
    input.resourceGroup,
    input.name,
    { ...desired, tags: { ...existing?.tags, ...tags }, location: existing?.location ?? input.location },
    azure.poll,
  );
  return {
    value: factsOf(written),
    change: existing
      ? { resource: `Log Analytics workspace ${input.name}`, action: 'updated', fields: drift }
      : { resource: `Log Analytics workspace ${input.name}`, action: 'created' },
  };
}

/** True when a soft-deleted workspace still reserves the name (14 days after its deletion). */
export async function logAnalyticsNameReserved(azure: AzureClients, name: string): Promise<boolean> {
  for await (const workspace of azure.logAnalytics.deletedWorkspaces.list()) {
    if (workspace.name?.toLowerCase() === name.toLowerCase()) return true;
  }
  return false;
}

/** The workspace's primary shared key. Secret; a POST, asked for only right before a write. */
export async function workspaceSharedKey(
  azure: AzureClients,
  input: { resourceGroup: string; name: string },
): Promise<string> {
  const keys = await azure.logAnalytics.sharedKeysOperations.getSharedKeys(input.resourceGroup, input.name);
  if (!keys.primarySharedKey) throw new Error(`workspace ${input.name} returned no shared key`);
  return keys.primarySharedKey;
}

/**
 * Application Insights' api-version with workspace-based components. The typed client
 * (@azure/arm-appinsights 4) pins 2015-05-01 / 2018-05-01-preview, whose models cannot carry
 * WorkspaceResourceId, so components go through ARM's generic resource API at this version.
 */
export const APP_INSIGHTS_API_VERSION = '2020-02-02';

/**
 * Workspace-based Application Insights (ingests into the slug's Log Analytics workspace).
 * Idempotent: read first; created when missing, its workspace link and tags repaired when drifted.
 */
export async function ensureAppInsights(
  azure: AzureClients,
  input: { resourceGroup: string; name: string; slug: string; location: string; workspaceId: string },
  options: EnsureOptions = {},
): Promise<Ensured<AppInsightsFacts>> {
  const tags = ownershipTags(input.slug);
  const id = appInsightsId(azure, input);
  const existing = await readUnlessNew(options.inNewGroup, () =>
    azure.resources.resources.getById(id, APP_INSIGHTS_API_VERSION),
  );
  const desired = {
    tags,
    kind: 'web',
    properties: {
      Application_Type: 'web',
      WorkspaceResourceId: input.workspaceId,
      IngestionMode: 'LogAnalytics',
    },
  };
  const drift = existing ? driftOf(desired, existing) : [];
  if (existing && drift.length === 0) return { value: { id: existing.id ?? id } };
  const written = await azure.resources.resources.beginCreateOrUpdateByIdAndWait(
    id,
    APP_INSIGHTS_API_VERSION,
    { ...desired, tags: { ...existing?.tags, ...tags }, location: existing?.location ?? input.location },
    azure.poll,
  );
  return {
    value: { id: written.id ?? id },
    change: existing
      ? { resource: `Application Insights ${input.name}`, action: 'updated', fields: drift }
      : { resource: `Application Insights ${input.name}`, action: 'created' },
  };
}

/** The component's connection string (not a secret: it names where telemetry goes). */
export async function appInsightsConnectionString(
  azure: AzureClients,
  input: { resourceGroup: string; name: string },
): Promise<string | undefined> {
  const component = await azure.resources.resources.getById(
    appInsightsId(azure, input),
    APP_INSIGHTS_API_VERSION,
  );
  const value = component.properties?.['ConnectionString'];
  return typeof value === 'string' ? value : undefined;
}

function appInsightsId(azure: AzureClients, input: { resourceGroup: string; name: string }): string {
  return `/subscriptions/${azure.subscriptionId}/resourceGroups/${input.resourceGroup}/providers/Microsoft.Insights/components/${input.name}`;
}

function factsOf(workspace: { id?: string; customerId?: string }): WorkspaceFacts {
  return { id: workspace.id!, customerId: workspace.customerId! };
}
