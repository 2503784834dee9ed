"""What each resource provider does with a write, where the product depends on it.

ARM forwards a PUT or PATCH to the resource provider, and the providers answer differently:

* Cosmos DB (``Microsoft.DocumentDB/databaseAccounts``): long-running. The first answer is 200 with
  the resource and an ``Azure-AsyncOperation`` header; the operation-status URL answers
  ``InProgress`` until the update is done, and only then does a GET show the change. A second write
  while one runs is refused with 412 ``PreconditionFailed`` "There is another user operation in
  progress which requires an exclusive lock" (quoted in hashicorp/terraform-provider-azurerm#15842).
* Cognitive Services (``Microsoft.CognitiveServices/accounts``): long-running with 202 +
  ``Location`` (Microsoft's UpdateAccount example, Azure/azure-rest-api-specs); the Location URL
  answers 202 until done, then 200 with the resource.
* AI Search (``Microsoft.Search/searchServices``): synchronous 200 whose body already reads
  ``"provisioningState": "provisioning"`` and ``"status": "provisioning"`` (Microsoft's
  SearchUpdateService examples); the service settles to ``succeeded`` / ``running`` later.
  Setting ``disableLocalAuth: true`` clears ``authOptions`` to ``null``
  (SearchUpdateServiceDisableLocalAuth example), and setting ``authOptions`` turns local auth on.
* Storage (``Microsoft.Storage/storageAccounts``): synchronous 200. Its PATCH replaces
  ``properties.networkAcls`` whole instead of merging it (Azure/azure-cli#4825: setting
  ``networkRuleSet.defaultAction`` alone "discards the bypass and actual rules in that same object"),
  and likewise ``properties.allowSharedKeyAccessForServices``.

Every other type (resource groups, ML workspaces, policy assignments and exemptions, anything
seeded) is written synchronously with ARM's plain merge.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .merge import Path, find_key


class Protocol(enum.Enum):
    SYNC = "sync"
    ASYNC_OPERATION = "azure-async-operation"  # 200 + Azure-AsyncOperation, poll for {"status"}
    LOCATION = "location"  # 202 + Location, poll until 200 with the resource
    SETTLING = "settling"  # synchronous 200, provisioningState settles on later reads


@dataclass(frozen=True)
class Provider:
    type: str
    protocol: Protocol
    replace_whole: tuple[Path, ...] = ()
    # provisioningState while a write is under way, after it, and while a new resource is created
    busy_state: str = "Succeeded"
    done_state: str = "Succeeded"
    creating_state: str = "Succeeded"
    # the answer to a write arriving while a long-running one is still running on the same resource
    busy_status: int = 409
    busy_code: str = "AnotherOperationInProgress"
    busy_message: str = "Another operation is in progress on the resource '{name}'. Please retry later."
    # provider-specific consequences of a write on the merged resource: (merged, request body) -> None
    settle: Callable[[dict[str, Any], Any], None] | None = None
    operations_segment: str = "operationResults"

    @property
    def namespace(self) -> str:
        return self.type.split("/", 1)[0]


def _search_auth_rules(resource: dict[str, Any], request_body: Any) -> None:
    properties = resource.get(find_key(resource, "properties") or "properties")
    if not isinstance(properties, dict):
        return
    requested = (
        request_body.get(find_key(request_body, "properties") or "properties")
        if isinstance(request_body, dict)
        else None
    )
    requested = requested if isinstance(requested, dict) else {}
    auth_key = find_key(properties, "authOptions") or "authOptions"
    local_key = find_key(properties, "disableLocalAuth") or "disableLocalAuth"
    if properties.get(local_key) is True:
        properties[auth_key] = None
    elif find_key(requested, "authOptions") is not None and properties.get(auth_key) is not None:
        properties[local_key] = False
    elif properties.get(local_key) is False and properties.get(auth_key) is None:
        # Keys back on with no mode named: the service's default mode is API keys only.
        properties[auth_key] = {"apiKeyOnly": {}}


COSMOS_DB = Provider(
    "Microsoft.DocumentDB/databaseAccounts",
    Protocol.ASYNC_OPERATION,
    busy_state="Updating",
    creating_state="Creating",
    busy_status=412,
    busy_code="PreconditionFailed",
    busy_message=(
        "There is another user operation in progress which requires an exclusive lock on [{name}]. "
        "Please retry after sometime."
    ),
    operations_segment="operationsStatus",
)
COGNITIVE_SERVICES = Provider(
    "Microsoft.CognitiveServices/accounts",
    Protocol.LOCATION,
    busy_state="Accepted",
    creating_state="Creating",
    operations_segment="operationResults",
)
SEARCH = Provider(
    "Microsoft.Search/searchServices",
    Protocol.SETTLING,
    busy_state="provisioning",
    done_state="succeeded",
    creating_state="provisioning",
    settle=_search_auth_rules,
)
STORAGE = Provider(
    "Microsoft.Storage/storageAccounts",
    Protocol.SYNC,
    replace_whole=(("properties", "networkAcls"), ("properties", "allowSharedKeyAccessForServices")),
)
GENERIC = Provider("*", Protocol.SYNC)

_BY_TYPE = {provider.type.casefold(): provider for provider in (COSMOS_DB, COGNITIVE_SERVICES, SEARCH, STORAGE)}

# Types that carry a provisioningState the twin keeps up to date.
TRACKED_STATE = frozenset(_BY_TYPE)


def provider_for(resource_type: str | None) -> Provider:
    if resource_type is None:
        return GENERIC
    return _BY_TYPE.get(resource_type.casefold(), GENERIC)


def set_provisioning_state(resource: dict[str, Any], provider: Provider, state: str) -> None:
    """Write ``provisioningState`` (and Search's ``status``) where the provider keeps it."""
    if provider is GENERIC:
        return
    properties_key = find_key(resource, "properties") or "properties"
    properties = resource.setdefault(properties_key, {})
    if not isinstance(properties, dict):
        return
    properties[find_key(properties, "provisioningState") or "provisioningState"] = state
    if provider is SEARCH:
        status = "running" if state == provider.done_state else "provisioning"
        properties[find_key(properties, "status") or "status"] = status
