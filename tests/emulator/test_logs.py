"""Log Analytics' query API over seeded rows, over raw HTTPS (the product's client: tests/test_evidence.py).

Every table is held to Microsoft's published schema (``emulator/log_schemas``): a query naming a
column Microsoft does not publish fails as the service fails it, whatever rows are seeded, and rows
naming such a column are refused before they are stored.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import Twin, TwinClock
from emulator.logs import SCHEMA_DIR, SCHEMAS

from .seeds import COSMOS, SEARCH, STORAGE

WORKSPACE = "/v1/workspaces/5f0b3c2a-1111-4a4a-9b9b-000000000001/query"
# The twin's clock stands still here: "5 minutes ago" stays 5 minutes ago however slowly the suite runs.
NOW = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
ROWS = {
    "CDBDataPlaneRequests": [
        {
            "TimeGenerated": "ago(5m)",
            "_ResourceId": COSMOS,
            "OperationName": "ReadFeed",
            "StatusCode": 401,
            "AuthTokenType": "PrimaryMasterKey",
        },
        {
            "TimeGenerated": "ago(10m)",
            "_ResourceId": COSMOS,
            "OperationName": "ReadFeed",
            "StatusCode": 200,
            "KeyType": "PrimaryReadOnlyMasterKey",
        },
        {
            "TimeGenerated": "ago(2h)",
            "_ResourceId": COSMOS,
            "OperationName": "ReadFeed",
            "StatusCode": 401,
            "AuthTokenType": "PrimaryMasterKey",
        },
    ],
    "StorageBlobLogs": [
        {
            "TimeGenerated": "ago(1m)",
            "_ResourceId": STORAGE,
            "StatusCode": "403",
            "StatusText": "KeyBasedAuthenticationNotPermitted",
            "AuthenticationType": "AccountKey",
            "AuthorizationDetails": [
                {"action": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"}
            ],
            "DurationMs": 1.5,
            "OperationCount": 0,
        }
    ],
}


@pytest.fixture
def twin(seed_dir: Path) -> Iterator[Twin]:
    (seed_dir / "_twin.json").write_text(json.dumps({"logs": ROWS}), encoding="utf-8")
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as running:
        yield running


def _query(twin: Twin, query: str, timespan: str | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"query": query}
    if timespan is not None:
        body["timespan"] = timespan
    answer = twin.call("POST", WORKSPACE, body, api_version=None)
    return answer.status, answer.json()


def _records(result: Any) -> list[dict[str, Any]]:
    (table,) = result["tables"]
    names = [column["name"] for column in table["columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["rows"]]


def _schema(table: str) -> list[dict[str, str]]:
    document = json.loads((SCHEMA_DIR / f"{table}.json").read_text(encoding="utf-8"))
    return [{"name": column["name"], "type": column["type"]} for column in document["columns"]]


def test_every_schema_is_microsofts_list_with_its_source() -> None:
    assert set(SCHEMAS) == {"AzureDiagnostics", "CDBDataPlaneRequests", "StorageBlobLogs"}
    kinds = {"bool", "datetime", "dynamic", "guid", "int", "long", "real", "string"}
    for path in SCHEMA_DIR.glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert path.stem == document["table"]
        source = document["source"]
        assert source["repository"] == "MicrosoftDocs/azure-reference-other", path
        assert source["path"] == f"azure-monitor-ref/tables/{document['table'].lower()}.md", path
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), path
        names = [column["name"] for column in document["columns"]]
        assert len(names) == len(set(names)), path
        assert {"TimeGenerated", "_ResourceId"} <= set(names), path
        assert {column["type"] for column in document["columns"]} <= kinds, path
        for column in document["columns"]:  # columns from another page say which
            if "source" in column:
                assert re.fullmatch(r"[0-9a-f]{40}", column["source"]["commit"]), column["name"]


def test_the_evidence_columns_are_published_with_their_types() -> None:
    assert "SubStatusCode" not in SCHEMAS["CDBDataPlaneRequests"].columns
    assert SCHEMAS["CDBDataPlaneRequests"].columns["StatusCode"] == "int"
    assert SCHEMAS["StorageBlobLogs"].columns["StatusCode"] == "string"
    assert SCHEMAS["AzureDiagnostics"].columns["resultSignature_d"] == "real"
    assert "ResourceId" not in SCHEMAS["AzureDiagnostics"].columns  # _ResourceId is the published one


def test_where_clauses_select_rows_in_the_services_shape(twin: Twin) -> None:
    status, result = _query(
        twin, 'CDBDataPlaneRequests | where StatusCode == 401 and AuthTokenType =~ "primarymasterkey"'
    )
    assert status == 200
    (table,) = result["tables"]
    assert table["name"] == "PrimaryResult"
    assert table["columns"] == _schema("CDBDataPlaneRequests")  # every published column, typed by the schema
    records = _records(result)
    assert [(r["StatusCode"], r["AuthTokenType"]) for r in records] == [(401, "PrimaryMasterKey")] * 2
    assert records[0]["AadPrincipalId"] is None  # a column the row leaves out reads null


def test_timespan_filters_on_time_generated(twin: Twin) -> None:
    _, result = _query(twin, "CDBDataPlaneRequests | where StatusCode >= 400 and StatusCode <= 499", timespan="PT1H")
    assert len(result["tables"][0]["rows"]) == 1
    _, everything = _query(twin, "CDBDataPlaneRequests", timespan="P1D")
    assert len(everything["tables"][0]["rows"]) == 3


def test_ago_compares_time_generated_with_now_minus_a_timespan(twin: Twin) -> None:
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated >= ago(60m)")
    assert len(result["tables"][0]["rows"]) == 2  # 5 and 10 minutes ago, not 2 hours ago
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated <= ago(1h) and TimeGenerated >= ago(1d)")
    assert [r["StatusCode"] for r in _records(result)] == [401]
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated >= ago(7m) and TimeGenerated >= ago(240s)")
    assert result["tables"][0]["rows"] == []


def test_relative_times_are_fixed_on_the_twins_clock_and_age_only_as_it_moves(twin: Twin) -> None:
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated >= ago(6m)")
    assert [r["TimeGenerated"] for r in _records(result)] == ["2026-03-02T09:25:00.000000Z"]  # ago(5m), as loaded
    twin.clock.advance(120)
    _, result = _query(twin, "CDBDataPlaneRequests | where TimeGenerated >= ago(6m)")
    assert result["tables"][0]["rows"] == []  # now 7 minutes old
    _, result = _query(twin, "CDBDataPlaneRequests", timespan="PT6M")
    assert result["tables"][0]["rows"] == []  # the timespan ends at the twin's now too
    _, result = _query(twin, "CDBDataPlaneRequests", timespan="PT8M")
    assert len(result["tables"][0]["rows"]) == 1
    twin.add_log_rows("CDBDataPlaneRequests", [{"TimeGenerated": "ago(1m)", "StatusCode": 403}])
    _, result = _query(twin, "CDBDataPlaneRequests | where StatusCode == 403")
    assert [r["TimeGenerated"] for r in _records(result)] == ["2026-03-02T09:31:00.000000Z"]  # loaded at 09:32


def test_tostring_compares_a_columns_text_whatever_its_type(twin: Twin) -> None:
    _, result = _query(twin, 'CDBDataPlaneRequests | where tostring(StatusCode) in ("401", "403")', timespan="PT1H")
    assert [r["StatusCode"] for r in _records(result)] == [401]  # an int column read as text
    _, result = _query(twin, 'StorageBlobLogs | where tostring(StatusCode) == "403"')
    assert [r["StatusCode"] for r in _records(result)] == ["403"]


def test_comparisons_follow_each_columns_published_type(twin: Twin) -> None:
    _, result = _query(twin, 'StorageBlobLogs | where StatusCode in ("401", "403")')
    assert len(result["tables"][0]["rows"]) == 1  # StorageBlobLogs' StatusCode is text
    for query, named in [
        ("StorageBlobLogs | where StatusCode in (401, 403)", "string and long"),
        ('CDBDataPlaneRequests | where StatusCode == "401"', "int and string"),
        ('CDBDataPlaneRequests | where StatusCode =~ "401"', "'=~' compares strings"),
        ("CDBDataPlaneRequests | where AuthTokenType == 1", "string and long"),
    ]:
        status, result = _query(twin, query)
        assert status == 400 and result["error"]["innererror"]["code"] == "SemanticError", query
        assert named in result["error"]["innererror"]["innererror"]["message"], query


def test_in_tilde_is_a_list_ignoring_case(twin: Twin) -> None:
    _, result = _query(twin, f'CDBDataPlaneRequests | where _ResourceId in~ ("/nope", "{COSMOS.upper()}")')
    assert len(result["tables"][0]["rows"]) == 3
    _, result = _query(twin, f'CDBDataPlaneRequests | where _ResourceId in ("/nope", "{COSMOS.upper()}")')
    assert result["tables"][0]["rows"] == []  # in is case-sensitive


def test_typed_columns_and_dynamic_values_as_json_text(twin: Twin) -> None:
    twin.add_log_rows(
        "AzureDiagnostics", [{"TimeGenerated": "ago(1m)", "isAccessPolicyMatch_b": True, "DurationMs": 7}]
    )
    _, result = _query(twin, 'StorageBlobLogs | where StatusText == "KeyBasedAuthenticationNotPermitted"')
    types = {column["name"]: column["type"] for column in result["tables"][0]["columns"]}
    assert (types["AuthorizationDetails"], types["DurationMs"], types["OperationCount"]) == ("dynamic", "real", "int")
    [row] = _records(result)
    assert row["AuthorizationDetails"] == (
        '[{"action":"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"}]'
    )
    _, none = _query(twin, 'StorageBlobLogs | where StatusText == "keybasedauthenticationnotpermitted"')
    assert none["tables"][0]["rows"] == []  # == is case-sensitive in KQL
    _, result = _query(twin, "AzureDiagnostics | where isAccessPolicyMatch_b == true")
    [row] = _records(result)
    assert (row["isAccessPolicyMatch_b"], row["DurationMs"]) == (True, 7)


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


def test_unknown_tables_are_semantic_errors(twin: Twin) -> None:
    status, result = _query(twin, "AzureDiagnostics | where Category == 'OperationLogs'")
    assert status == 400 and result["error"]["innererror"]["code"] == "SemanticError"
    assert "'AzureDiagnostics'" in result["error"]["innererror"]["innererror"]["message"]  # no rows sent yet


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ("CDBDataPlaneRequests | where StatusCode == 401 and SubStatusCode == 5202", "SubStatusCode"),
        ('StorageBlobLogs | where Nope == "1"', "Nope"),
        (f'AzureDiagnostics | where ResourceId =~ "{SEARCH.upper()}"', "ResourceId"),
    ],
)
def test_a_query_naming_an_unpublished_column_fails_whatever_is_seeded(twin: Twin, query: str, column: str) -> None:
    twin.add_log_rows("AzureDiagnostics", [{"TimeGenerated": "ago(1m)", "_ResourceId": SEARCH.lower()}])
    status, result = _query(twin, query)
    assert status == 400 and result["error"]["innererror"]["code"] == "SemanticError"
    assert f"'{column}'" in result["error"]["innererror"]["innererror"]["message"]


@pytest.mark.parametrize(
    ("table", "row", "named"),
    [
        ("CDBDataPlaneRequests", {"StatusCode": 401, "SubStatusCode": 5202}, "SubStatusCode not in Microsoft's"),
        ("CDBDataPlaneRequests", {"StatusCode": "401"}, "StatusCode is int, got '401'"),
        ("StorageBlobLogs", {"StatusCode": 403}, "StatusCode is string, got 403"),
        ("AzureDiagnostics", {"ResourceId": SEARCH}, "ResourceId not in Microsoft's"),
        ("AzureDiagnostics", {"TimeGenerated": "yesterday"}, "TimeGenerated is datetime"),
        ("CDBDataPlaneRequestz", {"StatusCode": 401}, "no published schema for table 'CDBDataPlaneRequestz'"),
    ],
)
def test_rows_outside_the_schema_are_refused_before_anything_is_stored(
    twin: Twin, table: str, row: dict[str, Any], named: str
) -> None:
    before = twin.call("GET", "/_twin/logs", api_version=None).json()
    good = {"TimeGenerated": "ago(1m)"}
    with pytest.raises(ValueError, match=re.escape(named)):
        twin.add_log_rows(table, [good, {"TimeGenerated": "ago(1m)", **row}])
    refused = twin.call("POST", f"/_twin/logs/{table}", [good, row], api_version=None)
    assert refused.status == 400 and named in refused.json()["error"]["message"]
    assert twin.call("GET", "/_twin/logs", api_version=None).json() == before  # all or none


def test_rows_can_be_added_while_running_and_queries_need_a_token(twin: Twin) -> None:
    added = twin.call(
        "POST",
        "/_twin/logs/AzureDiagnostics",
        [{"Category": "OperationLogs", "resultSignature_d": 403}],
        api_version=None,
    )
    assert added.status == 201
    _, result = _query(twin, 'AzureDiagnostics | where Category == "OperationLogs" and resultSignature_d == 403')
    [row] = _records(result)
    assert (row["Category"], row["resultSignature_d"]) == ("OperationLogs", 403.0)  # a real column
    anonymous = twin.call(
        "POST", WORKSPACE, {"query": "AzureDiagnostics"}, api_version=None, headers={"Authorization": "Basic eDp5"}
    )
    assert anonymous.status == 401
