"""What the infrastructure takes from the code, as files under ``infra/``.

The Bicep loads these (``loadJsonContent`` / ``loadTextContent``) rather than restating them, so
the deployed role definitions, the Event Grid filter and the alert queries are the code's own:

* ``roles/*.json``: the least-privilege custom roles (:mod:`remediators.role`);
* ``events/operations.json``, ``events/resource-types.json``: what the event subscriptions let through;
* ``alerts/*.kql``: one log search alert query per diagnostic signature (:mod:`remediators.evidence`);
* ``auth/app-registration.json``, ``auth/api-clients.json``: the app registration App Service
  authentication validates tokens for, as Microsoft Graph ``application`` bodies: the app roles the
  code checks (:mod:`remediators.principal`) and the delegated scope clients ask for
  (``infra/hooks/preprovision.*`` sends them).

``python -m remediators infra --write`` regenerates them; ``tests/test_infra.py`` fails while the
committed files differ from this output.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from .evidence import alert_query
from .principal import ID_NAMESPACE, ROLES
from .registry import REMEDIATORS, guarded_types, write_operations
from .role import role_definitions

INFRA = Path(__file__).resolve().parent.parent / "infra"

# The delegated permission a client asks for to call the API as the signed-in person. The Azure CLI
# (its well-known client id) is pre-authorized for it, so an approver gets a token with
# `az account get-access-token` without a consent prompt.
API_SCOPE = "user_impersonation"
API_SCOPE_ID = str(uuid.uuid5(ID_NAMESPACE, API_SCOPE))
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def derived_files() -> dict[str, str]:
    """``{path under infra/: content}``."""
    files = {f"roles/{key}.json": _json(role) for key, role in role_definitions().items()}
    files["events/operations.json"] = _json(write_operations())
    files["events/resource-types.json"] = _json(guarded_types())
    for remediator in REMEDIATORS:
        query = alert_query(remediator.resource_type)
        if query is not None:
            files[f"alerts/{remediator.name.replace('_', '-')}.kql"] = query[1] + "\n"
    files["auth/app-registration.json"] = _json(app_registration())
    files["auth/api-clients.json"] = _json(api_clients())
    return files


def app_registration() -> dict[str, Any]:
    """The app registration's roles and API, a Microsoft Graph ``application`` PATCH body.

    ``requestedAccessTokenVersion`` 2: the tokens' issuer is the ``/v2.0`` one App Service
    authentication is configured with (``infra/app/function.bicep``). Role and scope ids are stable,
    since Graph refuses to change or remove an enabled one.
    https://learn.microsoft.com/graph/api/resources/approle and
    https://learn.microsoft.com/graph/api/resources/permissionscope
    """
    return {
        "appRoles": [
            {
                "allowedMemberTypes": list(role.member_types),
                "description": role.description,
                "displayName": role.display_name,
                "id": role.id,
                "isEnabled": True,
                "value": role.value,
            }
            for role in ROLES
        ],
        "api": _api(),
    }


def api_clients() -> dict[str, Any]:
    """The API with its pre-authorized clients: a request of its own, since Graph does not accept a
    pre-authorization of a scope created in the same request."""
    return {
        "api": _api(
            preAuthorizedApplications=[{"appId": AZURE_CLI_CLIENT_ID, "delegatedPermissionIds": [API_SCOPE_ID]}]
        )
    }


def _api(**more: Any) -> dict[str, Any]:
    scope = {
        "adminConsentDescription": "Call Foundry Guard's API as the signed-in person; what they may do is "
        "what their app roles allow.",
        "adminConsentDisplayName": "Call Foundry Guard as the signed-in person",
        "id": API_SCOPE_ID,
        "isEnabled": True,
        "type": "User",
        "userConsentDescription": "Call Foundry Guard's API as you.",
        "userConsentDisplayName": "Call Foundry Guard as you",
        "value": API_SCOPE,
    }
    return {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": [scope], **more}


def stale_files(infra: Path = INFRA) -> list[str]:
    """The derived files missing from ``infra`` or differing from the code's output."""
    return sorted(
        path
        for path, content in derived_files().items()
        if not (infra / path).is_file() or (infra / path).read_text(encoding="utf-8") != content
    )


def write_derived_files(infra: Path = INFRA) -> list[str]:
    """Write the stale derived files; returns their paths."""
    stale = stale_files(infra)
    files = derived_files()
    for path in stale:
        (infra / path).parent.mkdir(parents=True, exist_ok=True)
        (infra / path).write_text(files[path], encoding="utf-8")
    return stale


def _json(document: object) -> str:
    return json.dumps(document, indent=2) + "\n"
