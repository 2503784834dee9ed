// Log Analytics and Application Insights, both with local (key) auth off: telemetry is sent with
// the managed identity (Monitoring Metrics Publisher), and the evidence queries read with it
// (Log Analytics Reader). The guarded resources' diagnostic logs land here too (diagnostics.bicep),
// so the alert rules and the evidence look at one workspace.

param resourceToken string
param location string
param tags object
@description('Principal id of the service\'s managed identity.')
param principalId string
@description('Days the workspace keeps logs; refused requests older than the evidence lookback are of no use to the service.')
param retentionInDays int = 30

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-guard-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-guard-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource publishTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, principalId, monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard sends its telemetry with Entra ID (local auth is off).'
  }
}

resource readEvidence 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard reads refused requests in the diagnostic logs as evidence (GUARD_LOG_ANALYTICS_WORKSPACE_ID).'
  }
}

output logAnalyticsWorkspaceId string = workspace.id
output logAnalyticsWorkspaceCustomerId string = workspace.properties.customerId
// An identifier, not a secret: with local auth off, nothing is accepted on its strength alone.
output applicationInsightsConnectionString string = insights.properties.ConnectionString
