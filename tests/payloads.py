"""Test payloads: Microsoft's own bodies (tests/fixtures, provenance beside them) and their variants.

The files are never edited. A test derives what it needs from them: the same body placed in a
managed or an ordinary resource group, broken by one property, or fixed by applying a plan.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"

MANAGED_RG = "azureml-rg-contoso-ws_5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c"
MANAGED_RG_SHORT_FORM = "azureml-contoso-ws_5A1F3C9E-2B7D-4E8A-9C0F-1D2E3F4A5B6C"
ORDINARY_RG = "rg-contoso-prod"


def example(path: str, status: str = "200") -> dict[str, Any]:
    """The response body of an x-ms-examples file under tests/fixtures/arm."""
    document = json.loads((FIXTURES / "arm" / path).read_text(encoding="utf-8"))
    return copy.deepcopy(document["responses"][status]["body"])


def example_request(path: str, parameter: str) -> dict[str, Any]:
    document = json.loads((FIXTURES / "arm" / path).read_text(encoding="utf-8"))
    return copy.deepcopy(document["parameters"][parameter])


def docs_body(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "docs" / name).read_text(encoding="utf-8"))


def in_group(resource: dict[str, Any], resource_group: str) -> dict[str, Any]:
    """The same resource, addressed in another resource group."""
    moved = copy.deepcopy(resource)
    segments = moved["id"].split("/")
    index = [s.casefold() for s in segments].index("resourcegroups")
    segments[index + 1] = resource_group
    moved["id"] = "/".join(segments)
    return moved


def with_properties(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same resource with ``properties`` changed; a value of ``DELETE`` removes the property."""
    changed = copy.deepcopy(resource)
    properties = changed.setdefault("properties", {})
    for key, value in changes.items():
        if value is DELETE:
            properties.pop(key, None)
        else:
            properties[key] = value
    return changed


DELETE = object()

# Bodies as Microsoft publishes them, by role in the tests.
COSMOS_GET = "cosmos-db/CosmosDBDatabaseAccountGet.json"
COSMOS_PATCH = "cosmos-db/CosmosDBDatabaseAccountPatch.json"  # ipRules and VNet filter on
COSMOS_CREATE_MAX = "cosmos-db/CosmosDBDatabaseAccountCreateMax.json"  # publicNetworkAccess Enabled
SEARCH_GET = "search/SearchGetService.json"
SEARCH_DISABLE_LOCAL_AUTH = "search/SearchUpdateServiceDisableLocalAuth.json"
SEARCH_AUTH_OPTIONS = "search/SearchUpdateServiceAuthOptions.json"  # aadOrApiKey
SEARCH_PRIVATE_ONLY = "search/SearchUpdateServiceToAllowAccessFromPrivateEndpoints.json"
SEARCH_IP_RULES = "search/SearchUpdateServiceToAllowAccessFromPublicCustomIPsAndBypass.json"
SEARCH_UPDATE = "search/SearchUpdateService.json"
STORAGE_GET = "storage/StorageAccountGetProperties.json"
STORAGE_UPDATE = "storage/StorageAccountUpdate.json"  # allowSharedKeyAccess true
STORAGE_PUBLIC_DISABLED = "storage/StorageAccountUpdateDisablePublicNetworkAccess.json"
COGNITIVE_GET = "cognitive-services/GetAccount.json"  # kind Emotion
COGNITIVE_UPDATE = "cognitive-services/UpdateAccount.json"  # kind Bing.Search
COGNITIVE_CREATE = "cognitive-services/CreateAccount.json"
WORKSPACE_GET = "machine-learning/Workspace-get.json"
DLP_PATCH = "cognitive-services-data-loss-prevention-patch.json"


def ai_account(kind: str = "OpenAI") -> dict[str, Any]:
    """Microsoft's GetAccount body as an OpenAI/AIServices account with the docs' outbound restriction.

    No x-ms-examples file shows restrictOutboundNetworkAccess; the properties come from the data
    loss prevention how-to's PATCH body, merged into the example as ARM would merge that PATCH.
    """
    account = example(COGNITIVE_GET)
    account["kind"] = kind
    account["properties"].update(docs_body(DLP_PATCH)["properties"])
    return account


WORKSPACE_NAME = "contoso-ws"  # the workspace MANAGED_RG and MANAGED_RG_SHORT_FORM are named for
WORKSPACE_GROUP = "rg-contoso-ml"


def workspace(
    managed_group: str = MANAGED_RG, subscription: str = "subid", name: str = WORKSPACE_NAME, **properties: Any
) -> dict[str, Any]:
    """Microsoft's workspace example (customer-managed key) as ``name`` in ``subscription``,
    naming ``managed_group`` as its managed resource group: what proves that group managed."""
    body = example(WORKSPACE_GET)
    body["id"] = (
        f"/subscriptions/{subscription}/resourceGroups/{WORKSPACE_GROUP}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{name}"
    )
    body["name"] = name
    body["properties"]["serviceProvisionedResourceGroup"] = managed_group
    return with_properties(body, **properties)


def proving_workspaces(*resources: dict[str, Any]) -> list[dict[str, Any]]:
    """One workspace per (subscription, managed group) of ``resources`` in a group of the platform's
    forms: the twin needs them for the pipeline to prove those groups (Microsoft's examples use
    several subscription ids: ``subid``, ``{subscription-id}``, ...)."""
    from remediators.scope import CANDIDATE_FORMS

    bodies: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        segments = resource["id"].split("/")
        subscription, group = segments[2], segments[4]
        for _, pattern in CANDIDATE_FORMS[:2]:
            match = pattern.match(group)
            if match is not None:
                key = (subscription.casefold(), group.casefold())
                bodies.setdefault(key, workspace(group, subscription, match.group("workspace")))
                break
    return list(bodies.values())
