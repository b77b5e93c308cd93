// claw-broker's own deployment (azd-compatible): the Function App that runs the broker, its
// storage (identity-based, no shared keys), its Key Vault (RBAC), its telemetry, and the role
// assignments it needs to create and manage the per-slug footprints in this subscription.
targetScope = 'subscription'

@description('Name of the azd environment; used to name the broker resource group.')
@minLength(1)
@maxLength(32)
param environmentName string

// Regions that offer Flex Consumption, as Microsoft's Flex Consumption azd template lists them
// (Azure-Samples/functions-quickstart-typescript-azd, infra/main.bicep; its canary region left
// out). `az functionapp list-flexconsumption-locations` gives today's list.
@description('Azure region of the broker resources (one that offers Flex Consumption).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('Entra tenant GUID.')
param tenantId string = tenant().tenantId

@description('Object id of the shire-admins group (operators of the service).')
param adminGroupId string

@description('Telegram user ids allowed to approve, comma-separated.')
param telegramApproverIds string

@description('Telegram chat id of the admin chat.')
param telegramAdminChatId string

@description('ARM resource ID of the container registry the gateways pull from.')
param imageRegistryId string

@description('Image repository of the OpenClaw gateway in that registry.')
param imageRepository string

@description('Default OpenClaw version for new environments (calendar version).')
param openclawDefaultVersion string

@description('Client id of the Entra app registration of the broker API (Easy Auth audience api://<client id>).')
param operatorAuthClientId string

@description('Entra object ids of operators allowed to approve through the API, comma-separated.')
param operatorApproverIds string = ''

@description('Entra group object ids whose members may approve through the API, comma-separated (default: shire-admins).')
param operatorApproverGroupIds string = adminGroupId

@description('Telegram user id = operator object id pairs of people who hold both, comma-separated.')
param identityLinks string = ''

@description('Email address the broker\'s alerts go to; empty sends them nowhere but the portal.')
param alertEmail string = ''

var tags = { 'azd-env-name': environmentName, 'managed-by': 'claw-broker' }
var suffix = uniqueString(subscription().id, environmentName)

resource brokerGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-claw-broker-${environmentName}'
  location: location
  tags: tags
}

module broker 'modules/broker.bicep' = {
  name: 'claw-broker'
  scope: brokerGroup
  params: {
    location: location
    tags: tags
    suffix: suffix
    tenantId: tenantId
    adminGroupId: adminGroupId
    telegramApproverIds: telegramApproverIds
    telegramAdminChatId: telegramAdminChatId
    imageRegistryId: imageRegistryId
    imageRepository: imageRepository
    openclawDefaultVersion: openclawDefaultVersion
    operatorAuthClientId: operatorAuthClientId
    operatorApproverIds: operatorApproverIds
    operatorApproverGroupIds: operatorApproverGroupIds
    identityLinks: identityLinks
    alertEmail: alertEmail
  }
}

// The broker creates claw-<slug> resource groups and assigns a few roles inside them. Its roles,
// and the condition that limits which roles it may assign to whom, live in brokerRoles.json (read
// by the module): the simulator's bootstrap reads the same file, so the sandbox and the tests run
// with exactly these rights. A module, so the assignment names derive from a parameter (a module
// output cannot name a resource: BCP120).
module brokerRoles 'modules/brokerRoles.bicep' = {
  name: 'claw-broker-roles'
  params: {
    principalId: broker.outputs.principalId
  }
}

// Its Microsoft Graph application permissions (infra/graphPermissions.json); the postprovision hook
// (scripts/check-graph-permissions.sh) checks them and names what is missing.
module graphPermissions 'modules/graphPermissions.bicep' = {
  name: 'claw-broker-graph-permissions'
  params: {
    principalId: broker.outputs.principalId
  }
}

output AZURE_FUNCTION_APP_NAME string = broker.outputs.functionAppName
output BROKER_PRINCIPAL_ID string = broker.outputs.principalId
output BROKER_KEY_VAULT_URI string = broker.outputs.keyVaultUri
output BROKER_API_URL string = broker.outputs.apiUrl
