// Foundry Guard: everything `azd up` creates, at subscription scope.
//
// The resource group holds the service (Function App, its storage, monitoring, Key Vault, Event Grid
// topics, alerts). Access to the guarded resources is granted elsewhere, in rbac.bicep, only on the
// scopes named by the parameters below. What calls the functions (the Event Grid subscription,
// the alerts' action group) is created by a second provision once the code is deployed
// (azure.yaml's postdeploy hook sets FUNCTIONS_DEPLOYED): Event Grid checks that the function
// exists, and the action group looks up the function's key.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the resource names.')
param environmentName string

@minLength(1)
@description('Region of the service\'s resources. Flex Consumption must be offered there.')
param location string

// Lists arrive comma-separated, as azd environment values do (main.parameters.json).

@description('Names of the resource groups in this subscription that are workspaces\' managed resource groups, comma-separated. The managed-rg role (may loosen Cosmos DB, AI Search and Storage) is assigned on each, and nowhere else; the names are also treated as managed by the code (GUARD_MANAGED_RESOURCE_GROUPS).')
param managedResourceGroups string = ''

@description('Names of the resource groups in this subscription holding guarded Azure OpenAI / AI Services accounts, comma-separated. The ai-account role (may update Cognitive Services accounts) is assigned on each.')
param aiAccountResourceGroups string = ''

@description('Assign both remediator roles on the whole subscription instead of on the groups above. Only when asked: the code\'s scope rules then stand alone between the service and every Cosmos DB, Search and Storage account here.')
param assignAtSubscription bool = false

@description('Sweep this subscription on a timer (catches missed events, records AI accounts\' allowlist baselines). The read-only reader role is on the subscription either way: the proof of managed groups lists its workspaces.')
param sweepSubscription bool = true

@description('The code is deployed: create what calls its functions (the Event Grid subscription, the alerts\' action group). Set by the postdeploy hook.')
param functionsDeployed bool = false

@description('Resource id of this subscription\'s existing Microsoft.Resources.Subscriptions system topic, when it has one: Azure allows one per subscription. It needs a system-assigned identity (for dead-lettering). Empty: create one.')
param existingSubscriptionTopicId string = ''

@description('Resource id of an existing Microsoft.ResourceNotifications.Resources system topic for this subscription, likewise.')
param existingResourceNotificationsTopicId string = ''

@description('Also subscribe to Azure Resource Notifications (Microsoft.ResourceNotifications.Resources), whose events carry the resource body.')
param enableResourceNotifications bool = false

@description('Per-kind modes, e.g. "outbound_allowlist_drift=apply,managed_rg_firewall_locked=propose" (GUARD_MODES). Empty: the defaults.')
param modes string = ''

@description('Propose every fix and write nothing to Azure (GUARD_DRY_RUN).')
param dryRun bool = false

@description('Only guard resources under these ARM scopes, comma-separated, globs per segment (GUARD_INCLUDE_SCOPES). Empty: every scope.')
param includeScopes string = ''

@description('Never guard resources under these ARM scopes, comma-separated (GUARD_EXCLUDE_SCOPES).')
param excludeScopes string = ''

@description('Tag whose value "off" makes the service leave a resource alone (GUARD_OPT_OUT_TAG).')
param optOutTag string = 'foundry-guard'

@description('When the sweep runs, NCRONTAB (GUARD_SWEEP_SCHEDULE).')
param sweepSchedule string = '0 0 * * * *'

@secure()
@description('Teams Workflows webhook URL for Adaptive Cards. Kept in Key Vault; the app setting is a Key Vault reference. Empty: no Teams.')
param teamsWebhookUrl string = ''

@description('Resource ids of guarded Cosmos DB accounts, Search services and Storage accounts, comma-separated, whose diagnostic logs (refused requests) go to the service\'s Log Analytics workspace; the alert rules and the evidence read them there.')
param diagnosticResourceIds string = ''

