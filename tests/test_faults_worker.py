"""Faults around a fix: the table service dying mid-fix, approvals cut off, long-running fixes, noise.

Through the function app's own entry points, against the twin and Azurite's Table and Queue
services run as separate processes (killed and restarted by PID). Every case ends, after
recovery, with exactly one PATCH per needed change, one record in its final state and one notice.
What each showed on the code before write-ahead records is in its docstring.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from emulator import azurite
from emulator.host import AUTHENTICATION_ON, drain, grid_event, signed_in
from emulator.twin import Twin
from remediators.ledger import Status
from remediators.principal import APPROVE
from tests.payloads import proving_workspaces
from tests.test_function_app import FUNCTIONS
from tests.test_pipeline_twin import COSMOS, OPENAI, SEARCH, STORAGE

ADMIN = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555", "idtyp": "user"}
ONCALL = signed_in("0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e", "oncall@contoso.com", APPROVE)


@pytest.fixture
def storage() -> Iterator[azurite.SeparateAzurite]:
    with azurite.running(separate=True) as running:
        yield running


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch, storage: azurite.SeparateAzurite) -> Iterator[Twin]:
    resources = [COSMOS, SEARCH, STORAGE, OPENAI, *proving_workspaces(COSMOS, SEARCH, STORAGE)]
    with Twin.start(resources=resources) as running:
        for name, value in {**running.environment(), **AUTHENTICATION_ON}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GUARD_STORAGE", storage.connection_string)
        monkeypatch.setenv("GUARD_WORK_QUEUE", f"work-{secrets.token_hex(4)}")
        monkeypatch.setenv("GUARD_IDENTITY_OBJECT_ID", running.identity.object_id)
        monkeypatch.setenv("GUARD_ARM_POLL_SECONDS", "0")
        monkeypatch.setenv("GUARD_NOTIFY_TEAMS_WEBHOOK_URL", running.sink_url("teams"))
        monkeypatch.setattr(function_app, "_service", None)
        function_app.service().first_delay_seconds = 0  # follow-ups and retries visible at once
        yield running


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].get_user_function()(*args)


def deliver(twin: Twin, resource: dict[str, Any], properties: dict[str, Any], api_version: str) -> dict[str, Any]:
    """Someone else breaks ``resource``; ARM's event for it goes to the Event Grid trigger."""
    before = len(twin.events())
    twin.call("PATCH", resource["id"], {"properties": properties}, claims=ADMIN, api_version=api_version)
    twin.finish_operations()
    event = twin.wait_for_events(before + 1)[-1]
    call("on_resource_event", grid_event(event))
    return event


def handled_messages() -> list[bytes]:
    """Drain the work queue as the host does; the bodies handed to the queue trigger, in order."""
    bodies: list[bytes] = []

    def handle(message: func.QueueMessage) -> None:
        bodies.append(message.get_body())
        call("remediate_from_queue", message)

    drain(function_app.service().queue, handle)
    return bodies


def our_patches(twin: Twin, resource: dict[str, Any]) -> list[bytes]:
    ours = twin.identity.object_id
    return [
        r.body
        for r in twin.requests("PATCH")
        if r.path.casefold() == resource["id"].casefold() and (r.caller or {}).get("oid") == ours
    ]


def records(resource: dict[str, Any]) -> list[Any]:
    return function_app.service().ledger.for_resource(resource["id"])


def cards(twin: Twin) -> list[Any]:
    return twin.sink("teams")


@contextlib.contextmanager
def table_dies_before_the_patch(storage: azurite.SeparateAzurite) -> Iterator[None]:
    """Within the block, the table service dies right after the worker renews its lease, before
    its PATCH: the fix lands in ARM and its record cannot be finished (the real ledger call runs
    first). After the block, the table is back with what it held."""
    ledger = function_app.service().ledger
    renew = ledger.renew

    def renew_then_lose_the_table(*args: Any, **kwargs: Any) -> bool:
        renewed = renew(*args, **kwargs)
        storage.kill("table")
        return renewed

    ledger.renew = renew_then_lose_the_table  # type: ignore[method-assign]
    try:
        yield
    finally:
        del ledger.renew
        storage.restart("table")


