"""Who may read and approve: the principal App Service authentication signs in, believed only when it is on.

The headers are the shape Microsoft documents for ``X-MS-CLIENT-PRINCIPAL`` ("Work with user
identities in Azure App Service authentication"), written by the twin's part of the platform
(``emulator.host.signed_in``) and, for the malformed cases, by hand.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.host import AUTHENTICATION_ON, signed_in
from remediators import principal as principal_module
from remediators.principal import (
    APPROVE,
    MAX_HEADER_CHARS,
    READ,
    ROLES,
    AccessDenied,
    MissingRole,
    NotSignedIn,
    Principal,
    authentication_enabled,
    authorize,
    principal_from_headers,
    require,
)
from remediators.settings import SETTINGS

ONCALL_OID = "0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def encoded(document: Any) -> dict[str, str]:
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(document).encode()).decode()}


def principal(*claims: tuple[str, str], auth_typ: str = "aad", role_typ: str = ROLE_URI) -> dict[str, str]:
    return encoded(
        {
            "auth_typ": auth_typ,
            "claims": [{"typ": typ, "val": val} for typ, val in claims],
            "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "role_typ": role_typ,
        }
    )


def test_a_signed_in_approver_is_read_from_the_platforms_header() -> None:
    found = principal_from_headers(signed_in(ONCALL_OID, "oncall@contoso.com", APPROVE), AUTHENTICATION_ON)
    assert found == Principal(ONCALL_OID, "oncall@contoso.com", frozenset({APPROVE}))
    assert require(found, APPROVE) == APPROVE
    assert require(found, READ) == APPROVE  # Approve implies Read


def test_roles_arrive_under_roles_or_the_role_claim_type_and_unknown_ones_are_dropped() -> None:
    headers = principal(
        (OID_CLAIM, ONCALL_OID.upper()),
        ("preferred_username", "oncall@contoso.com"),
        (ROLE_URI, READ),
        ("roles", "Contoso.Admin"),
        ("http://example.com/custom-role", APPROVE),
        role_typ="http://example.com/custom-role",
    )
    found = principal_from_headers(headers, AUTHENTICATION_ON)
    assert found.object_id == ONCALL_OID  # object ids compare case-insensitively
    assert found.roles == {READ, APPROVE}


def test_the_name_is_the_sign_in_name_then_a_display_name_then_an_application_then_the_object_id() -> None:
    def name(*claims: tuple[str, str]) -> str:
        return principal_from_headers(principal((OID_CLAIM, ONCALL_OID), *claims), AUTHENTICATION_ON).name

    assert name(("name", "On Call"), ("preferred_username", "oncall@contoso.com")) == "oncall@contoso.com"
    assert name(("name", "On Call")) == "On Call"
    assert name(("azp", "3f1e4d2c-0b5a-4c69-8d7e-6a5b4c3d2e1f")) == "3f1e4d2c-0b5a-4c69-8d7e-6a5b4c3d2e1f"
    assert name(("preferred_username", "  ")) == ONCALL_OID


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("True", True), ("true", True), (" TRUE ", True), ("1", True), ("False", False), ("0", False), ("", False),
     ("yes", False), ("enabled", False)],
)  # fmt: skip
def test_authentication_is_on_only_when_the_platform_says_so(value: str, enabled: bool) -> None:
    """Read as the Functions host reads WEBSITE_AUTH_ENABLED: a boolean, or a number other than 0."""
    assert authentication_enabled({"WEBSITE_AUTH_ENABLED": value}) is enabled
    assert authentication_enabled({}) is False


@pytest.mark.parametrize("environ", [{}, {"WEBSITE_AUTH_ENABLED": "False"}], ids=["unset", "false"])
def test_with_authentication_off_a_forged_principal_is_not_believed(environ: dict[str, str]) -> None:
    with pytest.raises(NotSignedIn, match="App Service authentication is not enabled") as refused:
        principal_from_headers(signed_in(ONCALL_OID, "oncall@contoso.com", APPROVE), environ)
    assert refused.value.status == 401


def test_with_authentication_on_a_request_without_the_principal_is_not_signed_in() -> None:
    with pytest.raises(NotSignedIn, match="not signed in"):
        principal_from_headers({}, AUTHENTICATION_ON)
    # The readable name alone is what the platform sends beside the principal, never instead of it.
    with pytest.raises(NotSignedIn, match="not signed in"):
        principal_from_headers({"X-MS-CLIENT-PRINCIPAL-NAME": "oncall@contoso.com"}, AUTHENTICATION_ON)


def test_the_name_header_is_never_read_the_claims_name_the_caller() -> None:
    headers = {**signed_in(ONCALL_OID, "dev@contoso.com", READ), "X-MS-CLIENT-PRINCIPAL-NAME": "ceo@contoso.com"}
    assert principal_from_headers(headers, AUTHENTICATION_ON).name == "dev@contoso.com"


def test_header_names_are_case_insensitive() -> None:
    [(name, value)] = [(k, v) for k, v in signed_in(ONCALL_OID, "oncall@contoso.com").items() if k.endswith("PAL")]
    assert principal_from_headers({name.lower(): value}, AUTHENTICATION_ON).name == "oncall@contoso.com"


@pytest.mark.parametrize(
    "name",
    ["oncall@contoso.com\nINFO approved by security@contoso.com", "oncall@contoso.com\r", "oncall\x00@contoso.com",
     "oncall\u2028@contoso.com", "\u202emoc.osotnoc@llacno", "oncall\x1b[2J@contoso.com", "o" * 257],
    ids=["newline", "trailing-cr", "nul", "line-separator", "bidi-override", "escape", "too-long"],
)  # fmt: skip
def test_a_name_that_could_forge_a_log_line_or_a_ledger_entry_is_refused(name: str) -> None:
    with pytest.raises(NotSignedIn, match="name"):
        principal_from_headers(signed_in(ONCALL_OID, name, APPROVE), AUTHENTICATION_ON)


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"X-MS-CLIENT-PRINCIPAL": "not base64!"}, "not base64-encoded JSON"),
        ({"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"{not json").decode()}, "not base64-encoded JSON"),
        ({"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"\xff\xfe").decode()}, "not base64-encoded JSON"),
        ({"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"[" * 100_000).decode()[:30_000]}, "not base64-encoded JSON"),
        ({"X-MS-CLIENT-PRINCIPAL": "A" * (MAX_HEADER_CHARS + 4)}, "longer than"),
        (encoded([1, 2]), "holds no claims"),
        (encoded({"auth_typ": "aad", "claims": "oid"}), "holds no claims"),
        (encoded({"auth_typ": "aad", "claims": [{"typ": "oid", "val": 7}]}), "typ and val"),
        (encoded({"auth_typ": "aad", "claims": [None]}), "typ and val"),
        (principal(("oid", ONCALL_OID), auth_typ="github"), "other than Microsoft Entra ID"),
        (principal(("preferred_username", "oncall@contoso.com")), "no single Entra ID object id"),
        (principal((OID_CLAIM, "not-a-guid")), "no single Entra ID object id"),
        (principal((OID_CLAIM, ONCALL_OID), ("oid", "11111111-2222-3333-4444-555555555555")), "no single"),
    ],
    ids=["not-base64", "not-json", "not-utf8", "nested-deep", "huge", "array", "claims-not-a-list", "val-not-text",
         "claim-not-an-object", "other-provider", "no-object-id", "object-id-not-a-guid", "two-object-ids"],
)  # fmt: skip
def test_a_malformed_principal_is_a_clear_401(headers: dict[str, str], detail: str) -> None:
    with pytest.raises(NotSignedIn) as refused:
        principal_from_headers(headers, AUTHENTICATION_ON)
    assert detail in str(refused.value)
    assert refused.value.status == 401


def answer(headers: dict[str, str]) -> Principal | NotSignedIn:
    try:
        return principal_from_headers(headers, AUTHENTICATION_ON)
    except NotSignedIn as refused:  # anything else raised fails the test
        return refused


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())))
def test_whatever_the_header_holds_the_answer_is_a_principal_or_a_401(value: str) -> None:
    assert isinstance(answer({"X-MS-CLIENT-PRINCIPAL": value}), Principal | NotSignedIn)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))  # fmt: skip
def test_whatever_json_the_header_holds_the_answer_is_a_principal_or_a_401(document: Any) -> None:
    for shaped in (document, {"auth_typ": "aad", "claims": document}, {"auth_typ": "aad", "claims": [document]}):
        assert isinstance(answer(encoded(shaped)), Principal | NotSignedIn)


def test_a_reader_may_read_but_not_approve_and_someone_without_a_role_may_do_neither() -> None:
    reader = authorize(signed_in(ONCALL_OID, "dev@contoso.com", READ), AUTHENTICATION_ON, READ)
    assert require(reader, READ) == READ
    with pytest.raises(MissingRole, match=r"dev@contoso.com \(0b6f5a4e-.*\) does not hold the app role Remediation"):
        require(reader, APPROVE)
    nobody = signed_in(ONCALL_OID, "guest@contoso.com")
    for role in (READ, APPROVE):
        with pytest.raises(AccessDenied) as refused:
            authorize(nobody, AUTHENTICATION_ON, role)
        assert refused.value.status == 403


def test_the_roles_declared_for_the_app_registration_are_the_roles_checked() -> None:
    assert {role.value for role in ROLES} == {READ, APPROVE}
    approve = next(role for role in ROLES if role.value == APPROVE)
    assert approve.member_types == ("User",), "approvals are made by people, not applications"
    assert len({role.id for role in ROLES}) == 2
    assert all(role.id == type(role)(role.value, "", "", ()).id for role in ROLES), "ids follow the value only"


def test_no_guard_setting_turns_the_check_off() -> None:
    """Only the platform's own word counts: every GUARD_* setting set to anything changes nothing."""
    everything = {setting.name: "off" for setting in SETTINGS}
    everything.update(GUARD_AUTH="off", GUARD_REQUIRE_AUTHENTICATION="false")
    with pytest.raises(NotSignedIn, match="not enabled"):
        principal_from_headers(signed_in(ONCALL_OID, "oncall@contoso.com", APPROVE), everything)
    source = Path(principal_module.__file__).read_text(encoding="utf-8")
    assert "GUARD_" not in source.replace("No ``GUARD_*`` setting switches this off", "")
