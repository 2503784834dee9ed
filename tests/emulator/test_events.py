"""ResourceWriteSuccess events: their shape, the writer's claims, and delivery to subscribers."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path
from typing import Any

from azure.mgmt.storage import StorageManagementClient

from emulator import Twin, arm_claims

from .conftest import WRITER, sdk_client
from .seeds import GROUP, GROUP_ID, STORAGE, SUBSCRIPTION

# The keys of Microsoft's sample (MicrosoftDocs/azure-docs, articles/event-grid/event-schema-subscriptions.md).
SAMPLE_TOP_LEVEL = {"subject", "eventType", "eventTime", "id", "data", "dataVersion", "metadataVersion", "topic"}
SAMPLE_DATA = {
    "authorization",
    "claims",
    "correlationId",
    "resourceProvider",
    "resourceUri",
    "operationName",
    "status",
    "subscriptionId",
    "tenantId",
}


def test_a_write_emits_the_subscription_topic_event(twin: Twin) -> None:
    client = sdk_client(twin, StorageManagementClient)
    client.storage_accounts.update(GROUP, "storagews", io.BytesIO(b'{"properties":{"allowSharedKeyAccess":true}}'))

    (event,) = twin.wait_for_events(1)

    assert set(event) == SAMPLE_TOP_LEVEL
    assert set(event["data"]) == SAMPLE_DATA | {"httpRequest"}  # an update of an existing resource
    assert event["subject"] == STORAGE and event["data"]["resourceUri"] == STORAGE
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", event["eventTime"])
    assert (event["dataVersion"], event["metadataVersion"]) == ("2", "1")
    assert event["topic"] == f"/subscriptions/{SUBSCRIPTION}"
    data = event["data"]
    assert data["authorization"]["scope"] == STORAGE
    assert data["authorization"]["action"] == data["operationName"] == "Microsoft.Storage/storageAccounts/write"
    assert data["resourceProvider"] == "Microsoft.Storage"
    assert (data["status"], data["subscriptionId"], data["tenantId"]) == (
        "Succeeded",
        SUBSCRIPTION,
        twin.identity.tenant_id,
    )
    request = twin.requests("PATCH")[0]
    assert data["httpRequest"]["method"] == "PATCH"
    assert data["httpRequest"]["clientRequestId"] == request.headers["x-ms-client-request-id"]
    assert data["httpRequest"]["url"] == f"{twin.arm}{request.path}?api-version={request.query['api-version']}"
    assert data["httpRequest"]["clientIpAddress"] == "127.0.0.1"


def test_claims_are_the_writers_as_arm_renders_them(twin: Twin) -> None:
    claims = {**WRITER, "appid": "app-1", "amr": ["pwd", "mfa"], "idtyp": "user"}
    twin.call("PATCH", STORAGE, {"tags": {"x": "1"}}, claims=claims)

    event_claims = twin.wait_for_events(1)[0]["data"]["claims"]

    assert event_claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] == WRITER["upn"]
    assert event_claims["http://schemas.microsoft.com/identity/claims/objectidentifier"] == WRITER["oid"]
    assert event_claims["http://schemas.microsoft.com/identity/claims/tenantid"] == "t-1"
    assert event_claims["http://schemas.microsoft.com/claims/authnmethodsreferences"] == "pwd,mfa"
    assert (event_claims["appid"], event_claims["idtyp"]) == ("app-1", "user")
    assert all(isinstance(value, str) for value in event_claims.values())
    assert event_claims == arm_claims(twin.requests("PATCH")[0].caller or {})


def test_a_token_that_is_not_a_jwt_leaves_claims_empty(twin: Twin) -> None:
    twin.call("PATCH", STORAGE, {"tags": {}}, token="opaque-token")
    assert twin.wait_for_events(1)[0]["data"]["claims"] == {}


def test_a_create_has_no_http_request_and_groups_have_their_own_operation(twin: Twin) -> None:
    twin.call("PUT", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-new", {"location": "westus"})
    twin.call("PATCH", GROUP_ID, {"tags": {"a": "b"}})
    created, updated = twin.wait_for_events(2)
    assert "httpRequest" not in created["data"]
    assert created["data"]["operationName"] == "Microsoft.Resources/subscriptions/resourceGroups/write"
    assert created["data"]["resourceProvider"] == "Microsoft.Resources"
    assert updated["data"]["httpRequest"]["method"] == "PATCH"


def test_events_reach_http_subscribers_and_callbacks(seed_dir: Path) -> None:
    received: list[dict[str, Any]] = []
    with Twin.start(seed_dir, subscribers=[received.append]) as twin:
        twin.subscribe(twin.sink_url("function-app"))
        twin.call("PATCH", STORAGE, {"tags": {"x": "1"}})
        (event,) = twin.wait_for_events(1)

        assert received == [event]
        (posted,) = twin.sink("function-app")
        assert posted["json"] == [event]
        assert posted["headers"]["aeg-event-type"] == "Notification"
        assert [delivery.ok for delivery in twin.deliveries()] == [True, True]
        assert twin.call("GET", "/_twin/events", api_version=None).json() == [event]
        assert twin.call("DELETE", "/_twin/events", api_version=None).status == 204
        assert twin.events() == []


def test_failing_subscribers_are_recorded_and_do_not_break_the_twin(seed_dir: Path) -> None:
    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("handler crashed")

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/events"
    with Twin.start(seed_dir, subscribers=[broken, dead_url]) as twin:
        twin.subscribe(twin.sink_url("missing") + "/nowhere")
        assert twin.call("PATCH", STORAGE, {"tags": {}}).status == 200
        twin.wait_for_events(1)
        outcomes = {delivery.subscriber: delivery for delivery in twin.deliveries()}
        assert outcomes[broken.__qualname__].error == "RuntimeError: handler crashed"
        assert not outcomes[dead_url].ok and outcomes[dead_url].status is None
        assert outcomes[twin.sink_url("missing") + "/nowhere"].status == 404
        assert twin.call("GET", STORAGE).status == 200


def test_a_subscriber_may_read_the_resource_it_was_told_about(seed_dir: Path) -> None:
    seen: list[int] = []
    with Twin.start(seed_dir) as twin:
        twin.subscribe(lambda event: seen.append(twin.call("GET", event["subject"]).status))
        twin.call("PATCH", STORAGE, {"tags": {}})
        twin.wait_for_events(1)
        assert seen == [200]
