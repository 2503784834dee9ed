// Key Vault for the one secret the service holds: the Teams Workflows webhook URL (whoever has it
// can post to the channel). The app setting is a Key Vault reference resolved with the managed
// identity, which may read secrets in this vault and nothing else.

param name string
param location string
param tags object
@description('Principal id of the service\'s managed identity.')
param principalId string
@secure()
param teamsWebhookUrl string
param logAnalyticsWorkspaceId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var teamsSecretName = 'teams-webhook-url'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_189: The Function App has no VNet, so it resolves its Key Vault reference over the public endpoint; access is Entra ID with RBAC, and only the service's identity may read secrets.
  // checkov:skip=CKV_AZURE_109: The firewall allows all networks for the same reason as CKV_AZURE_189.
  // checkov:skip=CKV_AZURE_110: No purge protection: the vault holds one secret that can be set again (the webhook URL), and purge protection would stop azd down --purge and a redeploy under the same name for the retention period.
  // checkov:skip=CKV_AZURE_42: Soft delete is on (7 days); purge protection is off for the reason given at CKV_AZURE_110.
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource teamsWebhook 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  parent: vault
  name: teamsSecretName
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside a conditional (if) resource's body.
  // checkov:skip=CKV_AZURE_41: A webhook URL does not expire on a schedule; Teams revokes it when the workflow is deleted. Rotate by re-running azd provision with the new URL.
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/uri-list'
  }
}

resource readSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard resolves its Key Vault references (the Teams webhook URL).'
  }
}

resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'foundry-guard'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'audit', enabled: true }]
  }
}

// Versionless: the reference follows the latest version, so a new URL needs no new setting. The
// secret exists only when a URL was given (main.bicep checks).
output teamsWebhookSecretUri string = '${vault.properties.vaultUri}secrets/${teamsSecretName}'