@minLength(1)
@description('Client id of the Entra ID app registration App Service authentication validates tokens for, declaring the app roles the code checks (infra/auth). The preprovision hook (infra/hooks/preprovision.*) creates or updates it and sets AUTH_CLIENT_ID.')
param authClientId string

@description('Address for the approve and reject links in notifications, e.g. a custom domain (GUARD_APPROVAL_BASE_URL). Empty: the app\'s own.')
param approvalBaseUrl string = ''

@description('Severity of the diagnostic-log alerts (0 critical to 4 verbose).')
@minValue(0)
@maxValue(4)
param alertSeverity int = 2

var tags = { 'azd-env-name': environmentName }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: group
  params: {
    name: 'id-guard-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: group
  params: {
    resourceToken: resourceToken
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: group
  params: {
    resourceToken: resourceToken
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module notifications 'app/notifications.bicep' = {
  name: 'notifications'
  scope: group
  params: {
    name: 'evgt-guard-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module vault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: group
  params: {
    name: 'kv-guard-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    teamsWebhookUrl: teamsWebhookUrl
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: group
  params: {
    name: 'func-guard-${resourceToken}'
    planName: 'plan-guard-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'guard' })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    workQueue: storage.outputs.workQueue
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    logAnalyticsWorkspaceCustomerId: monitoring.outputs.logAnalyticsWorkspaceCustomerId
    notificationTopicEndpoint: notifications.outputs.endpoint
    teamsWebhookSecretUri: empty(teamsWebhookUrl) ? '' : vault.outputs.teamsWebhookSecretUri
    managedResourceGroups: managedResourceGroups
    includeScopes: includeScopes
    excludeScopes: excludeScopes
    optOutTag: optOutTag
    modes: modes
    dryRun: dryRun
    sweepSubscriptions: sweepSubscription ? subscription().subscriptionId : ''
    sweepSchedule: sweepSchedule
    authClientId: authClientId
    approvalBaseUrl: approvalBaseUrl
  }
}

module rbac 'rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    managedResourceGroups: managedResourceGroups
    aiAccountResourceGroups: aiAccountResourceGroups
    assignAtSubscription: assignAtSubscription
  }
}

module events 'app/events.bicep' = {
  name: 'events'
  scope: group
  params: {
    resourceToken: resourceToken
    tags: tags
    storageAccountName: storage.outputs.name
    deadLetterContainer: storage.outputs.deadLetterContainer
    functionAppId: functionApp.outputs.id
    functionsDeployed: functionsDeployed
    enableResourceNotifications: enableResourceNotifications
    existingSubscriptionTopicId: existingSubscriptionTopicId
    existingResourceNotificationsTopicId: existingResourceNotificationsTopicId
  }
}

module alerts 'app/alerts.bicep' = if (functionsDeployed) {
  name: 'alerts'
  scope: group
  params: {
    resourceToken: resourceToken
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    functionAppId: functionApp.outputs.id
    alertsUrl: '${functionApp.outputs.url}/api/alerts'
    severity: alertSeverity
  }
}

// Diagnostic settings live on the guarded resources, in their own groups: one module each.
module diagnostics 'app/diagnostics.bicep' = [
  for resourceId in split(diagnosticResourceIds, ','): if (!empty(trim(resourceId))) {
    name: 'diagnostics-${uniqueString(trim(resourceId))}'
    scope: resourceGroup(split(trim(resourceId), '/')[2], split(trim(resourceId), '/')[4])
    params: {
      type: toLower('${split(trim(resourceId), '/')[6]}/${split(trim(resourceId), '/')[7]}')
      name: split(trim(resourceId), '/')[8]
      logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    }
  }
]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = group.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_URL string = functionApp.outputs.url
output AZURE_GUARD_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_GUARD_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_NOTIFICATION_TOPIC_ENDPOINT string = notifications.outputs.endpoint
output AZURE_LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.logAnalyticsWorkspaceCustomerId
