"""Log evidence on the local twin: the real LogsQueryClient, HTTPS, a managed-identity token, seeded rows.

Rows are Microsoft's own sample log records (``tests/log_rows.py``) in the published columns of
each table. Each signature is seeded with rows that must be found (the resource's refusals inside
the lookback), split by who sent them (the workspace's key or identity, or anyone), and rows that
must not (other resources, older rows, successes), and the returned denials are asserted exactly.

The twin's clock stands still at ``NOW`` (``emulator.TwinClock``): "4 minutes ago" is 4 minutes
before the twin's now for the whole module, however slowly the suite runs, and a test that needs
time to pass advances that clock.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import TwinClock
from emulator.twin import Twin
from remediators.arm import credential
from remediators.classify import classify
from remediators.evidence import Caller, Denial, LogEvidence, alert_query, denial_query, summarise
from remediators.findings import BreakageKind, Confidence
from remediators.remediator import ConfirmingDenial
from remediators.scope import ScopeRules
from tests.log_rows import (
    LOG_ANALYTICS_WORKSPACE,
    account_key,
    anonymous,
    anonymous_cosmos_row,
    cosmos_row,
    sas_from_account_key,
    search_row,
    service_evidence,
    storage_row,
)
from tests.payloads import COSMOS_GET, MANAGED_RG, SEARCH_GET, STORAGE_GET, example, in_group, with_properties

WORKSPACE = LOG_ANALYTICS_WORKSPACE
COSMOS = with_properties(in_group(example(COSMOS_GET), MANAGED_RG), publicNetworkAccess="Disabled")
COSMOS_ID = COSMOS["id"]
COSMOS_TYPE = "Microsoft.DocumentDB/databaseAccounts"
SEARCH_ID = in_group(example(SEARCH_GET), MANAGED_RG)["id"]
SEARCH_TYPE = "Microsoft.Search/searchServices"
STORAGE_ID = example(STORAGE_GET)["id"]  # Microsoft's own "{subscription-id}" placeholder, braces and all
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"
STORM_ID = COSMOS_ID.replace("/ddb1", "/storm-ddb")
# The workspace's system-assigned identity, and a principal that is someone else's.
WORKSPACE_PRINCIPAL = "8d2a4f6e-3b1c-4e5d-9f7a-0c1b2d3e4f5a"
STRANGER = "fde5ba15-4355-4223-b811-cccccccccccc"  # the object id in Microsoft's storage log sample
NOW = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)  # the twin's clock, frozen


def at(minutes_ago: float) -> str:
    return (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


KEY = "signed with the account's key"
ANONYMOUS = Caller(False, "anonymous: no key, no principal")
COSMOS_ROWS = [
    # The workspace's key (Microsoft's sample reads KeyType PrimaryReadOnlyMasterKey) refused by
    # local auth (401) and by the firewall (403).
    cosmos_row(at(1), COSMOS_ID, 401, KeyType="", AuthTokenType="PrimaryMasterKey"),
    cosmos_row(at(5), COSMOS_ID, 401, KeyType="", AuthTokenType="PrimaryMasterKey"),
    cosmos_row(at(20), COSMOS_ID, 401, KeyType="", AuthTokenType="PrimaryMasterKey"),
    cosmos_row(at(2), COSMOS_ID, 403),
    cosmos_row(at(3), COSMOS_ID, 403),
    # Anyone on the internet.
    anonymous_cosmos_row(at(1), COSMOS_ID),
    anonymous_cosmos_row(at(2), COSMOS_ID),
    anonymous_cosmos_row(at(4), COSMOS_ID),
    # An Entra ID caller: the workspace's identity only when the caller says so.
    cosmos_row(at(6), COSMOS_ID, 403, KeyType="", AadPrincipalId=WORKSPACE_PRINCIPAL),
    # Not this resource, not in the lookback, not refused.
    cosmos_row(at(6), COSMOS_ID.replace("/ddb1", "/ordinary-ddb"), 401),
    cosmos_row(at(120), COSMOS_ID, 403),
    cosmos_row(at(1), COSMOS_ID, 200),
    cosmos_row(at(2), COSMOS_ID, 404),
]
SEARCH_ROWS = [
    search_row(at(1), SEARCH_ID, 403),
    search_row(at(7), SEARCH_ID.upper(), 403),  # _ResourceId compares ignoring case
    search_row(at(8), SEARCH_ID, 401, OperationName="Indexes.Get"),
    search_row(at(1), SEARCH_ID, 200),
    search_row(at(2), SEARCH_ID, 403, Category="AuditEvent"),  # not the search service's category
    search_row(at(2), SEARCH_ID.replace("mysearchservice", "othersearch"), 403),
    search_row(at(90), SEARCH_ID, 403),
]
BLOB_SERVICE = f"{STORAGE_ID}/blobServices/default"
STORAGE_ROWS = [
    storage_row(at(1), BLOB_SERVICE, "403", "KeyBasedAuthenticationNotPermitted", **account_key()),
    storage_row(at(9), BLOB_SERVICE, "403", "KeyBasedAuthenticationNotPermitted", **account_key()),
    storage_row(at(3), STORAGE_ID, "403", "AuthorizationFailure", **sas_from_account_key()),
    storage_row(at(2), BLOB_SERVICE, "403", "AuthorizationFailure", **anonymous()),
    storage_row(at(4), BLOB_SERVICE, "403", "AuthorizationFailure"),  # Microsoft's sample: OAuth by a stranger
    # A shared key that did not verify names no key, whatever it claims.
    storage_row(at(5), BLOB_SERVICE, "403", "AuthenticationFailed", **account_key(AuthenticationHash=None)),
    storage_row(at(1), BLOB_SERVICE, "201", "Success", **account_key()),
    storage_row(at(1), BLOB_SERVICE, "404", "BlobNotFound", **account_key()),
    storage_row(at(1), BLOB_SERVICE, "Unknown", "ClientOtherError", **account_key()),
    storage_row(at(1), BLOB_SERVICE.replace("sto8596", "sto0000"), "403", "AuthorizationFailure", **account_key()),
    storage_row(at(300), BLOB_SERVICE, "403", "AuthorizationFailure", **account_key()),
]
# A storm: 10,000 refusals of two keys.
STORM_ROWS = [
    cosmos_row(
        at(minute % 50),
        STORM_ID,
        401,
        KeyType="",
        AuthTokenType="PrimaryMasterKey" if minute % 4 else "SecondaryMasterKey",
    )
    for minute in range(10_000)
]


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin.start(clock=TwinClock(frozen_at=NOW)) as running, pytest.MonkeyPatch.context() as patch:
        for name, value in running.environment().items():
            patch.setenv(name, value)  # the real ManagedIdentityCredential asks the twin for tokens
        running.add_log_rows("CDBDataPlaneRequests", COSMOS_ROWS + STORM_ROWS)
        running.add_log_rows("AzureDiagnostics", SEARCH_ROWS)
        running.add_log_rows("StorageBlobLogs", STORAGE_ROWS)
        yield running


@pytest.fixture
def evidence(twin: Twin) -> Iterator[LogEvidence]:
    twin.clear_faults()
    yield LogEvidence(WORKSPACE, credential(None), endpoint=f"{twin.arm}/v1", connection_verify=twin.ca_path)
    twin.clear_faults()


@pytest.fixture
def thirty_seconds_later(twin: Twin) -> Iterator[None]:
    """The twin's clock 30 s past NOW for one test, then back (the module shares one twin)."""
    twin.clock.set(NOW + datetime.timedelta(seconds=30))
    yield
    twin.clock.set(NOW)


