// Diagnostic settings on one guarded resource, sending the logs the service reads (refused
// requests: DESIGN section 7, remediators/evidence.py) to its Log Analytics workspace:
//   Cosmos DB account   DataPlaneRequests, resource-specific  -> CDBDataPlaneRequests
//   AI Search service   OperationLogs                         -> AzureDiagnostics
//   Storage account     blob service StorageRead/Write/Delete  -> StorageBlobLogs
// Deployed to the resource's own group.

@description('The resource\'s type, lower case; any other type is refused at deployment.')
@allowed([
  'microsoft.documentdb/databaseaccounts'
  'microsoft.search/searchservices'
  'microsoft.storage/storageaccounts'
])
param type string
param name string
param logAnalyticsWorkspaceId string

var settingName = 'foundry-guard'

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = if (type == 'microsoft.documentdb/databaseaccounts') {
  name: name
}

resource search 'Microsoft.Search/searchServices@2025-05-01' existing = if (type == 'microsoft.search/searchservices') {
  name: name
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (type == 'microsoft.storage/storageaccounts') {
  name: name

  resource blobs 'blobServices' existing = {
    name: 'default'
  }
}

resource cosmosLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (type == 'microsoft.documentdb/databaseaccounts') {
  name: settingName
  scope: cosmos
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [{ category: 'DataPlaneRequests', enabled: true }]
  }
}

resource searchLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (type == 'microsoft.search/searchservices') {
  name: settingName
  scope: search
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ category: 'OperationLogs', enabled: true }]
  }
}

resource storageLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (type == 'microsoft.storage/storageaccounts') {
  name: settingName
  scope: storage::blobs
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { category: 'StorageRead', enabled: true }
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
  }
}
