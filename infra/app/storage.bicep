// The service's own storage: the Function App's package and host state (AzureWebJobsStorage),
// the ledger tables, the work queue, and the dead-letter container for undeliverable events.
// Shared-key access is off: the Function App connects with its managed identity, and nothing
// holds an account key or a SAS.

@description('Seeds the account\'s name: "stguard" and 13 lowercase letters and digits (uniqueString), 20 characters.')
param resourceToken string
param location string
param tags object
@description('Principal id of the service\'s managed identity.')
param principalId string
param logAnalyticsWorkspaceId string
@description('The work queue (GUARD_WORK_QUEUE): the fast triggers queue work there, the queue trigger does it.')
param workQueue string = 'remediation-work'

// The code's table names: remediators/ledger.py (Ledger, its listing index too), remediators/baselines.py (TableBaselines)
// and remediators/work_queue.py (WorkQueue.CLAIMS: bodies of work messages over the queue's 64 KiB).
// The code creates them if missing; declaring them means no first-event latency and nothing to guess.
var accountName = 'stguard${resourceToken}'
var ledgerTables = ['remediations', 'remediationindex', 'seenevents', 'leases', 'baselines', 'claims']
var deploymentContainer = 'app-package'
var deadLetterContainer = 'event-deadletter'

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f4e5b1c0a3e'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  // checkov:skip=CKV_AZURE_35: The Function App has no VNet, so it reaches its host storage over the public endpoint; the account takes Entra ID tokens only (allowSharedKeyAccess false), and only the service's identity holds data roles on it.
  // checkov:skip=CKV_AZURE_59: Public network access stays on for the same reason as CKV_AZURE_35.
  // checkov:skip=CKV_AZURE_43: checkov cannot evaluate uniqueString(): the name is "stguard" and 13 lowercase letters and digits, 20 characters, within the rules.
  // checkov:skip=CKV_AZURE_206: Zone-redundant (three copies across zones) rather than geo-redundant: the ledger is the service's own state in its one region, which a regional outage stops anyway.
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
  properties: { publicAccess: 'None' }
}

resource deadLetter 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainer
  properties: { publicAccess: 'None' }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: workQueue
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in ledgerTables: {
    parent: tableService
    name: table
  }
]

// Blob Data Owner: the Functions host keeps its leases and keys in blobs and Flex Consumption reads
// the package from the deployment container. Queue and Table Data Contributor: the work queue and
// the ledger. All on this account only.
resource dataRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]: {
    name: guid(account.id, principalId, role)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: principalId
      principalType: 'ServicePrincipal'
      description: 'Foundry Guard: its own host storage, ledger and work queue.'
    }
  }
]

resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'foundry-guard'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

resource queueLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'foundry-guard'
  scope: queueService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

resource tableLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'foundry-guard'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

output name string = account.name
output id string = account.id
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deployment.name}'
output deadLetterContainer string = deadLetter.name
output workQueue string = queue.name
output tables array = [for (table, i) in ledgerTables: tables[i].name]