def test_cosmos_refusals_say_whether_the_workspace_sent_them(evidence: LogEvidence) -> None:
    assert evidence.denials(COSMOS_ID, COSMOS_TYPE) == [
        Denial(
            "CDBDataPlaneRequests",
            401,
            "unauthorized",
            Caller(True, f"{KEY} (AuthTokenType PrimaryMasterKey)"),
            3,
            at(1),
        ),
        Denial(
            "CDBDataPlaneRequests",
            403,
            "forbidden (firewall, network rules or data-plane RBAC)",
            Caller(True, f"{KEY} (KeyType PrimaryReadOnlyMasterKey)"),
            2,
            at(2),
        ),
        Denial(
            "CDBDataPlaneRequests", 403, "forbidden (firewall, network rules or data-plane RBAC)", ANONYMOUS, 3, at(1)
        ),
        Denial(
            "CDBDataPlaneRequests",
            403,
            "forbidden (firewall, network rules or data-plane RBAC)",
            Caller(False, f"AadPrincipalId {WORKSPACE_PRINCIPAL} is not one of the workspace's identities"),
            1,
            at(6),
        ),
    ]
    assert evidence.last_error is None


def test_a_principal_is_the_workspace_only_when_the_caller_names_it_so(evidence: LogEvidence) -> None:
    trusted = evidence.denials(COSMOS_ID, COSMOS_TYPE, trusted_principals={WORKSPACE_PRINCIPAL.upper()})
    [principal] = [d for d in trusted if "AadPrincipalId" in d.caller.why]
    assert principal.caller == Caller(True, f"the workspace's identity (AadPrincipalId {WORKSPACE_PRINCIPAL})")
    others = evidence.denials(COSMOS_ID, COSMOS_TYPE, trusted_principals={"00000000-0000-0000-0000-000000000000"})
    assert [d.workspace_traffic for d in others if "AadPrincipalId" in d.caller.why] == [False]


