// Event Grid: the subscription's resource-write events to the on_resource_event function.
//
// The system topic on the Azure subscription is created here, unless the subscription already has
// one (Azure allows one system topic per source): then name it in existingSubscriptionTopicId and
// the event subscription goes on it, in its own group. The event subscription is created only once
// the code is deployed (functionsDeployed, set by azure.yaml's postdeploy hook), since Event
// Grid checks that the function exists. The filter lets through only ResourceWriteSuccess events of
// the write operations a remediator handles (../events/operations.json, derived from the code), so
// the function is not woken for the rest of the subscription's writes. Undeliverable events go to a
// blob container, written with the topic's own system-assigned identity (no key).

param resourceToken string
param tags object
param storageAccountName string
param deadLetterContainer string
param functionAppId string
param functionsDeployed bool
param enableResourceNotifications bool
@description('Resource id of the subscription\'s existing Microsoft.Resources.Subscriptions system topic, if it has one (it needs a system-assigned identity). Empty: create one.')
param existingSubscriptionTopicId string = ''
@description('The same for a Microsoft.ResourceNotifications.Resources system topic.')
param existingResourceNotificationsTopicId string = ''
@description('Delivery attempts before an event is dead-lettered; Event Grid backs off between them.')
param maxDeliveryAttempts int = 30
@description('Minutes an event is retried before it is dead-lettered (Event Grid\'s maximum, 24 hours).')
param eventTimeToLiveInMinutes int = 1440

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var createSubscriptionTopic = empty(existingSubscriptionTopicId)
var createNotificationsTopic = enableResourceNotifications && empty(existingResourceNotificationsTopicId)
var subscriptionTopicName = createSubscriptionTopic ? 'evgst-guard-${resourceToken}' : last(split(existingSubscriptionTopicId, '/'))
var subscriptionTopicGroup = createSubscriptionTopic ? resourceGroup().name : split(existingSubscriptionTopicId, '/')[4]
var notificationsTopicName = createNotificationsTopic ? 'evgst-guard-arn-${resourceToken}' : last(split(existingResourceNotificationsTopicId, '/'))
var notificationsTopicGroup = createNotificationsTopic ? resourceGroup().name : split(existingResourceNotificationsTopicId, '/')[4]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobs 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainer
    }
  }
}

resource subscriptionTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (createSubscriptionTopic) {
  name: subscriptionTopicName
  location: 'global'
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

module resourceWrites 'event-subscription.bicep' = if (functionsDeployed) {
  name: 'guard-resource-writes'
  scope: resourceGroup(subscriptionTopicGroup)
  dependsOn: [subscriptionTopic]
  params: {
    topicName: subscriptionTopicName
    functionAppId: functionAppId
    includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess']
    filterKey: 'data.operationName'
    filterValues: loadJsonContent('../events/operations.json')
    deadLetterStorageAccountId: storage.id
    deadLetterContainer: deadLetterContainer
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

// Azure Resource Notifications: events that carry the resource's properties, so no GET is needed to
// classify them. Optional, alongside the subscription topic.
resource notificationsTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (createNotificationsTopic) {
  name: notificationsTopicName
  location: 'global'
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.ResourceNotifications.Resources'
  }
}

module resourceChanges 'event-subscription.bicep' = if (enableResourceNotifications && functionsDeployed) {
  name: 'guard-resource-changes'
  scope: resourceGroup(notificationsTopicGroup)
  dependsOn: [notificationsTopic]
  params: {
    topicName: notificationsTopicName
    functionAppId: functionAppId
    includedEventTypes: ['Microsoft.ResourceNotifications.Resources.CreatedOrUpdated']
    filterKey: 'data.resourceInfo.type'
    filterValues: loadJsonContent('../events/resource-types.json')
    deadLetterStorageAccountId: storage.id
    deadLetterContainer: deadLetterContainer
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

// Each topic's identity may write blobs in the dead-letter container, nowhere else. Each assignment
// has its event subscription's condition, but Bicep does not follow conditions (BCP318): a module
// declared with if is read with .? (null, not a failed reference, when it was not deployed) and a
// fallback. The fallback is never deployed: the assignment is skipped under the same condition.
resource writesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (functionsDeployed) {
  name: guid(storage::blobs::deadLetters.id, subscriptionTopicName, storageBlobDataContributor)
  scope: storage::blobs::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: resourceWrites.?outputs.topicPrincipalId ?? ''
    principalType: 'ServicePrincipal'
    description: 'Event Grid dead-letters undeliverable resource events for Foundry Guard.'
  }
}

resource changesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableResourceNotifications && functionsDeployed) {
  name: guid(storage::blobs::deadLetters.id, notificationsTopicName, storageBlobDataContributor)
  scope: storage::blobs::deadLetters
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: resourceChanges.?outputs.topicPrincipalId ?? ''
    principalType: 'ServicePrincipal'
    description: 'Event Grid dead-letters undeliverable resource notifications for Foundry Guard.'
  }
}
