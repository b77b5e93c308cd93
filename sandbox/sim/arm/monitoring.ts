import { appInsightsComponentSchema, workspaceSchema } from './specSchemas.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { armError } from './armErrors.js';
import type { StoredResource } from './armState.js';
import { recordOf, stringOf, type ArmContext, type ProviderModule } from './resourceType.js';

export const operationalInsightsApiVersions = [
  '2025-07-01',
  '2025-02-01',
  '2023-09-01',
  '2022-10-01',
  '2021-12-01-preview',
  '2021-06-01',
  '2020-10-01',
  '2020-08-01',
];
export const applicationInsightsApiVersions = [
  '2020-02-02',
  '2020-02-02-preview',
  '2018-05-01-preview',
  '2015-05-01',
];
const workspaceType = 'Microsoft.OperationalInsights/workspaces';
const workspaceNamePattern = /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/;
const reservationMs = 14 * 24 * 3600 * 1000;

/** The workspace (live) whose customer id is given, for the Container Apps environment. */
export function workspaceByCustomerId(ctx: ArmContext, customerId: string): StoredResource | undefined {
  return ctx.state
    .find(workspaceType)
    .find((workspace) => recordOf(workspace.body['properties'])['customerId'] === customerId);
}

export function workspaceSharedKeys(workspace: StoredResource): {
  primarySharedKey: string;
  secondarySharedKey: string;
} {
  return workspace.hidden['sharedKeys'] as { primarySharedKey: string; secondarySharedKey: string };
}

/**
 * Microsoft.OperationalInsights workspaces: PUT answers with provisioningState "Creating" and the
 * client polls the resource. A delete without `force=true` soft-deletes: the name stays reserved
 * for 14 days; putting the same name into the same resource group recovers the workspace (same
 * customer id), anywhere else is a conflict.
 */
export const operationalInsightsProvider: ProviderModule = {
  namespace: 'Microsoft.OperationalInsights',
  types: [
    {
      type: workspaceType,
      schema: workspaceSchema,
      apiVersions: operationalInsightsApiVersions,
      tracked: true,
      putMode: 'body',
      runningState: 'Creating',
      deleteMode: 'sync',
      build({ ctx, body, name, id, existing }) {
        if (!workspaceNamePattern.test(name)) {
          throw armError(
            400,
            'InvalidParameter',
            `Workspace name '${name}' is invalid: 4-63 letters, digits and hyphens, starting and ending with a letter or digit.`,
          );
        }
        const deleted = ctx.state.deletedWorkspaces.get(name.toLowerCase());
        let recovered: StoredResource | undefined;
        if (deleted) {
          if (deleted.workspaceId.toLowerCase() !== id.toLowerCase()) {
            throw armError(
              409,
              'Conflict',
              `The workspace name '${name}' is in use by a soft-deleted workspace in resource group '${deleted.resourceGroup}' until ${new Date(deleted.reservedUntil).toISOString()}. Recover it in that resource group, or delete it with force=true.`,
            );
          }
          ctx.state.deletedWorkspaces.delete(name.toLowerCase());
          recovered = deleted.resource;
        }
        const properties = recordOf(body['properties']);
        const previous = recordOf((existing ?? recovered)?.body['properties']);
        const now = ctx.state.clock.isoNow();
        return {
          properties: {
            customerId: stringOf(previous, 'customerId', randomUUID()),
            sku: { name: stringOf(recordOf(properties['sku']), 'name', 'PerGB2018'), lastSkuUpdate: now },
            retentionInDays:
              typeof properties['retentionInDays'] === 'number' ? properties['retentionInDays'] : 30,
            features: {
              legacy: 0,
              searchVersion: 1,
              enableLogAccessUsingOnlyResourcePermissions: true,
              ...recordOf(properties['features']),
            },
            workspaceCapping: {
              dailyQuotaGb: -1,
              quotaNextResetTime: now,
              dataIngestionStatus: 'RespectQuota',
            },
            publicNetworkAccessForIngestion: stringOf(
              properties,
              'publicNetworkAccessForIngestion',
              'Enabled',
            ),
            publicNetworkAccessForQuery: stringOf(properties, 'publicNetworkAccessForQuery', 'Enabled'),
            createdDate: stringOf(previous, 'createdDate', now),
            modifiedDate: now,
          },
          hidden: {
            sharedKeys: (existing ?? recovered)?.hidden['sharedKeys'] ?? {
              primarySharedKey: randomBytes(64).toString('base64'),
              secondarySharedKey: randomBytes(64).toString('base64'),
            },
          },
        };
      },
      onDeleted(resource, ctx, query) {
        if (query.get('force')?.toLowerCase() === 'true') return;
        const now = ctx.state.clock.now();
        ctx.state.deletedWorkspaces.set(resource.name.toLowerCase(), {
          name: resource.name,
          workspaceId: resource.id,
          resourceGroup: resource.resourceGroup,
          deletedAt: now,
          reservedUntil: now + reservationMs,
          resource,
        });
      },
      actions: {
        sharedkeys: ({ resource }) => ({ status: 200, body: workspaceSharedKeys(resource) }),
      },
    },
  ],
  async subscriptionRoute({ ctx, req, segments }) {
    if (segments.length === 1 && segments[0]?.toLowerCase() === 'deletedworkspaces' && req.method === 'GET') {
      return {
        status: 200,
        body: {
          value: [...ctx.state.deletedWorkspaces.values()].map((workspace) => workspace.resource.body),
        },
      };
    }
    return undefined;
  },
};