def test_describe_says_whether_the_line_counts(evidence: LogEvidence) -> None:
    workspace, _, anyone, _ = evidence.denials(COSMOS_ID, COSMOS_TYPE)
    assert workspace.describe() == (
        "CDBDataPlaneRequests: 3 requests refused 401, unauthorized; the workspace's traffic: "
        f"{KEY} (AuthTokenType PrimaryMasterKey); last seen {at(1)}"
    )
    assert anyone.describe() == (
        "CDBDataPlaneRequests: 3 requests refused 403, forbidden (firewall, network rules or data-plane RBAC); "
        "not the workspace's traffic, listed only (counts for nothing): anonymous: no key, no principal; "
        f"last seen {at(1)}"
    )
    assert (
        Denial("StorageBlobLogs", 403, "no StatusText", ANONYMOUS, 1, None).describe().endswith("; last seen unknown")
    )


def test_search_refusals_are_listed_but_the_search_log_names_no_caller(evidence: LogEvidence) -> None:
    nobody = Caller(False, "the Search log names no caller (no key, principal or address column)")
    assert evidence.denials(SEARCH_ID, SEARCH_TYPE) == [
        Denial("AzureDiagnostics", 403, "OperationName Query.Search", nobody, 2, at(1)),
        Denial("AzureDiagnostics", 401, "OperationName Indexes.Get", nobody, 1, at(8)),
    ]


def test_storage_refusals_of_the_account_and_its_blob_service(evidence: LogEvidence) -> None:
    assert evidence.denials(STORAGE_ID, STORAGE_TYPE, trusted_principals={WORKSPACE_PRINCIPAL}) == [
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText KeyBasedAuthenticationNotPermitted (shared key access disallowed)",
            Caller(True, f"{KEY} (AuthenticationType AccountKey, key1)"),
            2,
            at(1),
        ),
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText AuthorizationFailure (not authorized: firewall or network rules)",
            Caller(True, f"{KEY} (AuthenticationType SAS, key1)"),
            1,
            at(3),
        ),
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText AuthenticationFailed (signature or token rejected)",
            Caller(False, "AuthenticationType AccountKey rejected: the credential proves nothing"),
            1,
            at(5),
        ),
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText AuthorizationFailure (not authorized: firewall or network rules)",
            Caller(False, f"RequesterObjectId {STRANGER} is not one of the workspace's identities"),
            1,
            at(4),
        ),
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText AuthorizationFailure (not authorized: firewall or network rules)",
            ANONYMOUS,
            1,
            at(2),
        ),
    ]


def test_the_lookback_bounds_the_rows(twin: Twin, thirty_seconds_later: None) -> None:
    recent = LogEvidence(
        WORKSPACE, credential(None), endpoint=f"{twin.arm}/v1", connection_verify=twin.ca_path, lookback_minutes=4
    )
    # 30 s after NOW, the window of 4 minutes holds the rows of 1, 2 and 3 minutes before NOW, not 4.
    assert [(d.status, d.workspace_traffic, d.count) for d in recent.denials(COSMOS_ID, COSMOS_TYPE)] == [
        (403, True, 2),
        (401, True, 1),
        (403, False, 2),  # the anonymous row of 4 minutes before NOW is now 4.5 minutes old
    ]
    assert recent.denials(STORAGE_ID, STORAGE_TYPE)[0].count == 1


