// The broker's own role assignments at subscription scope, exactly as infra/brokerRoles.json lists
// them (the simulator's bootstrap reads the same file). `{brokerPrincipalId}` in a condition is the
// broker's own object id: the roles it may assign only to itself.
targetScope = 'subscription'

@description('Object id of the broker\'s managed identity.')
param principalId string

var brokerRoles = loadJsonContent('../brokerRoles.json')

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in brokerRoles.roles: {
    name: guid(subscription().id, principalId, role.roleDefinitionId)
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.roleDefinitionId)
      conditionVersion: contains(role, 'condition') ? role.conditionVersion : null
      condition: contains(role, 'condition') ? replace(join(role.condition, ' '), '{brokerPrincipalId}', principalId) : null
    }
  }
]
