// The broker's resource group contents. Identity-based connections only: the storage account
// refuses shared keys and the Function App reaches storage and Key Vault with its managed identity.

@description('Azure region.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Deterministic suffix for globally unique names.')
param suffix string

@description('Entra tenant GUID.')
param tenantId string

@description('Object id of the shire-admins group.')
param adminGroupId string

@description('Telegram user ids allowed to approve, comma-separated.')
param telegramApproverIds string

@description('Telegram chat id of the admin chat.')
param telegramAdminChatId string

@description('ARM resource ID of the gateway image registry.')
param imageRegistryId string

@description('Gateway image repository.')
param imageRepository string

@description('Default OpenClaw version.')
param openclawDefaultVersion string

@description('Client id of the Entra app registration that represents the broker API (App Service authentication validates tokens for api://<client id>).')
param operatorAuthClientId string

@description('Entra object ids of operators allowed to approve through the API, comma-separated (members of operatorApproverGroupIds may too).')
param operatorApproverIds string = ''

@description('Entra group object ids whose members may approve through the API, comma-separated (needs the groups claim in tokens).')
param operatorApproverGroupIds string = ''

@description('Telegram user id = operator object id pairs of people who hold both, comma-separated: they count as one approver.')
param identityLinks string = ''

@description('Email address the broker\'s alerts go to; empty sends them nowhere but the portal.')
param alertEmail string = ''

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
// Lets an identity send telemetry to an Application Insights component that refuses local auth
// (learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var deploymentContainer = 'deployments'

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-claw-broker-${suffix}'
  location: location
  tags: tags
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-claw-broker-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id, DisableLocalAuth: true }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stclawbroker${take(suffix, 10)}'
  location: location
  tags: tags
  sku: { name: 'Standard_ZRS' }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }

  resource blobs 'blobServices' = {
    name: 'default'
    resource deployments 'containers' = { name: deploymentContainer }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-clawbrk-${take(suffix, 10)}'
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

// Where the API stages the secrets a provision request brings (bot token, Foundry key) until
// provisioning moves them to the slug's vault and purges them. Not the broker vault: with purge
// protection a deleted staged copy would stay recoverable for 90 days. Purge protection cannot be
// turned off once on, so this vault never has it, and keeps the shortest soft-delete retention.
resource stagingVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-clawstg-${take(suffix, 10)}'
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-claw-broker-${suffix}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-claw-broker-${suffix}'
  location: location
  tags: union(tags, { 'azd-service-name': 'broker' })
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      // Up to 40 instances. ARM's throttle is per principal, and each instance paces its own calls
      // to it (shared/azure/armPacing.ts); several busy instances together can exceed it, and then
      // ARM answers 429 with Retry-After, which the SDK's retry policy waits out.
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '22' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        { name: 'DURABLE_TASK_HUB', value: 'clawbroker' }
        { name: 'AZURE_SUBSCRIPTION_ID', value: subscription().subscriptionId }
        { name: 'AZURE_LOCATION', value: location }
        { name: 'AZURE_TENANT_ID', value: tenantId }
        { name: 'AZURE_CREDENTIAL', value: 'managed-identity' }
        { name: 'BROKER_KEY_VAULT_URI', value: vault.properties.vaultUri }
        { name: 'STAGING_KEY_VAULT_URI', value: stagingVault.properties.vaultUri }
        { name: 'NAME_SALT', value: suffix }
        { name: 'IMAGE_REGISTRY_ID', value: imageRegistryId }
        { name: 'IMAGE_REPOSITORY', value: imageRepository }
        { name: 'ENTRA_ADMIN_GROUP_ID', value: adminGroupId }
        { name: 'TELEGRAM_APPROVER_IDS', value: telegramApproverIds }
        { name: 'TELEGRAM_ADMIN_CHAT_ID', value: telegramAdminChatId }
        { name: 'TELEGRAM_BOT_TOKEN_REF', value: '${vault.properties.vaultUri}secrets/telegram-bot-token' }
        { name: 'TELEGRAM_WEBHOOK_SECRET_REF', value: '${vault.properties.vaultUri}secrets/telegram-webhook-secret' }
        { name: 'OPENCLAW_DEFAULT_VERSION', value: openclawDefaultVersion }
        // authSettings below fronts the app with Entra sign-in: the broker trusts the caller the
        // platform sets (x-ms-client-principal*) only because of this setting.
        { name: 'OPERATOR_AUTH', value: 'easyauth' }
        { name: 'OPERATOR_APPROVER_IDS', value: operatorApproverIds }
        { name: 'OPERATOR_APPROVER_GROUP_IDS', value: operatorApproverGroupIds }
        { name: 'IDENTITY_LINKS', value: identityLinks }
        // The sweeps' timer bindings read these (%ROTATION_SWEEP_SCHEDULE%, %SAS_SWEEP_SCHEDULE%).
        { name: 'ROTATION_SWEEP_SCHEDULE', value: '0 0 3 * * *' }
        { name: 'SAS_SWEEP_SCHEDULE', value: '0 0 * * * *' }
        // The upgrade timer's binding reads it (%UPGRADE_WAVE_SCHEDULE%); waves start by themselves only with UPGRADE_AUTO_WAVES=true.
        { name: 'UPGRADE_WAVE_SCHEDULE', value: '0 0 6 * * *' }
      ]
    }
  }
}

