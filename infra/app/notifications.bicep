// The Event Grid custom topic that receives a CloudEvent per remediation worth knowing about
// (GUARD_NOTIFY_EVENTGRID_ENDPOINT). Subscribe on-call tooling to it. Local auth (access keys and
// SAS) is off: the service publishes with its managed identity (EventGrid Data Sender, this topic only).

param name string
param location string
param tags object
@description('Principal id of the service\'s managed identity.')
param principalId string

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_193: The Function App has no VNet, so it publishes over the public endpoint; local auth is off, so only an Entra ID token holding EventGrid Data Sender on this topic is accepted.
  // checkov:skip=CKV_AZURE_191: The topic needs no identity of its own: nothing it delivers to is reached with one (on-call tooling subscribes with its own delivery settings).
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    minimumTlsVersionAllowed: '1.2'
  }
}

resource send 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard publishes remediation notifications here.'
  }
}

output endpoint string = topic.properties.endpoint
output id string = topic.id
