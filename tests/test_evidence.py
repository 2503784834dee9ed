"""Log evidence on the local twin: the real LogsQueryClient, HTTPS, a managed-identity token, seeded rows.

Each signature is seeded with rows that must count (the resource's refusals inside the lookback)
and rows that must not (other resources, older rows, successes, 403s that are quotas rather than
refusals), and the returned denials are asserted exactly.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.twin import Twin
from remediators.arm import credential
from remediators.classify import classify
from remediators.evidence import _COSMOS_NOT_REFUSALS, Denial, LogEvidence, alert_query, denial_query, summarise
from remediators.findings import BreakageKind, Confidence
from remediators.scope import ScopeRules
from tests.payloads import COSMOS_GET, MANAGED_RG, SEARCH_GET, STORAGE_GET, example, in_group, with_properties

WORKSPACE = "5f0b3c2a-1111-4a4a-9b9b-00000000e71d"
COSMOS = with_properties(in_group(example(COSMOS_GET), MANAGED_RG), publicNetworkAccess="Disabled")
COSMOS_ID = COSMOS["id"]
COSMOS_TYPE = "Microsoft.DocumentDB/databaseAccounts"
SEARCH_ID = in_group(example(SEARCH_GET), MANAGED_RG)["id"]
SEARCH_TYPE = "Microsoft.Search/searchServices"
STORAGE_ID = example(STORAGE_GET)["id"]  # Microsoft's own "{subscription-id}" placeholder, braces and all
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"
STORM_ID = COSMOS_ID.replace("/ddb1", "/storm-ddb")
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cosmos_row(
    minutes_ago: float, status: int, substatus: int, token: str = "PrimaryMasterKey", **row: Any
) -> dict[str, Any]:
    # Log Analytics writes _ResourceId in lower case.
    return {
        "TimeGenerated": at(minutes_ago),
        "_ResourceId": row.pop("resource", COSMOS_ID).lower(),
        "OperationName": "Query",
        "StatusCode": status,
        "SubStatusCode": substatus,
        "AuthTokenType": token,
        **row,
    }


COSMOS_ROWS = [
    cosmos_row(1, 401, 5202),
    cosmos_row(5, 401, 5202),
    cosmos_row(20, 401, 5202),
    cosmos_row(2, 403, 0),  # the firewall's 403 carries no substatus
    cosmos_row(3, 403, 0),
    cosmos_row(4, 403, 1014),  # partition key full: a quota, not a refusal
    cosmos_row(6, 401, 5202, token="AadToken", resource=COSMOS_ID.replace("/ddb1", "/ordinary-ddb")),
    cosmos_row(120, 401, 5202),  # before the lookback
    cosmos_row(1, 200, 0),
    cosmos_row(2, 404, 0),
]
SEARCH_ROWS = [
    # AzureDiagnostics upper-cases ResourceId; ResultSignature arrives as a number or as text.
    {
        "TimeGenerated": at(1),
        "ResourceId": SEARCH_ID.upper(),
        "Category": "OperationLogs",
        "OperationName": "Query.Search",
        "ResultSignature": 403,
    },
    {
        "TimeGenerated": at(7),
        "ResourceId": SEARCH_ID.upper(),
        "Category": "OperationLogs",
        "OperationName": "Query.Search",
        "ResultSignature": "403",
    },
    {
        "TimeGenerated": at(8),
        "ResourceId": SEARCH_ID.upper(),
        "Category": "OperationLogs",
        "OperationName": "Indexes.Get",
        "ResultSignature": 401,
    },
    {
        "TimeGenerated": at(1),
        "ResourceId": SEARCH_ID.upper(),
        "Category": "OperationLogs",
        "OperationName": "Query.Search",
        "ResultSignature": 200,
    },
    {
        "TimeGenerated": at(2),
        "ResourceId": SEARCH_ID.upper(),
        "Category": "AuditEvent",  # not the search service's category
        "OperationName": "Query.Search",
        "ResultSignature": 403,
    },
    {
        "TimeGenerated": at(2),
        "ResourceId": SEARCH_ID.upper().replace("MYSEARCHSERVICE", "OTHERSEARCH"),
        "Category": "OperationLogs",
        "OperationName": "Query.Search",
        "ResultSignature": 403,
    },
    {
        "TimeGenerated": at(90),
        "ResourceId": SEARCH_ID.upper(),
        "Category": "OperationLogs",
        "OperationName": "Query.Search",
        "ResultSignature": 403,
    },
]


def storage_row(minutes_ago: float, status: str, text: str, resource: str, auth: str = "AccountKey") -> dict[str, Any]:
    return {
        "TimeGenerated": at(minutes_ago),
        "_ResourceId": resource.lower(),
        "OperationName": "GetBlob",
        "StatusCode": status,  # a string column: it can read "Unknown"
        "StatusText": text,
        "AuthenticationType": auth,
    }


BLOB_SERVICE = f"{STORAGE_ID}/blobServices/default"
STORAGE_ROWS = [
    storage_row(1, "403", "KeyBasedAuthenticationNotPermitted", BLOB_SERVICE),
    storage_row(9, "403", "KeyBasedAuthenticationNotPermitted", BLOB_SERVICE),
    storage_row(3, "403", "AuthorizationFailure", STORAGE_ID),
    storage_row(1, "200", "Success", BLOB_SERVICE),
    storage_row(1, "404", "BlobNotFound", BLOB_SERVICE),
    storage_row(1, "Unknown", "ClientOtherError", BLOB_SERVICE),
    storage_row(1, "403", "KeyBasedAuthenticationNotPermitted", BLOB_SERVICE.replace("sto8596", "sto0000")),
    storage_row(300, "403", "KeyBasedAuthenticationNotPermitted", BLOB_SERVICE),
]
# A storm: 10,000 refusals from two credentials.
STORM_ROWS = [
    cosmos_row(
        minute % 50, 401, 5202, token="PrimaryMasterKey" if minute % 4 else "SecondaryMasterKey", resource=STORM_ID
    )
    for minute in range(10_000)
]


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin.start() as running, pytest.MonkeyPatch.context() as patch:
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


def test_cosmos_local_auth_and_firewall_refusals_are_summarised(evidence: LogEvidence) -> None:
    assert evidence.denials(COSMOS_ID, COSMOS_TYPE) == [
        Denial(
            "CDBDataPlaneRequests",
            401,
            "SubStatusCode 5202 (local auth disabled), AuthTokenType PrimaryMasterKey",
            3,
            at(1),
        ),
        Denial(
            "CDBDataPlaneRequests",
            403,
            "SubStatusCode 0 (firewall or network rules), AuthTokenType PrimaryMasterKey",
            2,
            at(2),
        ),
    ]
    assert evidence.last_error is None


def test_describe_is_one_line_for_findings_and_notifications(evidence: LogEvidence) -> None:
    first, _ = evidence.denials(COSMOS_ID, COSMOS_TYPE)
    assert first.describe() == (
        "CDBDataPlaneRequests: 3 requests refused 401, SubStatusCode 5202 (local auth disabled), "
        f"AuthTokenType PrimaryMasterKey; last seen {at(1)}"
    )
    assert Denial("StorageBlobLogs", 403, "no StatusText", 1, None).describe() == (
        "StorageBlobLogs: 1 request refused 403, no StatusText; last seen unknown"
    )


def test_search_operation_log_refusals_match_the_upper_cased_resource_id(evidence: LogEvidence) -> None:
    assert evidence.denials(SEARCH_ID, SEARCH_TYPE) == [
        Denial("AzureDiagnostics", 403, "OperationName Query.Search", 2, at(1)),
        Denial("AzureDiagnostics", 401, "OperationName Indexes.Get", 1, at(8)),
    ]


def test_storage_refusals_of_the_account_and_its_blob_service(evidence: LogEvidence) -> None:
    assert evidence.denials(STORAGE_ID, STORAGE_TYPE) == [
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText KeyBasedAuthenticationNotPermitted (shared key access disallowed), "
            "AuthenticationType AccountKey",
            2,
            at(1),
        ),
        Denial(
            "StorageBlobLogs",
            403,
            "StatusText AuthorizationFailure (not authorized: firewall or network rules), "
            "AuthenticationType AccountKey",
            1,
            at(3),
        ),
    ]


def test_the_lookback_bounds_the_rows(twin: Twin) -> None:
    recent = LogEvidence(
        WORKSPACE, credential(None), endpoint=f"{twin.arm}/v1", connection_verify=twin.ca_path, lookback_minutes=4
    )
    assert [(d.status, d.count) for d in recent.denials(COSMOS_ID, COSMOS_TYPE)] == [(403, 2), (401, 1)]
    assert recent.denials(STORAGE_ID, STORAGE_TYPE)[0].count == 1


def test_a_storm_of_ten_thousand_rows_becomes_two_lines(evidence: LogEvidence) -> None:
    denials = evidence.denials(STORM_ID, COSMOS_TYPE)
    assert [(d.detail, d.count) for d in denials] == [
        ("SubStatusCode 5202 (local auth disabled), AuthTokenType PrimaryMasterKey", 7_500),
        ("SubStatusCode 5202 (local auth disabled), AuthTokenType SecondaryMasterKey", 2_500),
    ]


def test_types_without_a_signature_ask_nothing(twin: Twin, evidence: LogEvidence) -> None:
    twin.clear_requests()
    account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
    assert evidence.denials(account, "Microsoft.CognitiveServices/accounts") == []
    assert denial_query(account, "Microsoft.CognitiveServices/accounts", 60) is None
    assert evidence.last_error is None and twin.requests() == []


def test_the_queries_name_the_resource_the_refusals_and_the_window() -> None:
    assert denial_query(COSMOS_ID, COSMOS_TYPE.lower(), 60) == (
        "CDBDataPlaneRequests",
        "CDBDataPlaneRequests\n"
        "| where TimeGenerated >= ago(60m)\n"
        f'| where _ResourceId =~ "{COSMOS_ID}"\n'
        '| where tostring(StatusCode) in ("401", "403")',
    )
    assert denial_query(SEARCH_ID, SEARCH_TYPE, 15) == (
        "AzureDiagnostics",
        "AzureDiagnostics\n"
        "| where TimeGenerated >= ago(15m)\n"
        f'| where ResourceId =~ "{SEARCH_ID}"\n'
        '| where Category == "OperationLogs" and tostring(ResultSignature) in ("401", "403")',
    )
    assert denial_query(STORAGE_ID, STORAGE_TYPE, 60) == (
        "StorageBlobLogs",
        "StorageBlobLogs\n"
        "| where TimeGenerated >= ago(60m)\n"
        f'| where _ResourceId in~ ("{STORAGE_ID}", "{STORAGE_ID}/blobServices/default")\n'
        '| where tostring(StatusCode) in ("401", "403")',
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
    twin.add_log_rows("CDBDataPlaneRequests", [cosmos_row(1, 401, 5202, resource=hostile)])
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
    twin.add_fault({**fault, "resourceId": f"/v1/workspaces/{WORKSPACE}/query"})
    started = time.monotonic()
    assert evidence.denials(COSMOS_ID, COSMOS_TYPE) == []
    assert time.monotonic() - started < 5
    assert evidence.last_error is not None
    assert evidence.last_error.startswith("CDBDataPlaneRequests query failed: HttpResponseError") and named in (
        evidence.last_error
    )
    twin.clear_faults()
    assert len(evidence.denials(COSMOS_ID, COSMOS_TYPE)) == 2
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
        {"StatusCode": "401", "SubStatusCode": "5202", "AuthTokenType": "PrimaryMasterKey", "TimeGenerated": at(2)},
        {"StatusCode": 401.0, "SubStatusCode": 5202, "AuthTokenType": "PrimaryMasterKey", "TimeGenerated": at(1)},
        {"StatusCode": 403, "SubStatusCode": None, "AuthTokenType": None, "TimeGenerated": None},
        {"StatusCode": "Unknown", "SubStatusCode": 0},
        {"StatusCode": 403, "SubStatusCode": 3},  # a write forbidden during failover
    ]
    assert summarise(COSMOS_TYPE, rows) == [
        Denial(
            "CDBDataPlaneRequests",
            401,
            "SubStatusCode 5202 (local auth disabled), AuthTokenType PrimaryMasterKey",
            2,
            at(1),
        ),
        Denial("CDBDataPlaneRequests", 403, "no SubStatusCode", 1, None),
    ]


def test_evidence_turns_a_suspected_cosmos_firewall_lock_into_a_confirmed_one(evidence: LogEvidence) -> None:
    without = classify(COSMOS, ScopeRules())
    (firewall,) = [f for f in without.findings if f.kind == BreakageKind.MANAGED_RG_FIREWALL_LOCKED]
    assert (firewall.property, firewall.confidence) == ("properties.publicNetworkAccess", Confidence.SUSPECTED)

    denials = evidence.denials(COSMOS["id"], COSMOS["type"])
    confirmed = classify(COSMOS, ScopeRules(), access_denials=[d.describe() for d in denials])
    (firewall,) = [f for f in confirmed.findings if f.kind == BreakageKind.MANAGED_RG_FIREWALL_LOCKED]
    assert firewall.confidence == Confidence.CONFIRMED
    assert "diagnostic logs show refused requests" in firewall.why
    assert f"diagnostic log: {denials[1].describe()}" in firewall.evidence
    assert firewall.plan.body == {"properties": {"publicNetworkAccess": "Enabled"}}


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
def test_the_alert_query_looks_for_the_refusals_the_evidence_confirms(resource_type: str) -> None:
    # An alert names a resource, then the evidence is asked about it: both must read the same rows.
    resource_id = f"/subscriptions/s/resourceGroups/azureml-rg-ws_1/providers/{resource_type}/r"
    evidence = denial_query(resource_id, resource_type, 60)
    alert = alert_query(resource_type)
    assert evidence is not None and alert is not None
    assert alert[0] == evidence[0]
    status_stage = evidence[1].splitlines()[-1].removeprefix("| where ")
    if "Category" not in status_stage:  # Search: the category and status share a stage
        assert f"| where {status_stage}" in alert[1].splitlines()
    else:
        assert any(status_stage in line for line in alert[1].splitlines())
    assert alert[1].splitlines()[-1] == "| summarize Refused = count() by _ResourceId"
    assert "ago(" not in alert[1]  # the alert rule's window decides how far back


def test_the_cosmos_alert_leaves_out_the_403s_that_are_not_refusals() -> None:
    alert = alert_query("Microsoft.DocumentDB/databaseAccounts")
    assert alert is not None
    listed = alert[1].split("toint(SubStatusCode) in (")[1].split(")")[0]
    assert {int(code) for code in listed.split(",")} == set(_COSMOS_NOT_REFUSALS)


def test_no_alert_for_a_type_without_diagnostic_logs() -> None:
    assert alert_query("Microsoft.CognitiveServices/accounts") is None
