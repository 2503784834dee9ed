// The Function App: Flex Consumption, Python 3.11, running as the user-assigned managed identity.
// Its settings are the code's GUARD_* settings (remediators/settings.py; tests/test_infra.py keeps
// the two lists equal) and the host's identity-based connection to its storage. No key anywhere.

param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param identityPrincipalId string
param storageAccountName string
param deploymentContainerUrl string
param workQueue string
param applicationInsightsConnectionString string
param logAnalyticsWorkspaceCustomerId string
param notificationTopicEndpoint string
@description('Versionless Key Vault secret URI of the Teams webhook URL; empty: no Teams.')
param teamsWebhookSecretUri string
@description('Comma-separated managed resource group names (GUARD_MANAGED_RESOURCE_GROUPS).')
param managedResourceGroups string
param includeScopes string
param excludeScopes string
param optOutTag string
param modes string
param dryRun bool
param sweepSubscriptions string
param sweepSchedule string
@minLength(1)
@description('Client id of the app registration App Service authentication validates tokens for (infra/hooks/preprovision.*).')
param authClientId string
@description('Address for the approve and reject links, e.g. a custom domain. Empty: the app\'s own (WEBSITE_HOSTNAME).')
param approvalBaseUrl string = ''
@description('Time budget of one remediation, in seconds (GUARD_ARM_BUDGET_SECONDS).')
param armBudgetSeconds int = 25
@description('How far back the evidence looks for refused requests, in minutes (GUARD_EVIDENCE_LOOKBACK_MINUTES).')
param evidenceLookbackMinutes int = 60
// Bicep's environment() gives no Log Analytics host, and a hard-coded one is the public cloud's only
// (the linter's no-hardcoded-env-urls): empty lets the code use the public cloud's endpoint.
@description('Log Analytics query endpoint, for a sovereign cloud (its api.loganalytics host). Empty: the public cloud\'s.')
param logAnalyticsEndpoint string = ''
@description('Most instances Flex Consumption may run. Each remediation is a handful of ARM calls; ARM allows a principal about 200 writes per subscription before throttling.')
param maximumInstanceCount int = 40

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is offered in some regions only; a zonal outage delays remediation, and Event Grid's retries (24 hours) and the sweep catch up.
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  // checkov:skip=CKV_AZURE_17: Client certificates would lock out Event Grid and Azure Monitor, which cannot present one; HTTP calls need a function key, and all but theirs an Entra ID token.
  // checkov:skip=CKV_AZURE_222: Event Grid and the action group deliver over the public endpoint; every HTTP function asks for a function key.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; a lost instance costs a retry (Event Grid for 24 hours, the queue five times), not an event.
  // checkov:skip=CKV_AZURE_213: The platform health check would be refused by the function-key check of /api/health; Flex Consumption replaces unhealthy instances itself.
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // The Functions host: its storage (and the queue trigger's connection) with the identity.
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'AzureWebJobsStorage__blobServiceUri', value: 'https://${storageAccountName}.blob.${environment().suffixes.storage}' }
        { name: 'AzureWebJobsStorage__queueServiceUri', value: 'https://${storageAccountName}.queue.${environment().suffixes.storage}' }
        { name: 'AzureWebJobsStorage__tableServiceUri', value: 'https://${storageAccountName}.table.${environment().suffixes.storage}' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // Foundry Guard (docs/configuration.md).
        { name: 'GUARD_MANAGED_RESOURCE_GROUPS', value: managedResourceGroups }
        { name: 'GUARD_INCLUDE_SCOPES', value: includeScopes }
        { name: 'GUARD_EXCLUDE_SCOPES', value: excludeScopes }
        { name: 'GUARD_ARM_ENDPOINT', value: environment().resourceManager }
        { name: 'GUARD_ARM_BUDGET_SECONDS', value: string(armBudgetSeconds) }
        { name: 'GUARD_ARM_POLL_SECONDS', value: '5' }
        { name: 'GUARD_IDENTITY_CLIENT_ID', value: identityClientId }
        { name: 'GUARD_IDENTITY_OBJECT_ID', value: identityPrincipalId }
        { name: 'GUARD_STORAGE', value: storageAccountName }
        { name: 'GUARD_WORK_QUEUE', value: workQueue }
        { name: 'GUARD_MODES', value: modes }
        { name: 'GUARD_DRY_RUN', value: dryRun ? 'true' : 'false' }
        { name: 'GUARD_SWEEP_SUBSCRIPTIONS', value: sweepSubscriptions }
        { name: 'GUARD_SWEEP_SCHEDULE', value: sweepSchedule }
        { name: 'GUARD_NOTIFY_EVENTGRID_ENDPOINT', value: notificationTopicEndpoint }
        { name: 'GUARD_NOTIFY_TEAMS_WEBHOOK_URL', value: empty(teamsWebhookSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${teamsWebhookSecretUri})' }
        { name: 'GUARD_APPROVAL_BASE_URL', value: approvalBaseUrl }
        { name: 'GUARD_LOG_ANALYTICS_WORKSPACE_ID', value: logAnalyticsWorkspaceCustomerId }
        { name: 'GUARD_LOG_ANALYTICS_ENDPOINT', value: logAnalyticsEndpoint }
        { name: 'GUARD_EVIDENCE_LOOKBACK_MINUTES', value: string(evidenceLookbackMinutes) }
        { name: 'GUARD_OPT_OUT_TAG', value: optOutTag }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Deployments (azd) use Entra ID; the FTP and SCM basic-auth publishing credentials are off.
resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// App Service authentication, always on: every request needs an Entra ID token for the app
// registration (401 without one), besides the function key, except what Azure services call with a
// function key alone: the Event Grid trigger's webhook, the alerts' action group, and the health
// probe. The functions read the signed-in person and their app roles from the platform's
// X-MS-CLIENT-PRINCIPAL header, and believe it only while the platform says authentication is on
// (WEBSITE_AUTH_ENABLED; remediators/principal.py). No GUARD_* setting turns this off.
//
// checkov reads this sites/config child as a web app of its own, so the skips below answer checks
// about the site (declared above), and CKV_AZURE_13 asks for this very resource.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  // checkov:skip=CKV_AZURE_13: This resource is the App Service authentication the check asks for.
  // checkov:skip=CKV_AZURE_63: HTTP logs: the functions log every request to Application Insights.
  // checkov:skip=CKV_AZURE_222: Public network access is the site's setting (skipped there, with its reason).
  // checkov:skip=CKV_AZURE_65: Detailed error pages are an IIS feature; the functions answer problem+json.
  name: 'authsettingsV2'
  // checkov:skip=CKV_AZURE_66: Failed request tracing is an IIS feature; failures go to Application Insights.
  // checkov:skip=CKV_AZURE_80: Python, not .NET Framework.
  // checkov:skip=CKV_AZURE_88: Azure Files: Flex Consumption keeps the package in blob storage, identity-based.
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/runtime/webhooks/eventgrid' // Event Grid delivers to the on_resource_event trigger with its system key
        '/api/alerts' // the action group calls the alerts function with its function key
        '/api/health' // probes, with a function key
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${authClientId}', authClientId]
        }
      }
    }
    login: {
      tokenStore: { enabled: false }
    }
  }
}

output id string = site.id
output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