def past_the_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's clock moves past the crashed worker's lease (the clock is injected, not waited for)."""
    wired = function_app.service()
    ahead = wired.worker.lease_seconds + 1
    clock = wired.ledger._clock
    monkeypatch.setattr(wired.ledger, "_clock", lambda: clock() + ahead)


def test_a_fix_whose_record_could_not_be_finished_is_settled_once(
    twin: Twin, storage: azurite.SeparateAzurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the PATCH landed, the table was gone for ``ledger.create``: no record, no notice, and
    the redelivery found a healthy resource and recorded nothing (its stale lease made it BUSY)."""
    deliver(twin, STORAGE, {"allowSharedKeyAccess": False}, "2026-09-01")
    with table_dies_before_the_patch(storage):
        [message] = handled_messages()  # the worker dies with the table: the message stays queued
    assert our_patches(twin, STORAGE) == [b'{"properties":{"allowSharedKeyAccess":true}}']
    [written_ahead] = records(STORAGE)
    assert written_ahead.status is Status.APPLYING and written_ahead.plan == {
        "properties": {"allowSharedKeyAccess": True}
    }
    assert cards(twin) == []

    past_the_lease(monkeypatch)
    call("remediate_from_queue", func.QueueMessage(id="again", body=message))  # the queue's redelivery
    [settled] = records(STORAGE)
    assert settled.status is Status.VERIFIED and settled.reason == "the planned change is in place"
    assert [h["status"] for h in settled.history] == ["applying", "verified"]
    assert len(our_patches(twin, STORAGE)) == 1 and len(cards(twin)) == 1

    call("sweep", None)  # nothing left in flight: the sweep changes nothing
    assert len(our_patches(twin, STORAGE)) == 1 and len(records(STORAGE)) == 1 and len(cards(twin)) == 1


