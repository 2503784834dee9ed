"""Log Analytics' query API over seeded rows, over raw HTTPS (the product's client: tests/test_evidence.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import Twin

from .seeds import COSMOS, STORAGE

WORKSPACE = "/v1/workspaces/5f0b3c2a-1111-4a4a-9b9b-000000000001/query"
ROWS = {
    "CDBDataPlaneRequests": [
        {
            "TimeGenerated": "ago(5m)",
            "_ResourceId": COSMOS,
            "StatusCode": 401,
            "SubStatusCode": 5202,
            "AuthTokenType": "PrimaryMasterKey",
        },
        {
            "TimeGenerated": "ago(10m)",
            "_ResourceId": COSMOS,
            "StatusCode": 200,
            "SubStatusCode": 0,
            "AuthTokenType": "AadToken",
        },
        {
            "TimeGenerated": "ago(2h)",
            "_ResourceId": COSMOS,
            "StatusCode": 401,
            "SubStatusCode": 5202,
            "AuthTokenType": "PrimaryMasterKey",
        },
    ],
    "StorageBlobLogs": [
        {
            "TimeGenerated": "ago(1m)",
            "_ResourceId": STORAGE,
            "StatusCode": 403,
            "StatusText": "KeyBasedAuthenticationNotPermitted",
            "AuthenticationType": "AccountKey",
            "Properties": {"tls": "1.2"},
            "DurationMs": 1.5,
            "Anonymous": False,
        }
    ],
}


@pytest.fixture
def twin(seed_dir: Path) -> Iterator[Twin]:
    (seed_dir / "_twin.json").write_text(json.dumps({"logs": ROWS}), encoding="utf-8")
    with Twin.start(seed_dir) as running:
        yield running


def _query(twin: Twin, query: str, timespan: str | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"query": query}
    if timespan is not None:
        body["timespan"] = timespan
    answer = twin.call("POST", WORKSPACE, body, api_version=None)
    return answer.status, answer.json()


def test_where_clauses_select_rows_in_the_services_shape(twin: Twin) -> None:
    status, result = _query(
        twin,
        "CDBDataPlaneRequests | where StatusCode == 401 and SubStatusCode in (5202, 5203)"
        ' | where AuthTokenType =~ "primarymasterkey"',
    )
    assert status == 200
    (table,) = result["tables"]
    assert table["name"] == "PrimaryResult"
    assert table["columns"] == [
        {"name": "TimeGenerated", "type": "datetime"},
        {"name": "_ResourceId", "type": "string"},
        {"name": "StatusCode", "type": "int"},
        {"name": "SubStatusCode", "type": "int"},
        {"name": "AuthTokenType", "type": "string"},
    ]
    assert [row[2:] for row in table["rows"]] == [[401, 5202, "PrimaryMasterKey"]] * 2


def test_timespan_filters_on_time_generated(twin: Twin) -> None:
    _, result = _query(twin, "CDBDataPlaneRequests | where StatusCode >= 400 and StatusCode <= 499", timespan="PT1H")
    assert len(result["tables"][0]["rows"]) == 1
    _, everything = _query(twin, "CDBDataPlaneRequests", timespan="P1D")
    assert len(everything["tables"][0]["rows"]) == 3


def test_ago_compares_time_generated_with_now_minus_a_timespan(twin: Twin) -> None:
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated >= ago(60m)")
    assert len(result["tables"][0]["rows"]) == 2  # 5 and 10 minutes ago, not 2 hours ago
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated <= ago(1h) and TimeGenerated >= ago(1d)")
    assert [row[2] for row in result["tables"][0]["rows"]] == [401]
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated >= ago(7m) and TimeGenerated >= ago(240s)")
    assert result["tables"][0]["rows"] == []


def test_tostring_compares_a_columns_text_whatever_its_type(twin: Twin) -> None:
    twin.add_log_rows("CDBDataPlaneRequests", [{"TimeGenerated": "ago(1m)", "StatusCode": "403", "SubStatusCode": 0}])
    _, result = _query(twin, 'CDBDataPlaneRequests | where tostring(StatusCode) in ("401", "403")', timespan="PT1H")
    statuses = [row[2] for row in result["tables"][0]["rows"]]
    assert statuses == [401, "403"]  # an int column and a text one both read as text
    _, result = _query(twin, 'CDBDataPlaneRequests | where tostring(SubStatusCode) == "5202"', timespan="P1D")
    assert len(result["tables"][0]["rows"]) == 2


def test_in_tilde_is_a_list_ignoring_case(twin: Twin) -> None:
    _, result = _query(twin, f'CDBDataPlaneRequests | where _ResourceId in~ ("/nope", "{COSMOS.upper()}")')
    assert len(result["tables"][0]["rows"]) == 3
    _, result = _query(twin, f'CDBDataPlaneRequests | where _ResourceId in ("/nope", "{COSMOS.upper()}")')
    assert result["tables"][0]["rows"] == []  # in is case-sensitive


def test_typed_columns_and_dynamic_values_as_json_text(twin: Twin) -> None:
    _, result = _query(twin, 'StorageBlobLogs | where StatusText == "KeyBasedAuthenticationNotPermitted"')
    table = result["tables"][0]
    types = {column["name"]: column["type"] for column in table["columns"]}
    assert (types["Properties"], types["DurationMs"], types["Anonymous"]) == ("dynamic", "real", "bool")
    row = dict(zip((column["name"] for column in table["columns"]), table["rows"][0], strict=True))
    assert row["Properties"] == '{"tls":"1.2"}'
    _, none = _query(twin, 'StorageBlobLogs | where StatusText == "keybasedauthenticationnotpermitted"')
    assert none["tables"][0]["rows"] == []  # == is case-sensitive in KQL


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("CDBDataPlaneRequests | project StatusCode", "'project'"),
        ("CDBDataPlaneRequests | where StatusCode != 200", "'!='"),
        ("CDBDataPlaneRequests | where StatusCode == 401 or StatusCode == 403", "'or'"),
        ("CDBDataPlaneRequests | where StatusCode > 400", "'>'"),
        ("CDBDataPlaneRequests | where TimeGenerated >= now()", "'now'"),
        ("CDBDataPlaneRequests | where TimeGenerated == ago(1h)", "'TimeGenerated =='"),
        ("CDBDataPlaneRequests | where TimeGenerated >= ago(1w)", "got '1w'"),
        ("CDBDataPlaneRequests | where DurationMs >= 1s", "'1s'"),
        ('CDBDataPlaneRequests | where StatusCode >= "400"', "needs a number"),
        ("CDBDataPlaneRequests | where toint(StatusCode) == 401", "'toint'"),
        ("CDBDataPlaneRequests | where tostring(StatusCode) >= 400", "needs a number column"),
        ('CDBDataPlaneRequests | where tostring(StatusCode == "401"', "')'"),
        ("CDBDataPlaneRequests | where AuthTokenType in~ (PrimaryMasterKey)", "'PrimaryMasterKey'"),
        ('CDBDataPlaneRequests | where AuthTokenType !in~ ("x")', "'!in~'"),
    ],
)
def test_queries_outside_the_subset_are_refused_naming_the_part(twin: Twin, query: str, named: str) -> None:
    status, result = _query(twin, query)
    assert status == 400
    assert result["error"]["code"] == "BadArgumentError"
    assert result["error"]["innererror"]["code"] == "SyntaxError"
    assert named in result["error"]["innererror"]["innererror"]["message"]


def test_unknown_tables_and_columns_are_semantic_errors(twin: Twin) -> None:
    status, result = _query(twin, "AzureDiagnostics | where Category == 'OperationLogs'")
    assert status == 400 and result["error"]["innererror"]["code"] == "SemanticError"
    assert "'AzureDiagnostics'" in result["error"]["innererror"]["innererror"]["message"]
    _, result = _query(twin, "StorageBlobLogs | where Nope == 1")
    assert "'Nope'" in result["error"]["innererror"]["innererror"]["message"]


def test_rows_can_be_added_while_running_and_queries_need_a_token(twin: Twin) -> None:
    added = twin.call(
        "POST",
        "/_twin/logs/AzureDiagnostics",
        [{"Category": "OperationLogs", "ResultSignature": 403}],
        api_version=None,
    )
    assert added.status == 201
    _, result = _query(twin, 'AzureDiagnostics | where Category == "OperationLogs" and ResultSignature == 403')
    assert result["tables"][0]["rows"] == [["OperationLogs", 403]]
    anonymous = twin.call(
        "POST", WORKSPACE, {"query": "AzureDiagnostics"}, api_version=None, headers={"Authorization": "Basic eDp5"}
    )
    assert anonymous.status == 401
