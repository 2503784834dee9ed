"""The HTTP trigger, called without the Functions host with real ``func.HttpRequest`` objects."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

import function_app
from tests.payloads import SEARCH_DISABLE_LOCAL_AUTH, example

FUNCTIONS = {f.get_function_name(): f for f in function_app.app.get_functions()}  # get_functions() once only


def call(body: bytes, **params: str) -> func.HttpResponse:
    request = func.HttpRequest("POST", "/api/classify", headers={}, params=params, body=body)
    return FUNCTIONS["classify"].get_user_function()(request)


def test_every_function_indexes() -> None:
    assert sorted(FUNCTIONS) == [
        "alerts",
        "approve",
        "classify",
        "health",
        "on_resource_event",
        "reject",
        "remediate",
        "remediate_from_queue",
        "remediations",
        "sweep",
    ]


def test_classify_answers_like_the_cli() -> None:
    body = json.dumps(example(SEARCH_DISABLE_LOCAL_AUTH)).encode()
    plain = json.loads(call(body).get_body())
    managed = call(body, managed="true")
    assert plain["guarded"] is None
    assert managed.status_code == 200
    assert managed.mimetype == "application/json"
    out = json.loads(managed.get_body())
    assert [f["kind"] for f in out["findings"]] == ["local_auth_disabled"]
    assert out["plan"]["body"] == {"properties": {"disableLocalAuth": False, "authOptions": {"apiKeyOnly": {}}}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{oops", "request body is not JSON"),
        (b"\xff\xfe", "request body is not JSON"),
        (b"", "request body is not JSON"),
        (b"[1, 2]", "expected one ARM resource"),
        (b'{"id": "/subscriptions/s", "x": Infinity}', "request body is not JSON: Infinity is not valid JSON"),
        (b'{"id": "not-an-id"}', "is not an ARM resource id"),
    ],
)
def test_bad_bodies_get_400_with_a_clear_error(body: bytes, message: str) -> None:
    response = call(body)
    assert response.status_code == 400
    assert message in json.loads(response.get_body())["error"]


def test_invalid_configuration_is_a_500_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_EXCLUDE_SCOPES", "not-a-scope")
    response = call(b"{}")
    assert response.status_code == 500
    assert "GUARD_EXCLUDE_SCOPES" in json.loads(response.get_body())["error"]