def test_an_approval_cut_off_by_a_storage_outage_is_settled_by_the_sweep(
    twin: Twin, storage: azurite.SeparateAzurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the resource was fixed, the record read ``applying`` for ever, re-approving answered
    409, and the sweep never settled it."""
    deliver(twin, SEARCH, {"publicNetworkAccess": "Disabled"}, "2025-05-01")
    monkeypatch.setenv("GUARD_MODES", "managed_rg_firewall_locked=propose")
    monkeypatch.setattr(function_app, "_service", None)
    function_app.service().first_delay_seconds = 0
    handled_messages()
    [proposal] = records(SEARCH)
    assert proposal.status is Status.PROPOSED
    request = func.HttpRequest(
        "POST",
        f"/api/remediations/{proposal.id}/approve",
        headers=ONCALL,
        route_params={"remediation_id": proposal.id},
        body=b"",
    )
    with table_dies_before_the_patch(storage):
        answer = call("approve", request)
    assert answer.status_code == 503  # storage went away mid-approval: retry later, nothing half-said
    [stuck] = records(SEARCH)
    assert stuck.status is Status.APPLYING

    past_the_lease(monkeypatch)
    call("sweep", None)
    [settled] = records(SEARCH)
    assert settled.status is Status.VERIFIED
    assert [h["status"] for h in settled.history] == ["proposed", "approved", "applying", "verified"]
    assert settled.approver == "oncall@contoso.com"
    assert len(our_patches(twin, SEARCH)) == 1
    assert len(cards(twin)) == 2  # the proposal, then the verified fix: nothing about the outage itself


def test_a_second_delivery_during_a_long_running_fix_follows_it_instead_of_patching_again(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the second delivery PATCHed again, got a 412 and recorded a false ``failed``; and the
    fix waited for the hourly sweep to be verified."""
    monkeypatch.setenv("GUARD_ARM_BUDGET_SECONDS", "1")
    monkeypatch.setattr(function_app, "_service", None)
    function_app.service().first_delay_seconds = 0
    twin.set_lro(cosmos_polls=10_000)  # the update runs on past the budget
    deliver(twin, COSMOS, {"disableLocalAuth": True}, "2026-03-15")
    twin.set_lro(cosmos_polls=10_000)
    wired = function_app.service()
    message = wired.queue.receive_message()
    call("remediate_from_queue", func.QueueMessage(id=message.id, body=message.content.encode()))
    wired.queue.delete_message(message)
    [pending] = records(COSMOS)
    assert pending.status is Status.APPLIED and pending.continuation_token
    assert cards(twin) == []  # a fix still running is announced when it ends

    deliver(twin, COSMOS, {"disableLocalAuth": True}, "2026-03-15")  # a second event meanwhile
    twin.finish_operations()
    handled_messages()  # the second delivery and the follow-up: both follow the running fix
    [settled] = records(COSMOS)
    assert settled.status is Status.VERIFIED
    assert [h["status"] for h in settled.history] == ["applying", "applied", "verified"]
    assert len(our_patches(twin, COSMOS)) == 1
    assert not any(r.status is Status.FAILED for r in records(COSMOS))
    assert len(cards(twin)) == 1


def test_a_throttled_read_is_retried_later_not_recorded_as_a_failure(twin: Twin) -> None:
    """Before: a healthy resource whose read was throttled past the retries was recorded ``failed``
    and sent a Teams card, on every sweep."""
    twin.add_fault({"kind": "throttle", "method": "GET", "resourceId": COSMOS["id"], "retryAfter": 3600})
    deliver(twin, COSMOS, {"disableLocalAuth": True}, "2026-03-15")
    handled_messages()
    assert records(COSMOS) == [] and cards(twin) == []
    assert our_patches(twin, COSMOS) == []
    twin.clear_faults()
    wired = function_app.service()
    again = wired.queue.peek_messages()
    assert again == []  # queued again, hidden until the throttle's Retry-After


def test_a_resource_left_broken_the_same_way_is_recorded_and_announced_once(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a resource left broken in observe mode got a new ``suppressed`` record and card on
    every sweep and every event."""
    monkeypatch.setenv("GUARD_MODES", "local_auth_disabled=observe")
    monkeypatch.setattr(function_app, "_service", None)
    function_app.service().first_delay_seconds = 0
    for _ in range(3):
        deliver(twin, COSMOS, {"disableLocalAuth": True}, "2026-03-15")
        handled_messages()
    [observed] = records(COSMOS)
    assert observed.status is Status.SUPPRESSED
    assert len(cards(twin)) == 1 and our_patches(twin, COSMOS) == []


def test_a_fix_a_policy_refuses_is_recorded_and_announced_once(twin: Twin) -> None:
    """Before: every event and every sweep sent the refused PATCH again, and recorded and
    announced the same refusal again."""
    # A Deny policy in the shape of "Storage accounts should prevent shared key access".
    assignment = "/subscriptions/{subscription-id}/providers/Microsoft.Authorization/policyAssignments/deny-shared-key"
    deny_shared_key = [{"field": "properties.allowSharedKeyAccess", "equals": True}]
    twin.add_fault({"kind": "deny", "method": "PATCH", "policyAssignmentId": assignment, "if": deny_shared_key})
    for _ in range(3):
        deliver(twin, STORAGE, {"allowSharedKeyAccess": False}, "2026-09-01")
        handled_messages()
    [refused] = records(STORAGE)
    assert refused.status is Status.FAILED and (refused.error or {}).get("code") == "RequestDisallowedByPolicy"
    assert len(our_patches(twin, STORAGE)) == 1 and len(cards(twin)) == 1
