#!/bin/sh
# Before every provision: the Entra ID app registration App Service authentication validates tokens
# for, created or updated with the signed-in Azure CLI user's rights (Microsoft Graph's upsert by
# uniqueName, so running again changes nothing), and its client id in AUTH_CLIENT_ID for the Bicep.
# What it declares (the app roles the code checks, the delegated scope, the Azure CLI as a
# pre-authorized client) is infra/auth/*.json, written from the code by `python -m remediators infra`.
# It replaces the registration's app roles and API settings: change them there, not in the portal.
# Role assignments (who may read, who may approve) are the tenant's to make: docs/deployment.md.
set -eu
env_name="$(azd env get-value AZURE_ENV_NAME)"
graph="https://graph.microsoft.com/v1.0"
app="${graph}/applications(uniqueName='foundry-guard-${env_name}')"

echo "App registration for App Service authentication: foundry-guard-${env_name}"
az rest --method PATCH --url "$app" --headers "Content-Type=application/json" "Prefer=create-if-missing" \
  --body "{\"displayName\": \"Foundry Guard (${env_name})\", \"signInAudience\": \"AzureADMyOrg\"}" --output none
app_id="$(az rest --method GET --url "${app}?\$select=appId" --query appId --output tsv)"
# Graph takes a scope's pre-authorized clients only once the scope exists: two requests.
az rest --method PATCH --url "$app" --headers "Content-Type=application/json" \
  --body @infra/auth/app-registration.json --output none
az rest --method PATCH --url "$app" --headers "Content-Type=application/json" \
  --body @infra/auth/api-clients.json --output none
az rest --method PATCH --url "$app" --headers "Content-Type=application/json" \
  --body "{\"identifierUris\": [\"api://${app_id}\"]}" --output none
# Its enterprise application: only people (and groups) assigned an app role get a token for it.
az rest --method PATCH --url "${graph}/servicePrincipals(appId='${app_id}')" \
  --headers "Content-Type=application/json" "Prefer=create-if-missing" \
  --body '{"appRoleAssignmentRequired": true}' --output none
azd env set AUTH_CLIENT_ID "$app_id"
