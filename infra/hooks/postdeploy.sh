#!/bin/sh
# After the first deploy, provision once more with what calls the functions, which exist only now:
# the Event Grid subscription (to on_resource_event) and the alerts' action group (to alerts).
# Later deploys find FUNCTIONS_DEPLOYED set and do nothing.
set -eu
if [ "$(azd env get-value FUNCTIONS_DEPLOYED 2>/dev/null || true)" != "true" ]; then
  echo "Wiring Event Grid and the alerts to the deployed functions (azd provision)..."
  azd env set FUNCTIONS_DEPLOYED true
  azd provision --no-prompt
fi
