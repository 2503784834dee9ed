"""Each provider's real update protocol, driven through the real azure-mgmt SDK clients with raw bytes."""

from __future__ import annotations

import io
import json
from typing import Any

from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.search import SearchManagementClient
from azure.mgmt.storage import StorageManagementClient

from emulator import Twin

from .conftest import sdk_client
from .seeds import COSMOS, GROUP, OPENAI, SEARCH, STORAGE


class Responses:
    """Collects every raw HTTP response the SDK pipeline sees (``raw_response_hook``)."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, pipeline_response: Any) -> None:
        self.seen.append(pipeline_response.http_response)

    def statuses(self) -> list[tuple[str, int]]:
        return [(response.request.method, response.status_code) for response in self.seen]


def test_cosmos_update_answers_200_then_async_operation_and_applies_when_it_succeeds(twin: Twin) -> None:
    twin.set_lro(cosmos_polls=2)
    client = sdk_client(twin, CosmosDBManagementClient)
    responses = Responses()
    body = b'{"properties":{"disableLocalAuth":true}}'

    poller = client.database_accounts.begin_update(GROUP, "cosmos-ws", io.BytesIO(body), raw_response_hook=responses)
    account = poller.result()

    assert account.disable_local_auth is True
    first = responses.seen[0]
    assert (first.request.method, first.status_code) == ("PATCH", 200)
    assert first.json()["properties"]["provisioningState"] == "Updating"
    status_url = first.headers["Azure-AsyncOperation"]
    assert status_url.startswith(twin.arm + "/subscriptions/") and "/operationsStatus/" in status_url
    polls = [response.json()["status"] for response in responses.seen if "/operationsStatus/" in response.request.url]
    assert polls == ["InProgress", "InProgress", "Succeeded"]
    assert responses.statuses()[-1] == ("GET", 200)  # the SDK's final GET of the resource
    stored = twin.resource(COSMOS)
    assert stored is not None
    assert stored["properties"]["disableLocalAuth"] is True
    assert stored["properties"]["provisioningState"] == "Succeeded"
    assert twin.requests("PATCH")[0].body == body


def test_cosmos_change_is_invisible_until_the_operation_succeeds(twin: Twin) -> None:
    patch = twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": True}})
    assert patch.status == 200
    status_path = patch.headers["Azure-AsyncOperation"].removeprefix(twin.arm)

    during = twin.call("GET", COSMOS).json()
    assert during["properties"]["provisioningState"] == "Updating"
    assert "disableLocalAuth" not in during["properties"]  # Microsoft's body never set it

    assert twin.call("GET", status_path, api_version=None).json()["status"] == "InProgress"
    assert twin.events() == []
    assert twin.call("GET", status_path, api_version=None).json()["status"] == "Succeeded"
    after = twin.call("GET", COSMOS).json()
    assert after["properties"]["disableLocalAuth"] is True
    assert after["properties"]["provisioningState"] == "Succeeded"
    assert len(twin.wait_for_events(1)) == 1


def test_cognitive_services_update_answers_202_with_location_until_done(twin: Twin) -> None:
    client = sdk_client(twin, CognitiveServicesManagementClient)
    responses = Responses()
    body = b'{"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":["search-ws.search.windows.net"]}}'

    account = client.accounts.begin_update(
        "rg-ai", "openai-prod", io.BytesIO(body), raw_response_hook=responses
    ).result()

    assert account.properties.restrict_outbound_network_access is True
    assert account.properties.allowed_fqdn_list == ["search-ws.search.windows.net"]
    first = responses.seen[0]
    assert (first.request.method, first.status_code) == ("PATCH", 202)
    assert first.headers["Retry-After"] == "0"
    location = first.headers["Location"]
    assert "/providers/Microsoft.CognitiveServices/locations/westus/operationResults/" in location
    assert "Azure-AsyncOperation" not in first.headers
    assert responses.statuses()[1:] == [("GET", 202), ("GET", 200)]
    assert all(response.request.url == location for response in responses.seen[1:])
    stored = twin.resource(OPENAI)
    assert stored is not None
    assert stored["properties"]["restrictOutboundNetworkAccess"] is True
    assert stored["properties"]["provisioningState"] == "Succeeded"
    assert stored["properties"]["endpoint"] == "https://westus.api.cognitive.microsoft.com/emotion/v1.0"  # kept


def test_search_update_is_synchronous_and_settles_after_the_configured_reads(twin: Twin) -> None:
    twin.set_lro(search_settle_reads=2)
    client = sdk_client(twin, SearchManagementClient)
    responses = Responses()

    service = client.services.update(
        GROUP,
        "search-ws",
        io.BytesIO(
            b'{"properties":{"publicNetworkAccess":"disabled","networkRuleSet":{"ipRules":[{"value":"1.2.3.4"}]}}}'
        ),
        raw_response_hook=responses,
    )

    assert responses.statuses() == [("PATCH", 200)]
    assert service.public_network_access == "disabled"
    assert service.provisioning_state == "provisioning"
    assert service.replica_count == 3  # merged: Microsoft's replicaCount is kept
    reads = [client.services.get(GROUP, "search-ws").provisioning_state for _ in range(3)]
    assert reads == ["provisioning", "provisioning", "succeeded"]
    stored = twin.resource(SEARCH)
    assert stored is not None
    assert stored["properties"]["status"] == "running"
    assert stored["properties"]["networkRuleSet"]["ipRules"] == [{"value": "1.2.3.4"}]
    assert stored["properties"]["networkRuleSet"]["bypass"] == "None"  # objects merge recursively


def test_search_disabling_local_auth_clears_auth_options_as_the_service_does(twin: Twin) -> None:
    client = sdk_client(twin, SearchManagementClient)
    client.services.update(GROUP, "search-ws", io.BytesIO(b'{"properties":{"disableLocalAuth":true}}'))
    stored = twin.resource(SEARCH)
    assert stored is not None
    assert stored["properties"]["authOptions"] is None

    client.services.update(GROUP, "search-ws", io.BytesIO(b'{"properties":{"disableLocalAuth":false}}'))
    stored = twin.resource(SEARCH)
    assert stored is not None
    assert stored["properties"]["authOptions"] == {"apiKeyOnly": {}}


def test_storage_update_is_synchronous_and_replaces_network_acls_whole(twin: Twin) -> None:
    client = sdk_client(twin, StorageManagementClient)
    responses = Responses()
    body = (
        b'{"properties":{"networkAcls":{"defaultAction":"Deny"},'
        b'"allowSharedKeyAccessForServices":{"blob":{"enabled":false}}}}'
    )

    account = client.storage_accounts.update(GROUP, "storagews", io.BytesIO(body), raw_response_hook=responses)

    assert responses.statuses() == [("PATCH", 200)]
    assert account.network_rule_set.default_action == "Deny"
    stored = twin.resource(STORAGE)
    assert stored is not None
    # Storage replaces these two objects: bypass and the resource access rules are gone.
    assert stored["properties"]["networkAcls"] == {"defaultAction": "Deny"}
    assert stored["properties"]["allowSharedKeyAccessForServices"] == {"blob": {"enabled": False}}
    assert stored["properties"]["encryption"]["keySource"] == "Microsoft.Storage"  # others still merge
    assert json.loads(twin.requests("PATCH")[0].body) == json.loads(body)


def test_a_cosmos_update_can_be_resumed_from_its_continuation_token(twin: Twin) -> None:
    # As the product hands a slow update to a later check: take the token, poll elsewhere.
    patient = sdk_client(twin, CosmosDBManagementClient, polling_interval=30)
    body = b'{"properties":{"publicNetworkAccess":"Enabled"}}'
    token = patient.database_accounts.begin_update(GROUP, "cosmos-ws", io.BytesIO(body)).continuation_token()
    during = twin.resource(COSMOS)
    assert during is not None and during["properties"]["provisioningState"] == "Updating"

    resumed = sdk_client(twin, CosmosDBManagementClient).database_accounts.begin_update(
        GROUP, "cosmos-ws", None, continuation_token=token
    )

    assert resumed.result().public_network_access == "Enabled"
    assert len(twin.wait_for_events(1)) == 1


def test_long_running_answers_in_progress_carry_retry_after(twin: Twin) -> None:
    twin.set_lro(retry_after=3)
    started = twin.call("PATCH", COSMOS, {"tags": {}})
    assert started.headers["Retry-After"] == "3"
    status_path = started.headers["Azure-AsyncOperation"].removeprefix(twin.arm)
    in_progress = twin.call("GET", status_path, api_version=None)
    assert in_progress.headers["Retry-After"] == "3"
    done = twin.call("GET", status_path, api_version=None)
    assert done.json()["status"] == "Succeeded" and "Retry-After" not in done.headers
    assert twin.call("PATCH", OPENAI, {"tags": {}}).headers["Retry-After"] == "3"
