// The user-assigned managed identity the Function App runs as. Every grant in this deployment is
// to it (or to the Event Grid system topic's own identity, for dead-lettering).

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
