"""Inputs at and over the caps (remediators/limits.py), on every entry point: each is answered at
once with a problem body (400, 404, 413) or a logged refusal; never a RecursionError, a 500 with a
traceback, or an answer that grows with the input. What each did before is in its docstring."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from emulator import azurite
from emulator.host import AUTHENTICATION_ON, drain, poison_queue, signed_in
from emulator.twin import Twin
from remediators.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH
from remediators.principal import APPROVE
from tests.payloads import FIXTURES, proving_workspaces
from tests.test_function_app import FUNCTIONS
from tests.test_pipeline_twin import COSMOS, SEARCH

ONCALL = signed_in("0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e", "oncall@contoso.com", APPROVE)
DEEP = 30_000


@pytest.fixture(scope="module")
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:
        yield running


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch, storage: azurite.Azurite) -> Iterator[Twin]:
    with Twin.start(resources=[COSMOS, SEARCH, *proving_workspaces(COSMOS, SEARCH)]) as running:
        for name, value in {**running.environment(), **AUTHENTICATION_ON}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GUARD_STORAGE", storage.connection_string)
        monkeypatch.setenv("GUARD_WORK_QUEUE", f"edges-{secrets.token_hex(4)}")
        monkeypatch.setattr(function_app, "_service", None)
        yield running


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].get_user_function()(*args)


def http(name: str, route: str, body: bytes = b"", method: str = "POST", **route_params: str) -> func.HttpResponse:
    request = func.HttpRequest(method, f"/api/{route}", headers=ONCALL, params={}, body=body, route_params=route_params)
    return call(name, request)


def problem(answer: func.HttpResponse, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_body()[:500]
    assert answer.mimetype == "application/problem+json"
    assert len(answer.get_body()) < 1000  # the answer does not grow with the input
    body = json.loads(answer.get_body())
    assert body["status"] == status and "Traceback" not in body["detail"]
    return dict(body)


def queued() -> list[Any]:
    return list(function_app.service().queue.peek_messages(max_messages=32))


@pytest.mark.parametrize("remediation_id", ["ab-1/2", "ab-" + "f" * 100_000])
@pytest.mark.parametrize("name", ["approve", "reject"])
def test_a_route_id_no_ledger_id_can_be_is_404_without_a_lookup(twin: Twin, name: str, remediation_id: str) -> None:
    """Before: the id went to Table storage as a row key: "/" and "?" or 100,000 characters made
    storage answer 400 (or the URL fail), which escaped the function as a 500 with a traceback."""
    answer = problem(http(name, f"remediations/x/{name}", remediation_id=remediation_id), 404)
    assert "no remediation" in answer["detail"]


def test_a_resource_id_longer_than_any_arm_id_is_400(twin: Twin) -> None:
    """Before: a 100,000-character id went on to the scope rules, the lease table and ARM."""
    resource_id = COSMOS["id"] + "x" * 100_000
    body = json.dumps({"resourceId": resource_id, "action": "plan"}).encode()
    assert "longer than any ARM id" in problem(http("remediate", "remediate", body), 400)["detail"]


def test_a_2_mb_alerts_array_is_413_unparsed(twin: Twin) -> None:
    """Before: a 2 MB array was parsed whole and answered item by item: 16 s and a 65 MB answer."""
    alert = json.loads((FIXTURES / "events" / "alert-test-metric-static-threshold.json").read_text(encoding="utf-8"))
    body = json.dumps([alert] * 1500).encode()
    assert len(body) > 2 * MAX_BODY_BYTES
    assert "too large" in problem(http("alerts", "alerts", body), 413)["detail"]
    assert queued() == []


@pytest.mark.parametrize(
    ("name", "route"), [("alerts", "alerts"), ("remediate", "remediate"), ("classify", "classify")]
)
def test_a_body_nested_too_deep_is_400(twin: Twin, name: str, route: str) -> None:
    """Before: 30,000 levels were refused only when the parser hit Python's recursion limit, and
    100 levels were accepted and walked by every recursive function after it."""
    for depth in (MAX_JSON_DEPTH + 1, DEEP):
        body = ("[" * depth + "]" * depth).encode()
        assert "nested too deeply" in problem(http(name, route, body), 400)["detail"]


def test_a_queue_message_nested_30000_deep_is_refused_and_logged_not_retried(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: json.loads raised RecursionError, which the queue trigger did not catch: the host
    retried the message five times and then poisoned it, a traceback each time."""
    call("remediate_from_queue", func.QueueMessage(id="m-deep", body=b"[" * DEEP + b"]" * DEEP))
    # Through the queue (whose 64 KiB, base64, holds about 24,000 levels), as the host hands it over.
    wired = function_app.service()
    wired.queue.send_message("[" * 20_000 + "]" * 20_000)
    assert drain(wired.queue, FUNCTIONS["remediate_from_queue"].get_user_function()) == 1
    assert poison_queue(wired.queue).peek_messages() == []
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2 and all("nested too deeply" in line for line in refusals)
    assert "m-deep" in refusals[0]


def test_event_grid_data_over_the_caps_is_refused_and_logged(twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    """Before: data nested 30,000 deep or over a megabyte went on through the trigger path unchecked."""
    deep: list[Any] = []
    for _ in range(DEEP):
        deep = [deep]
    for name, data in {
        "deep": {"resourceUri": COSMOS["id"], "claims": deep},
        "large": {"resourceUri": COSMOS["id"], "operationName": "x" * (MAX_BODY_BYTES + 1)},
    }.items():
        event = func.EventGridEvent(
            id=f"edge-{name}",
            data=data,
            topic="/subscriptions/subid",
            subject=COSMOS["id"],
            event_type="Microsoft.Resources.ResourceWriteSuccess",
            event_time=None,
            data_version="1",
        )
        call("on_resource_event", event)
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("edge-deep" in line and "nested too deeply" in line for line in refusals)
    assert any("edge-large" in line and "more than" in line for line in refusals)
    assert queued() == []
