"""Faults on demand: throttling, server errors, conflicts, latency, Modify and Deny policies."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.cosmosdb import CosmosDBManagementClient
from azure.mgmt.search import SearchManagementClient
from azure.mgmt.storage import StorageManagementClient

from emulator import Twin

from .conftest import sdk_client
from .seeds import COSMOS, GROUP, GROUP_ID, OPENAI, SEARCH, STORAGE, SUBSCRIPTION

COSMOS_LOCAL_AUTH = (
    f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/cosmos-disable-local-auth"
)
SEARCH_PUBLIC = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/deny-search-public"
MODIFY_COSMOS = {
    "kind": "modify",
    "policyAssignmentId": COSMOS_LOCAL_AUTH,
    "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/dc2d41d1-4ab1-4666-a3e1-3d51c43e0049",
    "resourceType": "Microsoft.DocumentDB/databaseAccounts",
    "operations": [{"operation": "addOrReplace", "field": "properties.disableLocalAuth", "value": True}],
}
DENY_PUBLIC_SEARCH = {
    "kind": "deny",
    "policyAssignmentId": SEARCH_PUBLIC,
    "displayName": "Search services must not be public",
    "resourceType": "Microsoft.Search/searchServices",
    "if": [{"field": "properties.publicNetworkAccess", "equals": "Enabled"}],
}


def test_throttle_answers_429_with_retry_after_then_stops(twin: Twin) -> None:
    fault_id = twin.add_fault(
        {"kind": "throttle", "method": "PATCH", "resourceId": STORAGE, "times": 1, "retryAfter": 7}
    )
    client = sdk_client(twin, StorageManagementClient, retry_total=0)
    body = b'{"properties":{"allowSharedKeyAccess":true}}'

    with pytest.raises(HttpResponseError) as refused:
        client.storage_accounts.update(GROUP, "storagews", io.BytesIO(body))

    assert refused.value.status_code == 429
    assert refused.value.response is not None and refused.value.response.headers["Retry-After"] == "7"
    assert refused.value.error is not None and refused.value.error.code == "SubscriptionRequestsThrottled"
    client.storage_accounts.update(GROUP, "storagews", io.BytesIO(body))  # fired once, now spent
    assert [(fault["id"], fault["fired"], fault["times"]) for fault in twin.faults()] == [(fault_id, 1, 0)]


def test_server_errors_fire_the_given_number_of_times_on_any_matching_request(twin: Twin) -> None:
    twin.add_fault({"kind": "error", "status": 503, "times": 2, "scope": GROUP_ID, "retryAfter": 0})
    statuses = [twin.call("GET", SEARCH).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert twin.call("GET", OPENAI).status == 200  # outside the scope


def test_explicit_conflicts_409_and_412(twin: Twin) -> None:
    twin.add_fault({"kind": "conflict", "resourceId": SEARCH, "times": 1})
    twin.add_fault({"kind": "conflict", "status": 412, "resourceId": STORAGE})
    conflict = twin.call("PATCH", SEARCH, {"tags": {}})
    assert conflict.status == 409 and conflict.json()["error"]["code"] == "AnotherOperationInProgress"
    assert twin.call("GET", STORAGE).status == 200  # conflicts hit writes only
    precondition = twin.call("PATCH", STORAGE, {"tags": {}})
    assert precondition.status == 412 and precondition.json()["error"]["code"] == "PreconditionFailed"


def test_a_write_while_a_long_running_one_runs_is_refused_by_the_provider(twin: Twin) -> None:
    assert twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": False}}).status == 200
    busy = twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": True}})
    assert busy.status == 412
    assert "exclusive lock on [cosmos-ws]" in busy.json()["error"]["message"]

    assert twin.call("PATCH", OPENAI, {"properties": {"restrictOutboundNetworkAccess": True}}).status == 202
    assert twin.call("PATCH", OPENAI, {"tags": {}}).json()["error"]["code"] == "AnotherOperationInProgress"

    assert twin.finish_operations() == 2
    assert twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": True}}).status == 200


def test_latency_holds_matching_requests_only_and_leaves_the_answer_alone(twin: Twin) -> None:
    twin.add_fault({"kind": "latency", "ms": 150, "resourceId": SEARCH, "method": "GET"})
    assert twin.call("GET", SEARCH).json()["name"] == "search-ws"
    assert twin.call("GET", STORAGE).status == 200
    assert twin.call("PATCH", SEARCH, {"tags": {}}).status == 200
    assert [fault["fired"] for fault in twin.faults()] == [1]  # the matching GET only


def test_a_hang_outlasts_the_callers_timeout_and_stays_unanswered_in_the_log(twin: Twin) -> None:
    twin.add_fault({"kind": "latency", "ms": 600_000, "resourceId": SEARCH, "method": "GET"})
    with pytest.raises(TimeoutError):
        twin.call("GET", SEARCH, timeout=0.5)
    [held] = twin.requests("GET", SEARCH)
    assert held.status is None  # received, never answered (stopping the twin ends the hold)


def test_modify_policy_makes_a_patch_succeed_without_changing_anything(twin: Twin) -> None:
    twin.patch_resource(COSMOS, {"properties": {"disableLocalAuth": True}})
    twin.add_fault(MODIFY_COSMOS)
    client = sdk_client(twin, CosmosDBManagementClient)
    body = b'{"properties":{"disableLocalAuth":false}}'

    account = client.database_accounts.begin_update(GROUP, "cosmos-ws", io.BytesIO(body)).result()

    assert account.disable_local_auth is True  # the provider saw the rewritten request
    assert twin.requests("PATCH")[0].body == body  # what the caller sent, byte for byte
    stored = twin.resource(COSMOS)
    assert stored is not None and stored["properties"]["disableLocalAuth"] is True
    assignment = twin.call("GET", COSMOS_LOCAL_AUTH).json()  # the assignment exists in ARM
    assert assignment["properties"]["policyDefinitionId"].endswith("dc2d41d1-4ab1-4666-a3e1-3d51c43e0049")


def test_an_exemption_for_the_group_lifts_the_modify_policy(twin: Twin) -> None:
    twin.patch_resource(COSMOS, {"properties": {"disableLocalAuth": True}})
    twin.add_fault(MODIFY_COSMOS)
    exemption = f"{GROUP_ID}/providers/Microsoft.Authorization/policyExemptions/foundry-guard-managed-rg"
    put = twin.call(
        "PUT", exemption, {"properties": {"policyAssignmentId": COSMOS_LOCAL_AUTH, "exemptionCategory": "Waiver"}}
    )
    assert put.status == 201

    twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": False}})
    twin.finish_operations()

    stored = twin.resource(COSMOS)
    assert stored is not None and stored["properties"]["disableLocalAuth"] is False
    assert twin.faults()[0]["fired"] == 0


def test_an_expired_exemption_does_not_count(twin: Twin) -> None:
    twin.add_fault(MODIFY_COSMOS)
    exemption = f"{GROUP_ID}/providers/Microsoft.Authorization/policyExemptions/old"
    twin.call(
        "PUT",
        exemption,
        {"properties": {"policyAssignmentId": COSMOS_LOCAL_AUTH, "expiresOn": "2020-01-01T00:00:00Z"}},
    )
    twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": False}})
    twin.finish_operations()
    stored = twin.resource(COSMOS)
    assert stored is not None and stored["properties"]["disableLocalAuth"] is True


def test_deny_policy_refuses_with_the_assignment_named(twin: Twin) -> None:
    twin.patch_resource(SEARCH, {"properties": {"publicNetworkAccess": "Disabled"}})
    twin.add_fault(DENY_PUBLIC_SEARCH)
    client = sdk_client(twin, SearchManagementClient, retry_total=0)

    with pytest.raises(HttpResponseError) as refused:
        client.services.update(GROUP, "search-ws", io.BytesIO(b'{"properties":{"publicNetworkAccess":"enabled"}}'))

    assert refused.value.status_code == 403
    error = refused.value.response.json()["error"]  # type: ignore[union-attr]
    assert error["code"] == "RequestDisallowedByPolicy"
    assert "Search services must not be public" in error["message"] and SEARCH_PUBLIC in error["message"]
    assert error["additionalInfo"][0]["info"]["policyAssignmentId"] == SEARCH_PUBLIC
    stored = twin.resource(SEARCH)
    assert stored is not None and stored["properties"]["publicNetworkAccess"] == "Disabled"
    assert twin.events() == []
    client.services.update(GROUP, "search-ws", io.BytesIO(b'{"properties":{"replicaCount":2}}'))  # condition false


def test_assignment_not_enforced_or_with_not_scopes_does_not_apply(twin: Twin) -> None:
    twin.add_fault(DENY_PUBLIC_SEARCH)
    enable = {"properties": {"publicNetworkAccess": "Enabled"}}
    assert twin.call("PATCH", SEARCH, enable).status == 403
    twin.call("PATCH", SEARCH_PUBLIC, {"properties": {"notScopes": [GROUP_ID]}})
    assert twin.call("PATCH", SEARCH, enable).status == 200
    twin.call("PATCH", SEARCH_PUBLIC, {"properties": {"notScopes": [], "enforcementMode": "DoNotEnforce"}})
    assert twin.call("PATCH", SEARCH, enable).status == 200


def test_faults_over_the_admin_route(twin: Twin) -> None:
    added = twin.call(
        "POST",
        "/_twin/faults",
        [{"kind": "throttle", "method": "GET", "retryAfter": 2}, {"kind": "latency", "ms": 1}],
        api_version=None,
    )
    assert added.status == 201
    first, second = added.json()
    assert twin.call("GET", STORAGE).headers["Retry-After"] == "2"
    assert twin.call("DELETE", f"/_twin/faults/{first['id']}", api_version=None).status == 204
    assert [fault["id"] for fault in twin.call("GET", "/_twin/faults", api_version=None).json()] == [second["id"]]
    assert twin.call("DELETE", "/_twin/faults", api_version=None).status == 204
    assert twin.faults() == []
    bad = twin.call("POST", "/_twin/faults", {"kind": "meteor"}, api_version=None)
    assert bad.status == 400 and "meteor" in bad.json()["error"]["message"]


def test_faults_from_twin_json(seed_dir: Path) -> None:
    (seed_dir / "_twin.json").write_text(
        json.dumps({"faults": [{"kind": "error", "status": 500, "method": "PATCH", "resourceId": STORAGE, "times": 1}]})
    )
    with Twin.start(seed_dir) as twin:
        failed = twin.call("PATCH", STORAGE, {"tags": {}})
        assert failed.status == 500 and failed.json()["error"]["code"] == "InternalServerError"
        assert twin.call("PATCH", STORAGE, {"tags": {}}).status == 200


def test_the_sdks_retry_policy_rides_out_a_short_throttle(twin: Twin) -> None:
    twin.add_fault({"kind": "throttle", "method": "PATCH", "times": 2, "retryAfter": 0})
    client = sdk_client(twin, StorageManagementClient, retry_total=3, retry_backoff_factor=0)
    client.storage_accounts.update(GROUP, "storagews", io.BytesIO(b'{"tags":{"a":"b"}}'))
    assert [entry.status for entry in twin.requests("PATCH")] == [429, 429, 200]
