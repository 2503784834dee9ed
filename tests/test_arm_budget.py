"""Bounded ARM calls: no call outlives the remediation's time budget, whatever ARM does.

The twin's ``latency`` fault holds a request for as long as asked (a hung answer); the budgets here
are a second or so. Every test asserts what came back and what the twin received, never how long
anything took: a hung call ends as a timeout (retryable) at the budget, nothing is sent again after
it, and no poller is left running to send anything later.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from emulator.twin import Twin
from remediators.arm import (
    CONNECT_TIMEOUT_SECONDS,
    WORST_CASE_MARGIN_SECONDS,
    Arm,
    ArmError,
    credential,
)
from remediators.baselines import InMemoryBaselines
from remediators.pipeline import Pipeline, State
from remediators.registry import remediators_of_type
from remediators.resource_ids import parse_resource_id
from remediators.scope import ScopeRules
from tests.payloads import COSMOS_GET, MANAGED_RG, STORAGE_GET, example, in_group, proving_workspaces, with_properties

COSMOS = in_group(example(COSMOS_GET), MANAGED_RG)
STORAGE = in_group(example(STORAGE_GET), MANAGED_RG)
HANG = 45_000  # ms: the hung GET; the twin lets go of it when it stops
COSMOS_SDK = remediators_of_type(COSMOS["type"])[0].sdk
STORAGE_SDK = remediators_of_type(STORAGE["type"])[0].sdk
WORKSPACES = "/subscriptions/subid/providers/Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Twin]:
    with Twin.start(resources=[COSMOS, STORAGE, *proving_workspaces(COSMOS, STORAGE)]) as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)  # the real ManagedIdentityCredential asks the twin for tokens
        yield running


def arm(twin: Twin, budget: float, **options: Any) -> Arm:
    return Arm(
        credential(None),
        endpoint=twin.arm,
        budget_seconds=budget,
        connection_verify=twin.ca_path,
        polling_interval=options.pop("polling_interval", 0),
        **options,
    )


def pipeline(twin: Twin, budget: float) -> Pipeline:
    return Pipeline(arm(twin, budget), ScopeRules(), baselines=InMemoryBaselines())


def arm_requests(twin: Twin) -> list[str]:
    """What reached ARM, in order: ``METHOD path`` (the token endpoint left out)."""
    return [f"{r.method} {r.path}" for r in twin.requests() if r.path.casefold().startswith("/subscriptions/")]


def pollers_started_since(before: set[threading.Thread]) -> list[threading.Thread]:
    """azure-core's poller threads (named ``LROPoller(...)``) started since ``before`` and still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("LROPoller") and t not in before and t.is_alive()]


def warmed(twin: Twin, resource_id: str, budget: float) -> Pipeline:
    """A pipeline that has remediated ``resource_id`` once with a roomy budget (the managed identity's
    token and the workspace inventory are cached), now with ``budget``: the budget under test is
    spent on the calls under test alone."""
    guard = pipeline(twin, 60)
    assert guard.remediate(resource_id).state is State.HEALTHY
    guard.arm.budget_seconds = budget
    twin.clear_requests()
    return guard


def test_a_read_that_hangs_ends_at_the_budget_as_a_retryable_timeout(twin: Twin) -> None:
    twin.add_fault({"kind": "latency", "ms": HANG, "method": "GET", "resourceId": COSMOS["id"]})
    with pytest.raises(ArmError) as raised:
        arm(twin, 1.0, retry_total=3).read(parse_resource_id(COSMOS["id"]), COSMOS_SDK)
    error = raised.value
    assert (error.status, error.code, error.timed_out, error.retryable) == (None, "Timeout", True, True)
    assert "time budget" in error.message
    assert arm_requests(twin) in ([], [f"GET {COSMOS['id']}"])  # at most once: not retried past the budget