def test_the_window_counts_back_from_the_twins_now(twin: Twin) -> None:
    recent = LogEvidence(
        WORKSPACE, credential(None), endpoint=f"{twin.arm}/v1", connection_verify=twin.ca_path, lookback_minutes=4
    )
    # At NOW itself the row of exactly 4 minutes ago is on the window's edge, and ago() includes it.
    assert [(d.workspace_traffic, d.count) for d in recent.denials(COSMOS_ID, COSMOS_TYPE) if d.status == 403] == [
        (True, 2),
        (False, 3),
    ]
    twin.clock.set(NOW + datetime.timedelta(minutes=30))
    try:
        assert recent.denials(COSMOS_ID, COSMOS_TYPE) == []  # half an hour on, all of it has aged out
    finally:
        twin.clock.set(NOW)


def test_a_storm_of_ten_thousand_rows_becomes_two_lines(evidence: LogEvidence) -> None:
    denials = evidence.denials(STORM_ID, COSMOS_TYPE)
    assert [(d.caller.why, d.count) for d in denials] == [
        (f"{KEY} (AuthTokenType PrimaryMasterKey)", 7_500),
        (f"{KEY} (AuthTokenType SecondaryMasterKey)", 2_500),
    ]


def test_types_without_a_signature_ask_nothing(twin: Twin, evidence: LogEvidence) -> None:
    twin.clear_requests()
    account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    assert evidence.denials(account, "Microsoft.CognitiveServices/accounts") == []
    assert denial_query(account, "Microsoft.CognitiveServices/accounts", 60) is None
    assert evidence.last_error is None and twin.requests() == []


def test_the_queries_name_the_resource_the_refusals_and_the_window_in_published_columns() -> None:
    assert denial_query(COSMOS_ID, COSMOS_TYPE.lower(), 60) == (
        "CDBDataPlaneRequests",
        "CDBDataPlaneRequests\n"
        "| where TimeGenerated >= ago(60m)\n"
        f'| where _ResourceId =~ "{COSMOS_ID}"\n'
        "| where StatusCode in (401, 403)",
    )
    assert denial_query(SEARCH_ID, SEARCH_TYPE, 15) == (
        "AzureDiagnostics",
        "AzureDiagnostics\n"
        "| where TimeGenerated >= ago(15m)\n"
        f'| where _ResourceId =~ "{SEARCH_ID}"\n'
        '| where Category == "OperationLogs" and resultSignature_d in (401, 403)',
    )
    assert denial_query(STORAGE_ID, STORAGE_TYPE, 60) == (
        "StorageBlobLogs",
        "StorageBlobLogs\n"
        "| where TimeGenerated >= ago(60m)\n"
        f'| where _ResourceId in~ ("{STORAGE_ID}", "{STORAGE_ID}/blobServices/default")\n'
        '| where StatusCode in ("401", "403")',
    )
    with pytest.raises(ValueError, match="lookback_minutes"):
        denial_query(COSMOS_ID, COSMOS_TYPE, 0)


HOSTILE_NAMES = [
    'x" or StatusCode == 200 | where "1" == "1',
    'x\\" or StatusCode == 200 | where "1" == "1',
    "x' | take 10 //",
    'x\\",',
    "x\\",
    "x | summarize count() by _ResourceId",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_resource_ids_cannot_break_out_of_their_string_literal(twin: Twin, evidence: LogEvidence, name: str) -> None:
    hostile = f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/databaseAccounts/{name}"
    # Nothing matches: neither the other resources' refusals nor everything.
    assert evidence.denials(hostile, COSMOS_TYPE) == []
    assert evidence.last_error is None  # and the query was well-formed KQL
    # The literal is exact: a row naming that very id is found.
    twin.add_log_rows("CDBDataPlaneRequests", [cosmos_row(at(1), hostile, 401)])
    assert [(d.status, d.count) for d in evidence.denials(hostile, COSMOS_TYPE)] == [(401, 1)]


def test_an_id_with_control_characters_is_refused_without_a_query(twin: Twin, evidence: LogEvidence) -> None:
    twin.clear_requests()
    assert evidence.denials(COSMOS_ID + "\n| where 1 == 1", COSMOS_TYPE) == []
    assert evidence.last_error is not None and "control characters" in evidence.last_error
    assert twin.requests(path=f"/v1/workspaces/{WORKSPACE}/query") == []


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ({"kind": "error", "status": 503}, "503"),
        ({"kind": "throttle", "retryAfter": 30}, "429"),  # not slept through: evidence is best effort
    ],
)
def test_a_failed_query_returns_nothing_and_says_why(
    twin: Twin, evidence: LogEvidence, fault: dict[str, Any], named: str
) -> None:
    query_path = f"/v1/workspaces/{WORKSPACE}/query"
    twin.add_fault({**fault, "resourceId": query_path})
    twin.clear_requests()
    assert evidence.denials(COSMOS_ID, COSMOS_TYPE) == []
    assert len(twin.requests("POST", query_path)) == 1  # asked once: not retried, not waited out
    assert evidence.last_error is not None
    assert evidence.last_error.startswith("CDBDataPlaneRequests query failed: HttpResponseError") and named in (
        evidence.last_error
    )
    twin.clear_faults()
    assert len(evidence.denials(COSMOS_ID, COSMOS_TYPE)) == 4
    assert evidence.last_error is None


