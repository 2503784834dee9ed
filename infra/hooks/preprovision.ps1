# Before every provision: the Entra ID app registration App Service authentication validates tokens
# for, created or updated with the signed-in Azure CLI user's rights (Microsoft Graph's upsert by
# uniqueName, so running again changes nothing), and its client id in AUTH_CLIENT_ID for the Bicep.
# What it declares (the app roles the code checks, the delegated scope, the Azure CLI as a
# pre-authorized client) is infra/auth/*.json, written from the code by `python -m remediators infra`.
# It replaces the registration's app roles and API settings: change them there, not in the portal.
# Role assignments (who may read, who may approve) are the tenant's to make: docs/deployment.md.
$ErrorActionPreference = 'Stop'
$envName = azd env get-value AZURE_ENV_NAME
$graph = 'https://graph.microsoft.com/v1.0'
$app = "$graph/applications(uniqueName='foundry-guard-$envName')"

# Bodies go through files: PowerShell does not pass quotes inside arguments to native commands intact.
function Invoke-Graph([string]$Url, [string]$BodyFile, [switch]$CreateIfMissing) {
    $headers = @('Content-Type=application/json')
    if ($CreateIfMissing) { $headers += 'Prefer=create-if-missing' }
    az rest --method PATCH --url $Url --headers $headers --body "@$BodyFile" --output none
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
function Write-Body($Value) {
    $file = New-TemporaryFile
    $Value | ConvertTo-Json -Compress -Depth 5 | Set-Content -Path $file -Encoding utf8NoBOM
    return $file.FullName
}

Write-Host "App registration for App Service authentication: foundry-guard-$envName"
Invoke-Graph $app (Write-Body @{ displayName = "Foundry Guard ($envName)"; signInAudience = 'AzureADMyOrg' }) -CreateIfMissing
$appId = az rest --method GET --url "$app`?`$select=appId" --query appId --output tsv
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
# Graph takes a scope's pre-authorized clients only once the scope exists: two requests.
Invoke-Graph $app 'infra/auth/app-registration.json'
Invoke-Graph $app 'infra/auth/api-clients.json'
Invoke-Graph $app (Write-Body @{ identifierUris = @("api://$appId") })
# Its enterprise application: only people (and groups) assigned an app role get a token for it.
Invoke-Graph "$graph/servicePrincipals(appId='$appId')" (Write-Body @{ appRoleAssignmentRequired = $true }) -CreateIfMissing
azd env set AUTH_CLIENT_ID $appId
