"""The HTTP trigger, called without the Functions host with real ``func.HttpRequest`` objects."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

import function_app
from emulator.host import AUTHENTICATION_ON, signed_in
from remediators.principal import READ
from tests.payloads import SEARCH_DISABLE_LOCAL_AUTH, example

FUNCTIONS = {f.get_function_name(): f for f in function_app.app.get_functions()}  # get_functions() once only
READER = signed_in("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "analyst@contoso.com", READ)


@pytest.fixture(autouse=True)
def authentication_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """App Service authentication is on, as the deployment configures it (the platform sets this)."""
    for name, value in AUTHENTICATION_ON.items():
        monkeypatch.setenv(name, value)


def call(body: bytes, headers: dict[str, str] = READER, **params: str) -> func.HttpResponse:
    request = func.HttpRequest("POST", "/api/classify", headers=headers, params=params, body=body)
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


def test_classify_needs_a_signed_in_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps(example(SEARCH_DISABLE_LOCAL_AUTH)).encode()
    anonymous = call(body, headers={})
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.mimetype == "application/problem+json"
    assert json.loads(anonymous.get_body())["title"] == "Unauthorized"
    guest = call(body, headers=signed_in("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "guest@contoso.com"))
    assert guest.status_code == 403
    assert "does not hold the app role Remediation.Read" in json.loads(guest.get_body())["detail"]
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED")
    assert call(body).status_code == 401  # the same reader's headers, but nothing vouches for them


@pytest.mark.parametrize("value", ["%%%", "eyJ9", "W10=", "e30=", "A" * 100_000])
def test_a_malformed_principal_header_is_a_401_never_a_500(value: str) -> None:
    response = call(b"{}", headers={"X-MS-CLIENT-PRINCIPAL": value})
    assert response.status_code == 401
    assert json.loads(response.get_body())["status"] == 401