def test_an_unreachable_workspace_is_a_failed_query(twin: Twin) -> None:
    nowhere = LogEvidence(
        WORKSPACE,
        credential(None),
        endpoint="https://127.0.0.1:9/v1",
        connection_verify=twin.ca_path,
        timeout_seconds=2,
    )
    assert nowhere.denials(COSMOS_ID, COSMOS_TYPE) == []
    assert nowhere.last_error is not None and nowhere.last_error.startswith("CDBDataPlaneRequests query failed:")


def test_summaries_read_status_columns_of_either_type() -> None:
    rows = [
        {"StatusCode": "401", "AuthTokenType": "PrimaryMasterKey", "TimeGenerated": at(2)},
        {"StatusCode": 401.0, "KeyType": "primarymasterkey", "TimeGenerated": at(1)},
        {"StatusCode": 403, "AuthTokenType": None, "TimeGenerated": None},
        {"StatusCode": 403, "AuthTokenType": "ResourceToken"},
        {"StatusCode": "Unknown", "AuthTokenType": "PrimaryMasterKey"},
    ]
    assert summarise(COSMOS_TYPE, rows) == [
        Denial(
            "CDBDataPlaneRequests",
            401,
            "unauthorized",
            Caller(True, f"{KEY} (AuthTokenType PrimaryMasterKey)"),
            1,
            at(2),
        ),
        Denial(
            "CDBDataPlaneRequests", 401, "unauthorized", Caller(True, f"{KEY} (KeyType primarymasterkey)"), 1, at(1)
        ),
        Denial(
            "CDBDataPlaneRequests",
            403,
            "forbidden (firewall, network rules or data-plane RBAC)",
            Caller(False, "AuthTokenType ResourceToken: not one of the account's keys, and no principal"),
            1,
            None,
        ),
        Denial(
            "CDBDataPlaneRequests", 403, "forbidden (firewall, network rules or data-plane RBAC)", ANONYMOUS, 1, None
        ),
    ]


def test_a_storage_credential_counts_only_when_it_proves_the_account_key_or_the_workspace() -> None:
    def caller(**row: Any) -> Caller:
        [denial] = summarise(STORAGE_TYPE, [{"StatusCode": "403", "StatusText": "AuthorizationFailure", **row}])
        return denial.caller

    assert caller(**account_key(AuthenticationHash="key2(ABC)")).workspace_traffic
    assert not caller(**account_key(AuthenticationHash="")).workspace_traffic  # a key claimed, none named
    assert not caller(**sas_from_account_key(AuthenticationHash="SasSignature(ABC)")).workspace_traffic
    assert not caller(AuthenticationType="OAuth", RequesterObjectId=WORKSPACE_PRINCIPAL).workspace_traffic
    [trusted] = summarise(
        STORAGE_TYPE,
        [{"StatusCode": "403", "AuthenticationType": "OAuth", "RequesterObjectId": WORKSPACE_PRINCIPAL}],
        trusted_principals=[WORKSPACE_PRINCIPAL],
    )
    assert trusted.workspace_traffic
    assert caller(AuthenticationType="Kerberos").why == (
        "AuthenticationType Kerberos: neither the account's key nor the workspace's identity"
    )


