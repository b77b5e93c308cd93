import { s, type BodySchema, type ObjectSchema } from './bodySchema.js';

/**
 * What the official REST specs (Azure/azure-rest-api-specs) require of the bodies the broker sends,
 * at the api-version its SDK sends, encoded by us (bodySchema.ts). Sources per type below; "desc" marks
 * a limit the spec gives only in a description (no minimum/maximum keyword) that the service applies.
 * Enums compare case-insensitively: ARM's deserialisers read enum strings without regard to case, and
 * no source shows a closed enum refused for case alone. Properties the broker never sends are left
 * unchecked unless the spec requires them.
 */

/** `id`, `name`, `type`, `systemData`: read-only on every resource (common-types v5 Resource). */
const resourceReadOnly = {
  id: s.readOnly(),
  name: s.readOnly(),
  type: s.readOnly(),
  systemData: s.readOnly(),
} as const;

/** A tracked resource: `location` required, tags a string map (common-types v5 TrackedResource). */
function tracked(properties: Record<string, BodySchema>, required: readonly string[] = []): ObjectSchema {
  return s.object({ ...resourceReadOnly, location: s.string(), tags: s.map(s.string()), ...properties }, [
    'location',
    ...required,
  ]);
}

/** A proxy (child) resource: no location (common-types v5 ProxyResource). */
function proxy(properties: Record<string, BodySchema>, required: readonly string[] = []): ObjectSchema {
  return s.object({ ...resourceReadOnly, ...properties }, required);
}

const strings = s.array(s.string());

// ---- Microsoft.App 2025-07-01: specification/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-07-01/
// (ManagedEnvironments.json, ManagedEnvironmentsStorages.json, ContainerApps.json, AuthConfigs.json,
// CommonDefinitions.json). Probe bounds are checked by containerApps.ts (desc only in the spec).

/** ManagedEnvironments.json, ManagedEnvironment. */
export const managedEnvironmentSchema = tracked({
  properties: s.object({
    provisioningState: s.readOnly(),
    deploymentErrors: s.readOnly(),
    defaultDomain: s.readOnly(),
    staticIp: s.readOnly(),
    eventStreamEndpoint: s.readOnly(),
    appLogsConfiguration: s.object({
      // desc: "can be 'log-analytics', 'azure-monitor' or 'none'"; no enum keyword.
      destination: s.string(),
      logAnalyticsConfiguration: s.object({ customerId: s.string(), sharedKey: s.string() }),
    }),
  }),
});

/** ManagedEnvironmentsStorages.json, ManagedEnvironmentStorage; AzureFileProperties in CommonDefinitions.json. */
export const environmentStorageSchema = proxy({
  properties: s.object({
    azureFile: s.object({
      accountName: s.string(),
      shareName: s.string(),
      accessMode: s.enum(['ReadOnly', 'ReadWrite']),
      accountKey: s.string(),
    }),
  }),
});

const port = s.integer(1, 65535); // desc: 1-65535

/** CommonDefinitions.json, ContainerAppProbe: `port` required in httpGet and tcpSocket. */
const probeSchema = s.object({
  type: s.enum(['Liveness', 'Readiness', 'Startup']),
  httpGet: s.object({ path: s.string(), port, scheme: s.enum(['HTTP', 'HTTPS']) }, ['port']),
  tcpSocket: s.object({ port }, ['port']),
  periodSeconds: s.integer(),
  timeoutSeconds: s.integer(),
  failureThreshold: s.integer(),
  successThreshold: s.integer(),
  initialDelaySeconds: s.integer(),
});

