"""Each provider's real update protocol, driven through the real azure-mgmt SDK clients with raw bytes.

The long-running updates answer as Azure's own recorded traffic does (emulator/providers.py names
the recordings): Cosmos DB 200 with the account as it was, both ``Azure-AsyncOperation`` and
``Location``, polls reading ``Enqueued`` then ``Succeeded``; Cognitive Services 202 with the account
as requested, both headers, polls reading ``Updating`` then ``Succeeded``; neither sends
``Retry-After``.
"""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.search import SearchManagementClient
from azure.mgmt.storage import StorageManagementClient

from emulator import Twin, TwinClock

from .conftest import sdk_client
from .seeds import COSMOS, GROUP, OPENAI, SEARCH, STORAGE

NOW = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
OUTBOUND = {"properties": {"restrictOutboundNetworkAccess": True, "allowedFqdnList": ["search-ws.search.windows.net"]}}


class Responses:
    """Collects every raw HTTP response the SDK pipeline sees (``raw_response_hook``)."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, pipeline_response: Any) -> None:
        self.seen.append(pipeline_response.http_response)

    def statuses(self) -> list[tuple[str, int]]:
        return [(response.request.method, response.status_code) for response in self.seen]


def test_cosmos_update_answers_as_azure_recorded_and_applies_when_it_succeeds(twin: Twin) -> None:
    twin.set_lro(cosmos_polls=2)
    client = sdk_client(twin, CosmosDBManagementClient)
    responses = Responses()
    body = b'{"properties":{"disableLocalAuth":true}}'

    poller = client.database_accounts.begin_update(GROUP, "cosmos-ws", io.BytesIO(body), raw_response_hook=responses)
    account = poller.result()

    assert account.disable_local_auth is True
    first = responses.seen[0]
    assert (first.request.method, first.status_code) == ("PATCH", 200)
    # The account as it was: Updating, the change not in it yet (Microsoft's body never set it).
    assert first.json()["properties"]["provisioningState"] == "Updating"
    assert "disableLocalAuth" not in first.json()["properties"]
    status_url = first.headers["Azure-AsyncOperation"]
    assert status_url.startswith(twin.arm + "/subscriptions/")
    assert "/providers/Microsoft.DocumentDB/locations/westus/operationsStatus/" in status_url
    assert first.headers["Location"].startswith(f"{twin.arm}{COSMOS}/operationResults/")
    assert "Retry-After" not in first.headers
    polls = [response.json() for response in responses.seen if "/operationsStatus/" in response.request.url]
    assert polls == [{"status": "Enqueued"}, {"status": "Enqueued"}, {"status": "Succeeded"}]
    assert responses.statuses()[-1] == ("GET", 200)  # the SDK's final GET of the resource
    assert responses.seen[-1].request.url.split("?")[0] == twin.arm + COSMOS
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

    assert twin.call("GET", status_path, api_version=None).json() == {"status": "Enqueued"}
    assert twin.events() == []
    assert twin.call("GET", status_path, api_version=None).json() == {"status": "Succeeded"}
    after = twin.call("GET", COSMOS).json()
    assert after["properties"]["disableLocalAuth"] is True
    assert after["properties"]["provisioningState"] == "Succeeded"
    assert len(twin.wait_for_events(1)) == 1


def test_cosmos_location_answers_202_while_running_then_the_account(twin: Twin) -> None:
    patch = twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": True}})
    location = patch.headers["Location"].removeprefix(twin.arm)
    running = twin.call("GET", location, api_version=None)
    assert (running.status, running.body) == (202, b"")
    done = twin.call("GET", location, api_version=None)
    assert done.status == 200 and done.json()["properties"]["disableLocalAuth"] is True
    status_path = patch.headers["Azure-AsyncOperation"].removeprefix(twin.arm)
    assert twin.call("GET", status_path, api_version=None).json() == {"status": "Succeeded"}  # one operation


def test_cognitive_services_update_answers_202_with_both_headers_and_polls_updating(twin: Twin) -> None:
    client = sdk_client(twin, CognitiveServicesManagementClient)
    responses = Responses()
    body = json.dumps(OUTBOUND, separators=(",", ":")).encode()

    account = client.accounts.begin_update(
        "rg-ai", "openai-prod", io.BytesIO(body), raw_response_hook=responses
    ).result()

    assert account.properties.restrict_outbound_network_access is True
    assert account.properties.allowed_fqdn_list == ["search-ws.search.windows.net"]
    first = responses.seen[0]
    assert (first.request.method, first.status_code) == ("PATCH", 202)
    # The account as requested, Accepted (Azure PowerShell's TestRestrictOutboundNetworkAccess recording).
    assert first.json()["properties"]["provisioningState"] == "Accepted"
    assert first.json()["properties"]["restrictOutboundNetworkAccess"] is True
    status_url = first.headers["Azure-AsyncOperation"]
    assert "/providers/Microsoft.CognitiveServices/locations/westus/operationResults/" in status_url
    assert first.headers["Location"] == status_url + "&operationResultResponseType=Location"
    assert "Retry-After" not in first.headers
    polls = responses.seen[1:-1]
    assert all(response.request.url == status_url for response in polls)
    assert [response.json()["status"] for response in polls] == ["Updating", "Succeeded"]
    assert set(polls[0].json()) == {"id", "name", "status", "startTime"}
    assert set(polls[1].json()) == {"id", "name", "status", "startTime", "endTime"}
    assert responses.statuses()[-1] == ("GET", 200)  # the SDK's final GET of the resource
    assert responses.seen[-1].request.url.split("?")[0] == twin.arm + OPENAI
    stored = twin.resource(OPENAI)
    assert stored is not None
    assert stored["properties"]["restrictOutboundNetworkAccess"] is True
    assert stored["properties"]["provisioningState"] == "Succeeded"
    assert stored["properties"]["endpoint"] == "https://westus.api.cognitive.microsoft.com/emotion/v1.0"  # kept


def test_cognitive_services_location_answers_202_while_running_then_the_account(twin: Twin) -> None:
    patch = twin.call("PATCH", OPENAI, OUTBOUND)
    assert patch.status == 202
    location = patch.headers["Location"].removeprefix(twin.arm)
    running = twin.call("GET", location, api_version=None)
    assert running.status == 202 and running.headers["Location"] == patch.headers["Location"]
    done = twin.call("GET", location, api_version=None)
    assert done.status == 200 and done.json()["properties"]["restrictOutboundNetworkAccess"] is True


def test_a_cognitive_services_update_of_sku_and_tags_alone_answers_200_at_once(twin: Twin) -> None:
    """Azure CLI's test_cognitiveservices_crud.yaml: ``account update --sku --tags`` answered 200, Succeeded."""
    answer = twin.call("PATCH", OPENAI, {"sku": {"name": "S0"}, "tags": {"team": "ml"}, "properties": {}})
    assert answer.status == 200
    assert "Azure-AsyncOperation" not in answer.headers and "Location" not in answer.headers
    assert answer.json()["properties"]["provisioningState"] == "Succeeded"
    stored = twin.resource(OPENAI)
    assert stored is not None and stored["tags"]["team"] == "ml"
    assert twin.call("GET", "/_twin/operations", api_version=None).json() == []
    assert len(twin.wait_for_events(1)) == 1


