// One Event Grid subscription on a system topic, to the on_resource_event function, dead-lettering
// with the topic's own identity. Deployed to the topic's resource group: the service's own, or the
// group of the subscription's existing topic (Azure allows one system topic per source).

param topicName string
param name string = 'foundry-guard'
param functionAppId string
param includedEventTypes array
@description('The advanced filter: key, and the values it must be one of.')
param filterKey string
param filterValues array
param deadLetterStorageAccountId string
param deadLetterContainer string
param maxDeliveryAttempts int
param eventTimeToLiveInMinutes int

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: topicName
}

resource toFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: name
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_resource_event'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: includedEventTypes
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: filterKey
          values: filterValues
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
}

@description('The identity that writes dead-lettered events; it needs Storage Blob Data Contributor on the container.')
output topicPrincipalId string = topic.identity.principalId
