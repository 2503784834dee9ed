// Diagnostic-log alerts: one log search alert rule per signature (../alerts/*.kql, derived from
// remediators/evidence.py), split by _ResourceId so each alert names one resource, delivered by an
// action group to the alerts function (POST /api/alerts, common alert schema). The function then
// classifies that resource with the same logs as evidence.

param resourceToken string
param location string
param tags object
param logAnalyticsWorkspaceId string
param functionAppId string
@description('https://<app>/api/alerts')
param alertsUrl string
@minValue(0)
@maxValue(4)
param severity int
@description('How often the rules run and how far back each run looks (ISO 8601). The evidence lookback covers it.')
param window string = 'PT15M'

var signatures = [
  { name: 'cosmos-db', resource: 'Cosmos DB accounts', query: loadTextContent('../alerts/cosmos-db.kql') }
  { name: 'ai-search', resource: 'AI Search services', query: loadTextContent('../alerts/ai-search.kql') }
  { name: 'storage-account', resource: 'Storage accounts', query: loadTextContent('../alerts/storage-account.kql') }
]

// Azure Monitor reads the function's key through the Functions API when the receiver is defined
// (so the function must exist: main.bicep creates this module after the deploy) and calls it with
// that key: no key in this file. A rotated key needs the receiver defined again (azd provision).
resource toFunction 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-guard-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'fguard'
    enabled: true
    azureFunctionReceivers: [
      {
        name: 'foundry-guard-alerts'
        functionAppResourceId: functionAppId
        functionName: 'alerts'
        httpTriggerUrl: alertsUrl
        useCommonAlertSchema: true
      }
    ]
  }
}

// Each query names a table (CDBDataPlaneRequests, AzureDiagnostics, StorageBlobLogs) that a workspace
// has only once a diagnostic setting has sent it rows, and none may have yet. Azure Monitor validates
// a log alert's query when the rule is created and refuses one naming a table the workspace lacks
// ("SEM0100: Failed to resolve table or column expression", mspnp/aks-baseline-multi-region#13);
// the Azure Monitor team's advice for it is to skip the validation (mspnp/aks-baseline#422). The
// rules then wait for their tables; tests/test_infra.py checks the queries against the evidence
// signatures instead.
resource refusals 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for signature in signatures: {
    name: 'guard-refused-${signature.name}-${resourceToken}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: 'Foundry Guard: ${signature.resource} refusing requests'
      description: 'Requests refused (401/403) by a ${signature.resource} resource: local auth off or a firewall locked. Foundry Guard checks each resource named.'
      severity: severity
      enabled: true
      scopes: [logAnalyticsWorkspaceId]
      evaluationFrequency: window
      windowSize: window
      criteria: {
        allOf: [
          {
            query: signature.query
            timeAggregation: 'Total'
            metricMeasureColumn: 'Refused'
            dimensions: [
              {
                name: '_ResourceId'
                operator: 'Include'
                values: ['*']
              }
            ]
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      // The tables may not exist yet (above).
      skipQueryValidation: true
      actions: {
        actionGroups: [toFunction.id]
      }
    }
  }
]
