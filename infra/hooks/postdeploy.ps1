# After the first deploy, provision once more with what calls the functions, which exist only now:
# the Event Grid subscription (to on_resource_event) and the alerts' action group (to alerts).
# Later deploys find FUNCTIONS_DEPLOYED set and do nothing.
$ErrorActionPreference = 'Stop'
$current = azd env get-value FUNCTIONS_DEPLOYED 2>$null
if ($current -ne 'true') {
    Write-Host 'Wiring Event Grid and the alerts to the deployed functions (azd provision)...'
    azd env set FUNCTIONS_DEPLOYED true
    azd provision --no-prompt
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
