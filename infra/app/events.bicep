// Event Grid: the subscription's resource-write events to the on_resource_event function.
//
// The system topic on the Azure subscription exists from the first provision; the event
// subscription only once the code is deployed (deployEventSubscription, set by azure.yaml's
// postdeploy hook), since Event Grid checks that the function exists. The filter lets through only
// ResourceWriteSuccess events of the write operations a remediator handles
// (../events/operations.json, derived from the code), so the function is not woken for the rest
// of the subscription's writes. Undeliverable events go to a blob container, written with the
// topic's own identity (no key).

param resourceToken string
param tags object
param storageAccountName string
param deadLetterContainer string
param functionAppId string
param deployEventSubscription bool
param enableResourceNotifications bool
@description('Delivery attempts before an event is dead-lettered; Event Grid backs off between them.')
param maxDeliveryAttempts int = 30
@description('Minutes an event is retried before it is dead-lettered (Event Grid\'s maximum, 24 hours).')
param eventTimeToLiveInMinutes int = 1440

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var functionEndpoint = {
  endpointType: 'AzureFunction'
  properties: {
    resourceId: '${functionAppId}/functions/on_resource_event'
    maxEventsPerBatch: 1
    preferredBatchSizeInKilobytes: 64
  }
}
var deadLettering = {
  identity: { type: 'SystemAssigned' }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: storage.id
      blobContainerName: deadLetterContainer
    }
  }
}
var retries = {
  maxDeliveryAttempts: maxDeliveryAttempts
  eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobs 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainer
    }
  }
}

resource subscriptionTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: 'evgst-guard-${resourceToken}'
  location: 'global'
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource resourceWrites 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (deployEventSubscription) {
  parent: subscriptionTopic
  name: 'foundry-guard'
  properties: {
    destination: functionEndpoint
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess']
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: loadJsonContent('../events/operations.json')
        }
      ]
    }
    retryPolicy: retries
    deadLetterWithResourceIdentity: deadLettering
  }
}

// Azure Resource Notifications: events that carry the resource's properties, so no GET is needed to
// classify them. Optional, alongside the subscription topic.
resource notificationsTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (enableResourceNotifications) {
  name: 'evgst-guard-arn-${resourceToken}'
  location: 'global'
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.ResourceNotifications.Resources'
  }
}

resource resourceChanges 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (enableResourceNotifications && deployEventSubscription) {
  parent: notificationsTopic
  name: 'foundry-guard'
  properties: {
    destination: functionEndpoint
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: ['Microsoft.ResourceNotifications.Resources.CreatedOrUpdated']
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.resourceInfo.type'
          values: loadJsonContent('../events/resource-types.json')
        }
      ]
    }
    retryPolicy: retries
    deadLetterWithResourceIdentity: deadLettering
  }
}

// Each topic's identity may write blobs in the dead-letter container, nowhere else.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobs::deadLetters.id, subscriptionTopic.id, storageBlobDataContributor)
  scope: storage::blobs::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: subscriptionTopic.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'Event Grid dead-letters undeliverable resource events for Foundry Guard.'
  }
}

resource notificationsDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableResourceNotifications) {
  name: guid(storage::blobs::deadLetters.id, notificationsTopic.id, storageBlobDataContributor)
  scope: storage::blobs::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: notificationsTopic.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'Event Grid dead-letters undeliverable resource notifications for Foundry Guard.'
  }
}

output subscriptionTopicId string = subscriptionTopic.id
