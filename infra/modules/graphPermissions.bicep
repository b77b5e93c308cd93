// The broker's Microsoft Graph application permissions, exactly as infra/graphPermissions.json lists
// them, granted to its managed identity with the Microsoft Graph Bicep extension
// (learn.microsoft.com/graph/templates/reference/approleassignedto). The deploying user needs
// AppRoleAssignment.ReadWrite.All and Application.Read.All (a Privileged Role Administrator, or an
// admin who consents): README, Deployment. The app role ids are read from Microsoft Graph's own
// service principal by permission name, never written here.
extension 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0'

@description('Object id of the broker\'s managed identity.')
param principalId string

var permissions = loadJsonContent('../graphPermissions.json').permissions

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

resource grants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for permission in permissions: {
    principalId: principalId
    resourceId: graph.id
    appRoleId: filter(graph.appRoles, role => role.value == permission.name)[0].id
  }
]
