"""Storage faults on the trigger path and in the drain: nothing accepted is ever lost.

Through the function app's own entry points, against the twin and Azurite's Table and Queue
services run as separate processes, killed and restarted by PID (their data kept, as Azure keeps
it through an outage). Every case ends, after recovery, with the resource fixed by exactly one
PATCH, one record and one notice. What each showed on the code before is in its docstring.

The storage clients retry as the Functions host's do, but without the waits (no test here depends
on how long anything takes): ``HOST_RETRY`` is replaced by the same retries with no delay.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from emulator import azurite
from emulator.host import AUTHENTICATION_ON, drain, grid_event, signed_in
from emulator.twin import Twin
from remediators import storage as storage_module
from remediators.principal import APPROVE
from remediators.storage import StorageRetry, StorageUnavailable
from remediators.work_queue import QUEUE_MESSAGE_LIMIT_BYTES, WorkQueue
from tests.payloads import FIXTURES, proving_workspaces
from tests.reset_proxy import ResettingRelay
from tests.test_function_app import FUNCTIONS
from tests.test_pipeline_twin import COSMOS, SEARCH, patches

ADMIN = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555", "idtyp": "user"}
ONCALL = signed_in("0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e", "oncall@contoso.com", APPROVE)
FIX = b'{"properties":{"disableLocalAuth":false}}'


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[azurite.SeparateAzurite]:
    monkeypatch.setattr(storage_module, "HOST_RETRY", StorageRetry(first_delay_seconds=0.0))
    with azurite.running(separate=True) as running:
        yield running


@pytest.fixture
def relay(storage: azurite.SeparateAzurite) -> Iterator[ResettingRelay]:
    """The queue service behind a relay that resets a connection on cue."""
    relay = ResettingRelay(storage.ports["queue"])
    yield relay
    relay.close()


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch, storage: azurite.SeparateAzurite, relay: ResettingRelay) -> Iterator[Twin]:
    with Twin.start(resources=[COSMOS, SEARCH, *proving_workspaces(COSMOS, SEARCH)]) as running:
        for name, value in {**running.environment(), **AUTHENTICATION_ON}.items():
            monkeypatch.setenv(name, value)
        through_relay = storage.connection_string.replace(
            f"127.0.0.1:{storage.ports['queue']}", f"127.0.0.1:{relay.port}"
        )
        monkeypatch.setenv("GUARD_STORAGE", through_relay)
        monkeypatch.setenv("GUARD_WORK_QUEUE", f"work-{secrets.token_hex(4)}")
        monkeypatch.setenv("GUARD_IDENTITY_OBJECT_ID", running.identity.object_id)
        monkeypatch.setenv("GUARD_ARM_POLL_SECONDS", "0")
        monkeypatch.setenv("GUARD_NOTIFY_TEAMS_WEBHOOK_URL", running.sink_url("teams"))
        monkeypatch.setattr(function_app, "_service", None)
        function_app.service()  # wired while storage is up, as a warm host is
        yield running


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].get_user_function()(*args)


def broken_by_someone(twin: Twin, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """Someone disables local auth on the managed Cosmos DB; the event ARM sends for it."""
    before = len(twin.events())
    twin.call("PATCH", COSMOS["id"], {"properties": {"disableLocalAuth": True}}, claims=ADMIN, api_version="2026-03-15")
    twin.finish_operations()
    event = twin.wait_for_events(before + 1)[-1]
    twin.clear_requests()  # the PATCHes counted from here are the guard's
    if properties:
        event["data"].update(properties)
    return event


def drain_queue() -> int:
    return drain(function_app.service().queue, FUNCTIONS["remediate_from_queue"].get_user_function())


def records() -> list[dict[str, Any]]:
    answer = call("remediations", func.HttpRequest("GET", "/api/remediations", headers=ONCALL, params={}, body=b""))
    return list(json.loads(answer.get_body())["value"])


def assert_fixed_once(twin: Twin) -> None:
    assert patches(twin) == [FIX]
    [record] = records()
    assert record["status"] == "verified"
    assert len(twin.sink("teams")) == 1  # one notice


def test_an_event_accepted_while_the_queue_service_is_down_is_queued_by_its_redelivery(
    twin: Twin, storage: azurite.SeparateAzurite
) -> None:
    """Before: the delivery was marked seen, then queueing it failed; Event Grid's redelivery was
    dropped as a duplicate and the Cosmos DB stayed broken (no PATCH, no record, no notice)."""
    event = broken_by_someone(twin)
    storage.kill("queue")
    with pytest.raises(StorageUnavailable):  # the trigger fails: Event Grid delivers it again
        call("on_resource_event", grid_event(event))
    storage.restart("queue")
    call("on_resource_event", grid_event(event))  # Event Grid's retry
    call("on_resource_event", grid_event(event))  # and a duplicate of it: already queued
    assert drain_queue() == 1
    assert_fixed_once(twin)


def test_an_event_accepted_while_the_table_service_is_down_is_queued_by_its_redelivery(
    twin: Twin, storage: azurite.SeparateAzurite
) -> None:
    """Before: the seen-check's failure escaped the trigger as the raw Azure SDK error; it now
    raises StorageUnavailable, and nothing is queued or marked until the retry."""
    event = broken_by_someone(twin)
    storage.kill("table")
    with pytest.raises(StorageUnavailable):
        call("on_resource_event", grid_event(event))
    storage.restart("table")
    call("on_resource_event", grid_event(event))
    assert drain_queue() == 1
    assert_fixed_once(twin)


def test_an_event_over_64_kb_is_queued_and_fixed_once(twin: Twin, storage: azurite.SeparateAzurite) -> None:
    """A 100 KB operationName (and a long caller name) in the event.

    Before: the message carried them whole, over the queue's 64 KiB: Azurite refused it (413)
    after the delivery was marked seen, and every redelivery was dropped as a duplicate."""
    long_operation = "Microsoft.DocumentDB/databaseAccounts/write/" + "x" * 100_000
    event = broken_by_someone(twin, {"operationName": long_operation})
    event["data"]["claims"] = {**ADMIN, "name": "n" * 30_000}
    assert len(json.dumps(event)) > QUEUE_MESSAGE_LIMIT_BYTES
    storage.kill("queue")
    with pytest.raises(StorageUnavailable):
        call("on_resource_event", grid_event(event))
    storage.restart("queue")
    call("on_resource_event", grid_event(event))
    [message] = function_app.service().queue.peek_messages(max_messages=5)
    assert len(message.content) < 8 * 1024  # every text the signal carries is cut
    assert drain_queue() == 1
    assert_fixed_once(twin)
    [record] = records()
    assert record["trigger"]["operationName"].endswith("...")


def test_a_message_over_the_queue_limit_goes_by_claim_check(twin: Twin) -> None:
    """Before: a work message over 64 KiB could not be queued at all (Azurite, like Azure, refuses
    it with 413); now its body waits in the claims table and the message holds the claim."""
    twin.patch_resource(COSMOS["id"], {"properties": {"disableLocalAuth": True}})
    wired = function_app.service()
    document = {"resourceId": COSMOS["id"], "source": "eventgrid", "eventId": "e-big", "padding": "p" * 70_000}
    claim = wired.work.send(document)
    assert claim is not None
    [message] = wired.queue.peek_messages(max_messages=5)
    assert json.loads(message.content) == {"claim": claim}
    assert drain_queue() == 1
    assert_fixed_once(twin)
    claims = wired.work._claims
    assert claims is not None and list(claims.list_entities()) == []  # forgotten once done
    # The same claim message delivered again (its first delete was lost): nothing to do.
    wired.queue.send_message(message.content)
    assert drain_queue() == 1
    assert patches(twin) == [FIX] and len(records()) == 1


def test_alerts_answer_503_with_retry_after_while_storage_is_down_and_queue_on_retry(
    twin: Twin, storage: azurite.SeparateAzurite
) -> None:
    """Before: the alert's resource was marked seen and the queue failure escaped as a 500 with a
    traceback; the action group's retry was then dropped as a duplicate."""
    twin.patch_resource(COSMOS["id"], {"properties": {"disableLocalAuth": True}})
    alert = json.loads((FIXTURES / "events" / "alert-test-metric-static-threshold.json").read_text(encoding="utf-8"))
    alert["data"]["essentials"]["alertTargetIDs"] = [COSMOS["id"].lower()]
    post = func.HttpRequest("POST", "/api/alerts", headers={}, params={}, body=json.dumps(alert).encode())
    storage.kill("queue")
    answer = call("alerts", post)
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.mimetype == "application/problem+json"
    assert "storage is unavailable" in json.loads(answer.get_body())["detail"]
    storage.restart("queue")
    assert call("alerts", post).status_code == 202  # the action group's retry
    assert drain_queue() == 1
    assert_fixed_once(twin)