/** ContainerApps.json, ContainerApp (PUT, and PATCH merged: the spec's PATCH body is the same schema). */
export const containerAppSchema = tracked({
  identity: s.object(
    {
      type: s.enum(['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned']),
      principalId: s.readOnly(),
      tenantId: s.readOnly(),
      userAssignedIdentities: s.map(s.object({ principalId: s.readOnly(), clientId: s.readOnly() })),
    },
    ['type'],
  ),
  properties: s.object({
    provisioningState: s.readOnly(),
    runningStatus: s.readOnly(),
    latestRevisionName: s.readOnly(),
    latestReadyRevisionName: s.readOnly(),
    latestRevisionFqdn: s.readOnly(),
    customDomainVerificationId: s.readOnly(),
    outboundIpAddresses: s.readOnly(),
    eventStreamEndpoint: s.readOnly(),
    managedEnvironmentId: s.string(),
    environmentId: s.string(),
    configuration: s.object({
      activeRevisionsMode: s.enum(['Multiple', 'Single']),
      maxInactiveRevisions: s.integer(),
      ingress: s.object({
        fqdn: s.readOnly(),
        external: s.boolean(),
        targetPort: s.integer(),
        transport: s.enum(['auto', 'http', 'http2', 'tcp']),
        allowInsecure: s.boolean(),
        traffic: s.array(
          s.object({ latestRevision: s.boolean(), weight: s.integer(), revisionName: s.string() }),
        ),
      }),
      registries: s.array(s.object({ server: s.string(), identity: s.string() })),
      secrets: s.array(
        s.object({ name: s.string(), value: s.string(), keyVaultUrl: s.string(), identity: s.string() }),
      ),
    }),
    template: s.object({
      revisionSuffix: s.string(),
      terminationGracePeriodSeconds: s.integer(0), // desc: non-negative
      scale: s.object({ minReplicas: s.integer(), maxReplicas: s.integer() }),
      containers: s.array(
        s.object({
          name: s.string(),
          image: s.string(),
          resources: s.object({ cpu: s.number(), memory: s.string(), ephemeralStorage: s.readOnly() }),
          env: s.array(s.object({ name: s.string(), value: s.string(), secretRef: s.string() })),
          // desc: mountPath "Must not contain ':'"
          volumeMounts: s.array(
            s.object({
              volumeName: s.string(),
              mountPath: s.string({ pattern: /^[^:]*$/ }),
              subPath: s.string(),
            }),
          ),
          probes: s.array(probeSchema),
        }),
      ),
      volumes: s.array(
        s.object({
          name: s.string(),
          storageType: s.enum(['AzureFile', 'EmptyDir', 'Secret', 'NfsAzureFile']),
          storageName: s.string(),
          mountOptions: s.string(),
          secrets: s.array(s.object({ secretRef: s.string(), path: s.string() })),
        }),
      ),
    }),
  }),
});

/** AuthConfigs.json, AuthConfig: unauthenticatedClientAction is a closed enum (modelAsString false). */
export const authConfigSchema = proxy({
  properties: s.object({
    platform: s.object({ enabled: s.boolean(), runtimeVersion: s.string() }),
    globalValidation: s.object({
      unauthenticatedClientAction: s.enum([
        'RedirectToLoginPage',
        'AllowAnonymous',
        'Return401',
        'Return403',
      ]),
      redirectToProvider: s.string(),
      excludedPaths: strings,
    }),
    identityProviders: s.object({
      azureActiveDirectory: s.object({
        enabled: s.boolean(),
        registration: s.object({
          clientId: s.string(),
          clientSecretSettingName: s.string(),
          openIdIssuer: s.string(),
        }),
        validation: s.object({
          allowedAudiences: strings,
          defaultAuthorizationPolicy: s.object({
            allowedPrincipals: s.object({ groups: strings, identities: strings }),
          }),
        }),
      }),
    }),
  }),
});

// ---- Microsoft.KeyVault 2026-02-01: specification/keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/2026-02-01/openapi.json

/** VaultCreateOrUpdateParameters: location and properties required; VaultProperties: tenantId, sku; Sku: family, name. */
export const vaultSchema = tracked(
  {
    properties: s.object(
      {
        tenantId: s.string({
          pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, // format: uuid
        }),
        sku: s.object({ family: s.enum(['A']), name: s.enum(['standard', 'premium']) }, ['family', 'name']),
        enableRbacAuthorization: s.boolean(),
        enableSoftDelete: s.boolean(),
        enablePurgeProtection: s.boolean(),
        softDeleteRetentionInDays: s.integer(7, 90), // desc: ">=7 and <=90"
        publicNetworkAccess: s.string(),
        accessPolicies: s.array(
          s.object({ tenantId: s.string(), objectId: s.string(), permissions: s.any() }, [
            'tenantId',
            'objectId',
            'permissions',
          ]),
          { maxItems: 1024 }, // desc: up to 1024 entries
        ),
        createMode: s.enum(['recover', 'default']),
        hsmPoolResourceId: s.readOnly(),
        privateEndpointConnections: s.readOnly(),
      },
      ['tenantId', 'sku'],
    ),
  },
  ['properties'],
);

// ---- Microsoft.Storage 2025-08-01: specification/storage/resource-manager/Microsoft.Storage/Storage/stable/2025-08-01/openapi.json

/**
 * StorageAccountCreateParameters (sku, kind, location required); a PATCH (StorageAccountUpdateParameters,
 * nothing required) is checked merged into the stored create body, so the same schema holds.
 */