def test_a_hung_read_in_a_remediation_fails_it_as_a_timeout_and_nothing_follows(twin: Twin) -> None:
    guard = warmed(twin, COSMOS["id"], 1.0)
    twin.add_fault({"kind": "latency", "ms": HANG, "method": "GET", "resourceId": COSMOS["id"]})
    outcome = guard.remediate(COSMOS["id"])
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.timed_out and outcome.error.retryable
    assert outcome.reason.startswith("ARM did not answer within the time budget")
    assert arm_requests(twin) in ([], [f"GET {COSMOS['id']}"])  # no retry, no PATCH


def test_the_workspace_inventory_spends_the_same_budget(twin: Twin) -> None:
    twin.add_fault({"kind": "latency", "ms": HANG, "method": "GET", "resourceId": WORKSPACES})
    outcome = pipeline(twin, 1.0).remediate(COSMOS["id"])
    assert outcome.state is State.FAILED and outcome.error is not None and outcome.error.timed_out
    assert "inventory could not be read" in outcome.reason
    assert arm_requests(twin) in ([], [f"GET {WORKSPACES}"])  # neither the next list nor the resource read


def test_a_patch_that_hangs_cannot_outlive_the_budget_nor_be_sent_twice(twin: Twin) -> None:
    resource_id = STORAGE["id"]
    twin.set_resource(with_properties(STORAGE, allowSharedKeyAccess=False))
    guard = pipeline(twin, 1.0)
    outcome, write = pipeline(twin, 60).prepare(resource_id)  # decided with time to spare
    assert write is not None
    twin.add_fault({"kind": "latency", "ms": 130_000, "method": "PATCH", "resourceId": resource_id})
    twin.clear_requests()

    done = guard.write(outcome, dataclasses.replace(write, deadline=time.monotonic() + 1.0))

    assert done.state is State.FAILED
    assert done.error is not None and done.error.timed_out and done.error.retryable
    assert arm_requests(twin) in ([], [f"PATCH {resource_id}"])  # at most once; no verifying read after it


def pending_fix(twin: Twin) -> tuple[Pipeline, str]:
    """A Cosmos DB fix left pending: the twin asks pollers to wait 120 s between polls, longer than
    the 60 s budget left, so the pipeline hands the update back at once (with no time-sensitive
    step: the budget is roomy, and the outcome does not depend on how fast anything ran)."""
    guard = pipeline(twin, 60)
    twin.set_resource(with_properties(COSMOS, disableLocalAuth=True))
    twin.set_lro(cosmos_polls=1_000_000, retry_after=120)  # never done while a test runs
    before = set(threading.enumerate())
    outcome = guard.remediate(COSMOS["id"])
    assert outcome.state is State.PENDING and outcome.continuation_token
    assert pollers_started_since(before) == []  # not left asleep on a thread for 120 s
    polls = [request for request in arm_requests(twin) if "/operationsStatus/" in request]
    assert len(polls) == 1  # the first poll, at once; the next would come after the budget
    assert [request.split()[0] for request in arm_requests(twin)].count("PATCH") == 1
    twin.clear_requests()
    return guard, outcome.continuation_token


def test_a_retry_after_longer_than_the_time_left_leaves_the_fix_pending_without_waiting(twin: Twin) -> None:
    pending_fix(twin)


def test_a_pending_fix_is_polled_until_the_budget_and_no_longer(twin: Twin) -> None:
    guard, token = pending_fix(twin)
    twin.set_lro(retry_after=0)  # now poll as fast as the client can
    guard.arm.budget_seconds = 1.0
    before = set(threading.enumerate())

    outcome = guard.check_pending(COSMOS["id"], token)

    assert outcome.state is State.PENDING and outcome.continuation_token
    assert pollers_started_since(before) == []  # nothing left polling after the budget
    assert all("/operationsStatus/" in request for request in arm_requests(twin))  # polls only, no PATCH


