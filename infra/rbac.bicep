// What the service may do to the resources it guards: three custom roles with exactly the ARM
// actions the code performs (roles/*.json, derived from the remediators' declarations and checked
// by tests/test_infra.py), each assigned at the narrowest scope the parameters allow. No built-in
// role, no listKeys, no delete, no role assignments: the service cannot read a key or grant itself
// more. Assignment names are guid(scope, principal, role), so a re-provision changes nothing.
//
// The service's access to its own resources (storage data roles, topic sender, Log Analytics
// reader, Key Vault secrets user) is granted next to each of them in app/*.bicep, each on that one
// resource.

targetScope = 'subscription'

@description('Principal id of the service\'s managed identity.')
param principalId string
@description('Workspaces\' managed resource groups (names in this subscription, comma-separated): the managed-rg role is assigned on each.')
param managedResourceGroups string
@description('Resource groups holding guarded AI accounts (names in this subscription, comma-separated): the ai-account role is assigned on each.')
param aiAccountResourceGroups string
@description('Assign both remediator roles on the subscription instead of on the groups.')
param assignAtSubscription bool

var managedRg = loadJsonContent('roles/managed-rg.json')
var aiAccount = loadJsonContent('roles/ai-account.json')
var reader = loadJsonContent('roles/reader.json')

// Custom role names are unique per tenant: the id is derived from the subscription and the role's
// name, so each subscription that deploys Foundry Guard gets its own copy, updated in place.
resource managedRgRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, managedRg.Name)
  properties: {
    roleName: '${managedRg.Name} (${subscription().subscriptionId})'
    description: managedRg.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: managedRg.Actions
        notActions: managedRg.NotActions
        dataActions: managedRg.DataActions
        notDataActions: managedRg.NotDataActions
      }
    ]
    assignableScopes: [subscription().id]
  }
}

resource aiAccountRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, aiAccount.Name)
  properties: {
    roleName: '${aiAccount.Name} (${subscription().subscriptionId})'
    description: aiAccount.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: aiAccount.Actions
        notActions: aiAccount.NotActions
        dataActions: aiAccount.DataActions
        notDataActions: aiAccount.NotDataActions
      }
    ]
    assignableScopes: [subscription().id]
  }
}

resource readerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, reader.Name)
  properties: {
    roleName: '${reader.Name} (${subscription().subscriptionId})'
    description: reader.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: reader.Actions
        notActions: reader.NotActions
        dataActions: reader.DataActions
        notDataActions: reader.NotDataActions
      }
    ]
    assignableScopes: [subscription().id]
  }
}

// Each managed resource group: may loosen Cosmos DB, AI Search and Storage there, nowhere else.
module onManagedGroups 'app/group-role.bicep' = [
  for group in split(managedResourceGroups, ','): if (!assignAtSubscription && !empty(trim(group))) {
    name: 'guard-managed-rg-${uniqueString(trim(group))}'
    scope: resourceGroup(trim(group))
    params: {
      principalId: principalId
      roleDefinitionId: managedRgRole.id
      description: 'Foundry Guard may restore access keys and public paths this workspace needs.'
    }
  }
]

// Each AI accounts' group: may restore the outbound restriction of Cognitive Services accounts.
module onAiAccountGroups 'app/group-role.bicep' = [
  for group in split(aiAccountResourceGroups, ','): if (!assignAtSubscription && !empty(trim(group))) {
    name: 'guard-ai-account-${uniqueString(trim(group))}'
    scope: resourceGroup(trim(group))
    params: {
      principalId: principalId
      roleDefinitionId: aiAccountRole.id
      description: 'Foundry Guard may restore the outbound restriction of AI accounts here.'
    }
  }
]

resource managedRgOnSubscription 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignAtSubscription) {
  name: guid(subscription().id, principalId, managedRgRole.id)
  properties: {
    roleDefinitionId: managedRgRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard, subscription-wide as asked: its scope rules alone pick the managed groups.'
  }
}

resource aiAccountOnSubscription 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignAtSubscription) {
  name: guid(subscription().id, principalId, aiAccountRole.id)
  properties: {
    roleDefinitionId: aiAccountRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard, subscription-wide as asked: AI accounts\' outbound restriction.'
  }
}

// Reads only, always: the proof that a group is a workspace's managed resource group lists the
// subscription's workspaces and registries, and the sweep lists the guarded types; a list across a
// subscription needs its read action there.
resource readerOnSubscription 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, readerRole.id)
  properties: {
    roleDefinitionId: readerRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Foundry Guard reads this subscription\'s workspaces (the proof of managed groups) and sweeps it (reads only).'
  }
}
