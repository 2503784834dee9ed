// One role assignment on the resource group this module is deployed to. rbac.bicep decides which
// role goes to which group; a module is how Bicep reaches a group from a subscription deployment.

param principalId string
param roleDefinitionId string
param description string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: description
  }
}
