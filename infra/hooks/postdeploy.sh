#!/bin/sh
# After the first deploy, provision once more with the Event Grid subscription: it points at the
# on_resource_event function, which exists only now. Later deploys find it set and do nothing.
set -eu
if [ "$(azd env get-value DEPLOY_EVENT_SUBSCRIPTION 2>/dev/null || true)" != "true" ]; then
  echo "Creating the Event Grid subscription to the deployed function (azd provision)..."
  azd env set DEPLOY_EVENT_SUBSCRIPTION true
  azd provision --no-prompt
fi