export const storageAccountSchema = tracked(
  {
    sku: s.object(
      {
        name: s.enum([
          'Standard_LRS',
          'Standard_GRS',
          'Standard_RAGRS',
          'Standard_ZRS',
          'Premium_LRS',
          'Premium_ZRS',
          'Standard_GZRS',
          'Standard_RAGZRS',
          'StandardV2_LRS',
          'StandardV2_GRS',
          'StandardV2_ZRS',
          'StandardV2_GZRS',
          'PremiumV2_LRS',
          'PremiumV2_ZRS',
        ]),
        tier: s.readOnly(),
      },
      ['name'],
    ),
    kind: s.enum(['Storage', 'StorageV2', 'BlobStorage', 'FileStorage', 'BlockBlobStorage']),
    properties: s.object({
      allowBlobPublicAccess: s.boolean(),
      minimumTlsVersion: s.enum(['TLS1_0', 'TLS1_1', 'TLS1_2', 'TLS1_3']),
      supportsHttpsTrafficOnly: s.boolean(),
      allowSharedKeyAccess: s.boolean(),
      provisioningState: s.readOnly(),
      primaryEndpoints: s.readOnly(),
      primaryLocation: s.readOnly(),
      statusOfPrimary: s.readOnly(),
      creationTime: s.readOnly(),
      keyCreationTime: s.readOnly(),
      secondaryEndpoints: s.readOnly(),
    }),
  },
  ['sku', 'kind'],
);

/** FileShare / FileShareProperties: nothing required; desc: shareQuota > 0 and <= 5120 (102400 for large shares). */
export const fileShareSchema = proxy({
  etag: s.readOnly(),
  properties: s.object({
    shareQuota: s.integer(1, 102400),
    accessTier: s.enum(['TransactionOptimized', 'Hot', 'Cool', 'Premium']),
    lastModifiedTime: s.readOnly(),
    shareUsageBytes: s.readOnly(),
  }),
});

/** BlobContainer / ContainerProperties: publicAccess a closed enum. */
export const blobContainerSchema = proxy({
  etag: s.readOnly(),
  properties: s.object({
    publicAccess: s.enum(['Container', 'Blob', 'None']),
    lastModifiedTime: s.readOnly(),
    hasLegalHold: s.readOnly(),
    hasImmutabilityPolicy: s.readOnly(),
  }),
});

// ---- Microsoft.ManagedIdentity 2024-11-30: specification/msi/resource-manager/Microsoft.ManagedIdentity/ManagedIdentity/stable/2024-11-30/ManagedIdentity.json

/** Identity: location required; the whole properties block (tenantId, principalId, clientId) is read-only. */
export const userAssignedIdentitySchema = tracked({ properties: s.readOnly() });

// ---- Microsoft.OperationalInsights 2022-10-01: specification/operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2022-10-01/Workspaces.json

/** Workspace: location required; WorkspaceSku: name required; retentionInDays unbounded ("per pricing plan"). */
export const workspaceSchema = tracked({
  properties: s.object({
    sku: s.object(
      {
        name: s.enum([
          'Free',
          'Standard',
          'Premium',
          'PerNode',
          'PerGB2018',
          'Standalone',
          'CapacityReservation',
          'LACluster',
        ]),
        lastSkuUpdate: s.readOnly(),
      },
      ['name'],
    ),
    retentionInDays: s.integer(),
    provisioningState: s.readOnly(),
    customerId: s.readOnly(),
    createdDate: s.readOnly(),
    modifiedDate: s.readOnly(),
  }),
});

// ---- Microsoft.Insights 2020-02-02: specification/applicationinsights/resource-manager/Microsoft.Insights/stable/2020-02-02/components_API.json

/** ApplicationInsightsComponent: location and kind required; Application_Type required; RetentionInDays read-only here. */
export const appInsightsComponentSchema = tracked(
  {
    kind: s.string(),
    properties: s.object(
      {
        Application_Type: s.enum(['web', 'other']),
        WorkspaceResourceId: s.string(),
        IngestionMode: s.enum([
          'ApplicationInsights',
          'ApplicationInsightsWithDiagnosticSettings',
          'LogAnalytics',
        ]),
        Flow_Type: s.enum(['Bluefield']),
        Request_Source: s.enum(['rest']),
        ApplicationId: s.readOnly(),
        AppId: s.readOnly(),
        Name: s.readOnly(),
        InstrumentationKey: s.readOnly(),
        CreationDate: s.readOnly(),
        TenantId: s.readOnly(),
        HockeyAppToken: s.readOnly(),
        provisioningState: s.readOnly(),
        ConnectionString: s.readOnly(),
        RetentionInDays: s.readOnly(),
        LaMigrationDate: s.readOnly(),
        PrivateLinkScopedResources: s.readOnly(),
      },
      ['Application_Type'],
    ),
  },
  ['kind', 'properties'],
);