def test_only_the_workspace_s_own_403s_confirm_a_suspected_cosmos_firewall_lock(twin: Twin) -> None:
    without = classify(COSMOS, ScopeRules())
    (firewall,) = [f for f in without.findings if f.kind == BreakageKind.MANAGED_RG_FIREWALL_LOCKED]
    assert (firewall.property, firewall.confidence) == ("properties.publicNetworkAccess", Confidence.SUSPECTED)

    lines = service_evidence(twin)(COSMOS["id"], COSMOS["type"], frozenset())
    # Every refusal is shown; only the workspace's key-signed 403s confirm.
    assert [isinstance(line, ConfirmingDenial) for line in lines] == [False, True, False, False]
    confirmed = classify(COSMOS, ScopeRules(), access_denials=lines)
    (firewall,) = [f for f in confirmed.findings if f.kind == BreakageKind.MANAGED_RG_FIREWALL_LOCKED]
    assert firewall.confidence == Confidence.CONFIRMED
    assert "diagnostic logs show the workspace's own requests refused" in firewall.why
    assert [line for line in firewall.evidence if line.startswith("diagnostic log: ")] == [
        f"diagnostic log: {line}" for line in lines
    ]
    assert firewall.plan.body == {"properties": {"publicNetworkAccess": "Enabled"}}


def test_the_workspaces_identities_reach_the_evidence_through_the_service(twin: Twin) -> None:
    # The pipeline passes the identities of the workspace proving the group (test_trust_boundary.py).
    lines = service_evidence(twin)(COSMOS["id"], COSMOS["type"], frozenset({WORKSPACE_PRINCIPAL}))
    [principal] = [line for line in lines if "AadPrincipalId" in line]
    assert isinstance(principal, ConfirmingDenial) and "the workspace's identity" in principal


def test_lines_that_do_not_confirm_are_shown_as_evidence_and_leave_the_lock_suspected() -> None:
    line = "CDBDataPlaneRequests: 3 requests refused 403, ...; not the workspace's traffic, listed only"
    result = classify(COSMOS, ScopeRules(), access_denials=[line])
    (firewall,) = [f for f in result.findings if f.kind == BreakageKind.MANAGED_RG_FIREWALL_LOCKED]
    assert firewall.confidence == Confidence.SUSPECTED
    assert f"diagnostic log: {line}" in firewall.evidence
    # A confirming line that lost its type (copied as plain text) confirms nothing either.
    plain = str(ConfirmingDenial("CDBDataPlaneRequests: the workspace's traffic"))
    assert not isinstance(plain, ConfirmingDenial)


def test_settings_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="workspace"):
        LogEvidence(" ", credential(None))
    with pytest.raises(ValueError, match="lookback_minutes"):
        LogEvidence(WORKSPACE, credential(None), lookback_minutes=0)
    with pytest.raises(ValueError, match="timeout_seconds"):
        LogEvidence(WORKSPACE, credential(None), timeout_seconds=0)


@pytest.mark.parametrize(
    "resource_type",
    ["Microsoft.DocumentDB/databaseAccounts", "Microsoft.Search/searchServices", "Microsoft.Storage/storageAccounts"],
)
def test_the_alert_query_looks_for_the_refusals_the_evidence_reads(resource_type: str) -> None:
    # An alert names a resource, then the evidence is asked about it: both must read the same rows.
    resource_id = f"/subscriptions/s/resourceGroups/azureml-rg-ws_1/providers/{resource_type}/r"
    evidence = denial_query(resource_id, resource_type, 60)
    alert = alert_query(resource_type)
    assert evidence is not None and alert is not None
    assert alert[0] == evidence[0]
    assert evidence[1].splitlines()[-1] in alert[1].splitlines()
    assert alert[1].splitlines()[-1] == "| summarize Refused = count() by _ResourceId"
    assert "ago(" not in alert[1]  # the alert rule's window decides how far back


@pytest.mark.parametrize(
    "resource_type",
    ["Microsoft.DocumentDB/databaseAccounts", "Microsoft.Search/searchServices", "Microsoft.Storage/storageAccounts"],
)
def test_the_alert_query_names_only_published_columns(twin: Twin, resource_type: str) -> None:
    """The alert rule's filter runs on the twin, which refuses any column Microsoft does not publish
    (the twin's KQL has no ``summarize``: the last stage, counting per _ResourceId, is left off)."""
    alert = alert_query(resource_type)
    assert alert is not None
    table, kql = alert
    where = "\n".join(kql.splitlines()[:-1])
    answer = twin.call("POST", f"/v1/workspaces/{WORKSPACE}/query", {"query": where}, api_version=None)
    assert answer.status == 200, answer.json()
    assert answer.json()["tables"][0]["rows"], f"the {table} alert finds the seeded refusals"


def test_no_alert_for_a_type_without_diagnostic_logs() -> None:
    assert alert_query("Microsoft.CognitiveServices/accounts") is None