def test_updates_settle_after_the_configured_seconds_of_the_twins_clock(seed_dir: Path) -> None:
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as twin:
        twin.set_lro(cosmos_polls=0, cosmos_settle_seconds=31)
        patch = twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": True}})
        status_path = patch.headers["Azure-AsyncOperation"].removeprefix(twin.arm)

        assert twin.call("GET", status_path, api_version=None).json() == {"status": "Enqueued"}
        twin.clock.advance(30)
        assert twin.call("GET", status_path, api_version=None).json() == {"status": "Enqueued"}
        assert twin.call("GET", COSMOS).json()["properties"]["provisioningState"] == "Updating"
        [running] = twin.call("GET", "/_twin/operations", api_version=None).json()
        assert running["settlesAt"] == "2026-03-02T09:30:31Z"
        twin.clock.advance(1)
        assert twin.call("GET", status_path, api_version=None).json() == {"status": "Succeeded"}
        assert twin.call("GET", COSMOS).json()["properties"]["disableLocalAuth"] is True


def test_an_update_past_its_settle_time_is_done_without_a_poll(seed_dir: Path) -> None:
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as twin:
        twin.set_lro(cognitive_polls=0, cognitive_settle_seconds=37)
        twin.call("PATCH", OPENAI, OUTBOUND)
        twin.clock.advance(37)
        account = twin.call("GET", OPENAI).json()
        assert account["properties"]["provisioningState"] == "Succeeded"
        assert account["properties"]["restrictOutboundNetworkAccess"] is True
        assert twin.call("GET", "/_twin/operations", api_version=None).json() == []
        assert len(twin.wait_for_events(1)) == 1


def test_an_sdk_poller_runs_until_the_twins_clock_passes_the_settle_time(seed_dir: Path) -> None:
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as twin:
        twin.set_lro(cognitive_polls=0, cognitive_settle_seconds=37)
        client = sdk_client(twin, CognitiveServicesManagementClient)
        responses = Responses()

        def ten_seconds_pass_per_answer(pipeline_response: Any) -> None:
            responses(pipeline_response)
            twin.clock.advance(10)

        body = json.dumps(OUTBOUND).encode()
        client.accounts.begin_update(
            "rg-ai", "openai-prod", io.BytesIO(body), raw_response_hook=ten_seconds_pass_per_answer
        ).result()

        polls = [r.json()["status"] for r in responses.seen if "/operationResults/" in r.request.url]
        assert polls == ["Updating", "Updating", "Updating", "Succeeded"]  # at 10, 20, 30 and 40 s
        stored = twin.resource(OPENAI)
        assert stored is not None and stored["properties"]["restrictOutboundNetworkAccess"] is True


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


def test_retry_after_is_sent_only_when_a_test_asks_for_it(twin: Twin) -> None:
    started = twin.call("PATCH", COSMOS, {"tags": {}})
    assert "Retry-After" not in started.headers  # Azure's recorded updates send none
    twin.finish_operations()
    twin.set_lro(retry_after=3)
    started = twin.call("PATCH", COSMOS, {"tags": {}})
    assert started.headers["Retry-After"] == "3"
    status_path = started.headers["Azure-AsyncOperation"].removeprefix(twin.arm)
    in_progress = twin.call("GET", status_path, api_version=None)
    assert in_progress.headers["Retry-After"] == "3"
    done = twin.call("GET", status_path, api_version=None)
    assert done.json()["status"] == "Succeeded" and "Retry-After" not in done.headers
    assert twin.call("PATCH", OPENAI, OUTBOUND).headers["Retry-After"] == "3"