// App Service authentication (Easy Auth) in front of every route: a caller needs an Entra token
// for the broker API (and, on authLevel function routes, a function key as well: the Functions
// host checks keys after the platform authenticated the call). Only members of shire-admins are
// let in. The Telegram webhook is excluded: Telegram cannot sign in; it authenticates with the
// secret token the broker checks. The platform strips x-ms-client-principal* headers from
// incoming requests and sets them from the validated token, so the broker can trust them
// (learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: ['/api/telegram/webhook']
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
          clientId: operatorAuthClientId
        }
        validation: {
          allowedAudiences: ['api://${operatorAuthClientId}']
          defaultAuthorizationPolicy: { allowedPrincipals: { groups: [adminGroupId] } }
        }
      }
    }
    login: { tokenStore: { enabled: false } }
    httpSettings: { requireHttps: true }
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]: {
    name: guid(storage.id, functionApp.id, role)
    scope: storage
    properties: {
      principalId: functionApp.identity.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

resource vaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionApp.id, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

// Secrets Officer on the staging vault includes the purge of deleted secrets.
resource stagingVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stagingVault.id, functionApp.id, keyVaultSecretsOfficer)
  scope: stagingVault
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

// The host and the OpenTelemetry distro authenticate to Application Insights with the app's
// identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING): local auth is off on the component, so
// without this role every log and trace is refused.
resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, functionApp.id, monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

// Operators (shire-admins) store the Telegram bot token and webhook secret in the broker vault
// (README, Deployment): the vault is in RBAC mode, so they need a data-plane role on it.
resource operatorVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, adminGroupId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: adminGroupId
    principalType: 'Group'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

// Key Vault audit events and storage data-plane logs go to the broker's workspace.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for target in [vault, stagingVault]: {
    name: 'to-log-analytics'
    scope: target
    properties: {
      workspaceId: logs.id
      logs: [{ categoryGroup: 'audit', enabled: true }]
      metrics: [{ category: 'AllMetrics', enabled: true }]
    }
  }
]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource storageDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for service in [blobService, queueService, tableService]: {
    name: 'to-log-analytics'
    scope: service
    properties: {
      workspaceId: logs.id
      logs: [
        { category: 'StorageRead', enabled: true }
        { category: 'StorageWrite', enabled: true }
        { category: 'StorageDelete', enabled: true }
      ]
      metrics: [{ category: 'Transaction', enabled: true }]
    }
  }
]

// The fleet workbook and the alert rules (failed operation, SAS near expiry, approval near expiry,
// poison message) on the broker's events in Application Insights.
module monitoring 'monitoring.bicep' = {
  name: 'claw-broker-monitoring'
  params: {
    location: location
    tags: tags
    insightsId: insights.id
    alertEmail: alertEmail
  }
}

@description('Principal id of the broker identity.')
output principalId string = functionApp.identity.principalId
output functionAppName string = functionApp.name
output keyVaultUri string = vault.properties.vaultUri
output apiUrl string = 'https://${functionApp.properties.defaultHostName}/api'