@pytest.mark.parametrize(
    ("route", "name", "method"),
    [
        ("remediations", "remediations", "GET"),
        ("remediations/ab-1-2/approve", "approve", "POST"),
        ("health", "health", "GET"),
    ],
)
def test_http_functions_answer_503_with_retry_after_while_tables_are_down(
    twin: Twin, storage: azurite.SeparateAzurite, route: str, name: str, method: str
) -> None:
    """Before: the Azure SDK's error escaped the function (a 500 and a traceback from the host)."""
    if name == "health":
        function_app._service = None  # a cold host wires the service while tables are down
    storage.kill("table")
    request = func.HttpRequest(
        method, f"/api/{route}", headers=ONCALL, params={}, body=b"", route_params={"remediation_id": "ab-1-2"}
    )
    answer = call(name, request)
    assert answer.status_code == 503, answer.get_body()
    assert answer.headers["Retry-After"]
    assert json.loads(answer.get_body())["status"] == 503
    storage.restart("table")
    assert call(name, request).status_code in (200, 404)


def test_a_connection_reset_during_a_drain_is_retried_and_the_message_handled_once(
    twin: Twin, relay: ResettingRelay
) -> None:
    """The queue service deletes the handled message, and the connection is reset before the
    answer reaches the drain: the client's retry finds the message gone, which means done.

    Before: the retry's 404 (MessageNotFound) escaped the drain, and the queue client's first
    retry waited 15 s (azure-storage-queue's default), longer than a reset needs."""
    event = broken_by_someone(twin)
    call("on_resource_event", grid_event(event))
    relay.reset_next(b"DELETE")
    assert drain_queue() == 1
    assert relay.resets == 1
    assert function_app.service().queue.peek_messages(max_messages=5) == []
    assert_fixed_once(twin)


def test_the_sweep_deletes_old_seen_events(twin: Twin) -> None:
    """Before: a seen-event row was written per delivery and never deleted."""
    wired = function_app.service()
    now = [wired.ledger._clock()]
    wired.ledger._clock = lambda: now[0]
    wired.ledger.mark_seen("eventgrid|old|/x")
    now[0] += 3 * 86400
    swept = wired.sweep()
    assert swept.seen_expired == 1
    assert swept.to_json()["seenExpired"] == 1


def test_the_work_queue_needs_its_claims_table_for_large_messages() -> None:
    from remediators.work_queue import MessageTooLarge

    class Queue:
        def send_message(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("nothing is sent")

    with pytest.raises(MessageTooLarge):
        WorkQueue(Queue(), None).send({"padding": "p" * 70_000})
