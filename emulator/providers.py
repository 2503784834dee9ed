"""What each resource provider does with a write, where the product depends on it.

ARM forwards a PUT or PATCH to the resource provider, and the providers answer differently. The
long-running updates are modelled on Azure's own recorded traffic (the test recordings of the Azure
CLI and Azure PowerShell, which replay real exchanges with Azure):

* Cosmos DB (``Microsoft.DocumentDB/databaseAccounts``): long-running. An update answers **200**
  with the resource *as it was* (``provisioningState: Updating``, the change not yet in it) and
  **both** ``Azure-AsyncOperation`` (``.../locations/{loc}/operationsStatus/{id}``) and ``Location``
  (``{account}/operationResults/{id}``), no ``Retry-After``; the operation status reads
  ``{"status": "Enqueued"}`` then ``{"status": "Succeeded"}``, about 31 s in all, and only then does
  a GET show the change. Recorded: Azure/azure-cli
  ``src/azure-cli/azure/cli/command_modules/cosmosdb/tests/latest/recordings/test_cosmosdb_network_acl_bypass.yaml``
  (``cosmosdb update``, api-version 2026-03-15; the create there answers 200 with both headers too).
  A second write while one runs is refused with 412 ``PreconditionFailed`` "There is another user
  operation in progress which requires an exclusive lock" (quoted in
  hashicorp/terraform-provider-azurerm#15842).
* Cognitive Services (``Microsoft.CognitiveServices/accounts``): long-running. An update answers
  **202** with the resource *as requested* (``provisioningState: Accepted``) and **both**
  ``Azure-AsyncOperation`` (``.../locations/{loc}/operationResults/{id}``) and ``Location`` (the same
  URL with ``operationResultResponseType=Location``), no ``Retry-After``; the operation reads
  ``{"id", "name", "status": "Updating", "startTime"}`` then ``"Succeeded"`` with ``endTime``.
  Recorded: Azure/azure-cli ``.../cognitiveservices/tests/latest/recordings/test_cognitiveservices_identity.yaml``
  (``cognitiveservices account identity assign``, api-version 2025-09-01: Updating, Updating,
  Succeeded; startTime to endTime 31 s) and Azure/azure-powershell
  ``src/CognitiveServices/CognitiveServices.Test/SessionRecords/CognitiveServices.Test.ScenarioTests.CognitiveServicesAccountTests/TestRestrictOutboundNetworkAccess.json``
  (``restrictOutboundNetworkAccess`` and ``allowedFqdnList`` PATCHed: 202, both headers, body
  ``Accepted`` with the requested values). A PATCH touching neither ``properties`` nor ``identity``
  (sku and tags only) answers **200** at once, ``Succeeded``, with no operation:
  ``test_cognitiveservices_crud.yaml`` (``cognitiveservices account update --sku --tags``). A create
  answers 201 with ``Azure-AsyncOperation`` only (the same recordings).
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
    SETTLING = "settling"  # synchronous 200, provisioningState settles on later reads
    # Azure-AsyncOperation and Location both given; the operation status is polled for {"status"}
    LONG_RUNNING = "long-running"


class Answer(enum.Enum):
    """What the body of a long-running update's first answer shows."""

    BEFORE = "before"  # the resource as it was (Cosmos DB)
    REQUESTED = "requested"  # the resource as the write will leave it (Cognitive Services)


class LocationStyle(enum.Enum):
    """Where a long-running update's ``Location`` header points."""

    UNDER_RESOURCE = "under-resource"  # {resource}/operationResults/{id} (Cosmos DB)
    STATUS_URL = "status-url"  # the operation's status URL + operationResultResponseType=Location


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
    # long-running updates: the first answer's status (update, create) and body, the operation's
    # status word while it runs, whether its status body is ARM's full one or {"status"} alone,
    # where Location points, and whether a write naming none of these top-level fields is
    # synchronous (an empty tuple: every write is long-running)
    update_status: int = 200
    create_status: int = 201
    answer: Answer = Answer.BEFORE
    running_status: str = "InProgress"
    full_status_body: bool = True
    location: LocationStyle = LocationStyle.STATUS_URL
    long_running_fields: tuple[str, ...] = ()
    location_on_create: bool = True

    @property
    def namespace(self) -> str:
        return self.type.split("/", 1)[0]

    def is_long_running(self, method: str, existed: bool, request_body: Any) -> bool:
        """Whether this write runs as a long-running operation (else it is answered at once)."""
        if self.protocol is not Protocol.LONG_RUNNING:
            return False
        if not existed or method != "PATCH" or not self.long_running_fields:
            return True
        if not isinstance(request_body, dict):
            return True
        return any(
            _non_empty(request_body.get(find_key(request_body, name) or name)) for name in self.long_running_fields
        )


def _non_empty(value: Any) -> bool:
    return value is not None and value != {}


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
    Protocol.LONG_RUNNING,
    busy_state="Updating",
    creating_state="Creating",
    busy_status=412,
    busy_code="PreconditionFailed",
    busy_message=(
        "There is another user operation in progress which requires an exclusive lock on [{name}]. "
        "Please retry after sometime."
    ),
    operations_segment="operationsStatus",
    update_status=200,
    create_status=200,
    answer=Answer.BEFORE,
    running_status="Enqueued",
    full_status_body=False,
    location=LocationStyle.UNDER_RESOURCE,
)
COGNITIVE_SERVICES = Provider(
    "Microsoft.CognitiveServices/accounts",
    Protocol.LONG_RUNNING,
    busy_state="Accepted",
    creating_state="Creating",
    operations_segment="operationResults",
    update_status=202,
    create_status=201,
    answer=Answer.REQUESTED,
    running_status="Updating",
    full_status_body=True,
    location=LocationStyle.STATUS_URL,
    long_running_fields=("properties", "identity"),
    location_on_create=False,
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