def test_a_poll_that_hangs_leaves_the_fix_pending_with_its_token(twin: Twin) -> None:
    guard, token = pending_fix(twin)
    operations = "/subscriptions/subid/providers/Microsoft.DocumentDB/locations"
    twin.add_fault({"kind": "latency", "ms": HANG, "method": "GET", "scope": operations})
    guard.arm.budget_seconds = 1.0
    before = set(threading.enumerate())

    outcome = guard.check_pending(COSMOS["id"], token)

    assert outcome.state is State.PENDING and outcome.continuation_token  # still running, not failed
    assert pollers_started_since(before) == []
    assert len(arm_requests(twin)) <= 1  # at most the one poll that hung
    twin.clear_faults()
    twin.finish_operations()
    guard.arm.budget_seconds = 60
    assert guard.check_pending(COSMOS["id"], outcome.continuation_token).state is State.VERIFIED


def test_every_request_gets_connect_and_read_timeouts_from_the_time_left(twin: Twin) -> None:
    seen: list[tuple[float, float]] = []

    class Timeouts(SansIOHTTPPolicy):  # type: ignore[type-arg]
        def on_request(self, request: Any) -> None:
            options = request.context.options
            seen.append((options["connection_timeout"], options["read_timeout"]))

    guard = arm(twin, 1000.0, per_retry_policies=[Timeouts()])
    resource = parse_resource_id(COSMOS["id"])
    with guard.budget(time.monotonic() + 120.0):
        guard.read(resource, COSMOS_SDK)
        guard.list_raw(WORKSPACES, "2024-10-01")
    (connect_1, read_1), (connect_2, read_2) = seen
    assert 0 < read_2 <= read_1 <= 120.0  # the remediation's 120 s, not the Arm's 1000 s nor azure-core's 300 s
    assert connect_1 == min(CONNECT_TIMEOUT_SECONDS, read_1) and connect_2 == min(CONNECT_TIMEOUT_SECONDS, read_2)


def test_budgets_nest_and_the_earlier_deadline_wins(twin: Twin) -> None:
    guard = arm(twin, 25.0)
    with guard.budget(time.monotonic() + 10.0) as outer:
        assert 0 < guard.time_left() <= 10.0
        with guard.budget() as inner:  # a fresh 25 s would end later: the outer 10 s still hold
            assert inner == outer
        with guard.budget(outer - 5.0) as earlier:
            assert earlier == outer - 5.0
    assert guard.worst_case_seconds == 25.0 + WORST_CASE_MARGIN_SECONDS


def test_a_budget_already_spent_sends_nothing(twin: Twin) -> None:
    guard = arm(twin, 25.0)
    with guard.budget(time.monotonic() - 1.0), pytest.raises(ArmError) as raised:
        guard.read(parse_resource_id(COSMOS["id"]), COSMOS_SDK)
    assert raised.value.timed_out
    assert arm_requests(twin) == []


def test_the_client_cache_keeps_the_most_recently_used_subscriptions(twin: Twin) -> None:
    guard = arm(twin, 25.0, max_clients=2)
    for subscription in ("s1", "s2", "s1", "s3"):
        resource = parse_resource_id(
            f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.DocumentDB/databaseAccounts/a"
        )
        assert guard.read(resource, COSMOS_SDK) is None  # 404: the group does not exist
    assert [subscription for _, subscription in guard._clients] == ["s1", "s3"]  # s2 was least recently used


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (429, "SubscriptionRequestsThrottled", True),
        (503, "ServiceUnavailable", True),
        (409, "AnotherOperationInProgress", True),
        (412, "PreconditionFailed", True),
        (None, "ServiceRequestError", True),
        (403, "RequestDisallowedByPolicy", False),
        (400, "InvalidRequestContent", False),
        (404, "ResourceNotFound", False),
    ],
)
def test_which_failures_may_succeed_later(status: int | None, code: str, retryable: bool) -> None:
    assert ArmError(status, code, "m").retryable is retryable