/**
 * Microsoft.Insights components (synchronous). A workspace-based component names an existing
 * Log Analytics workspace and ingests there (IngestionMode LogAnalytics).
 */
export const applicationInsightsProvider: ProviderModule = {
  namespace: 'Microsoft.Insights',
  types: [
    {
      type: 'Microsoft.Insights/components',
      schema: appInsightsComponentSchema,
      apiVersions: applicationInsightsApiVersions,
      tracked: true,
      putMode: 'sync',
      deleteMode: 'sync',
      build({ ctx, body, name, existing }) {
        if (typeof body['kind'] !== 'string')
          throw armError(400, 'BadRequest', "The 'kind' property is required (e.g. 'web').");
        const properties = recordOf(body['properties']);
        if (typeof properties['Application_Type'] !== 'string') {
          throw armError(
            400,
            'BadRequest',
            "The 'Application_Type' property is required (e.g. 'web' or 'other').",
          );
        }
        const workspaceId =
          typeof properties['WorkspaceResourceId'] === 'string'
            ? properties['WorkspaceResourceId']
            : undefined;
        if (workspaceId !== undefined && !ctx.state.get(workspaceId)) {
          throw armError(
            400,
            'BadRequest',
            `The Log Analytics workspace '${workspaceId}' was not found; a workspace-based component needs an existing workspace.`,
          );
        }
        const previous = recordOf(existing?.body['properties']);
        const instrumentationKey = stringOf(previous, 'InstrumentationKey', randomUUID());
        const appId = stringOf(previous, 'AppId', randomUUID());
        const base = ctx.endpoints.baseUrl;
        return {
          extra: { kind: body['kind'], etag: `"${randomUUID()}"` },
          properties: {
            ApplicationId: name,
            AppId: appId,
            Application_Type: properties['Application_Type'],
            Flow_Type: stringOf(properties, 'Flow_Type', 'Bluefield'),
            Request_Source: stringOf(properties, 'Request_Source', 'rest'),
            InstrumentationKey: instrumentationKey,
            ConnectionString: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=${base}/appinsights/ingest/;LiveEndpoint=${base}/appinsights/live/;ApplicationId=${appId}`,
            Name: name,
            CreationDate: stringOf(previous, 'CreationDate', ctx.state.clock.isoNow()),
            TenantId: ctx.state.subscriptionId,
            RetentionInDays:
              typeof properties['RetentionInDays'] === 'number' ? properties['RetentionInDays'] : 90,
            ...(workspaceId !== undefined ? { WorkspaceResourceId: workspaceId } : {}),
            IngestionMode: workspaceId !== undefined ? 'LogAnalytics' : 'ApplicationInsights',
            publicNetworkAccessForIngestion: stringOf(
              properties,
              'publicNetworkAccessForIngestion',
              'Enabled',
            ),
            publicNetworkAccessForQuery: stringOf(properties, 'publicNetworkAccessForQuery', 'Enabled'),
            ...(typeof properties['DisableLocalAuth'] === 'boolean'
              ? { DisableLocalAuth: properties['DisableLocalAuth'] }
              : {}),
          },
        };
      },
    },
  ],
};
