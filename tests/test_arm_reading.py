"""Reading ARM JSON and ids the way ARM writes them, oddities included."""

from __future__ import annotations

from typing import Any

import pytest

from remediators.arm_json import MISSING, as_bool, comma_separated, lookup, public_access_closed, replaced
from remediators.classify import NotAResource, classify
from remediators.resource_ids import InvalidResourceId, parse_resource_id
from remediators.scope import ScopeRules


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (1.0, True),
        ("true", True),
        ("False", False),
        (" TRUE ", True),
        ("1", True),
        ("0", False),
        (None, None),
        (2, None),
        ("yes", None),
        ([], None),
        ({}, None),
    ],
)
def test_as_bool(value: Any, expected: bool | None) -> None:
    assert as_bool(value) is expected


def test_lookup_is_case_insensitive_and_tells_absent_from_null() -> None:
    document = {"Properties": {"authOptions": None, "networkRuleSet": {"IPRules": [1]}}}
    assert lookup(document, "properties", "authOptions") is None
    assert lookup(document, "properties", "disableLocalAuth") is MISSING
    assert lookup(document, "properties", "networkRuleSet", "ipRules") == [1]
    assert lookup(document, "properties", "authOptions", "apiKeyOnly") is MISSING
    assert lookup({"a": 1, "A": 2}, "A") == 2  # the exact case wins


@pytest.mark.parametrize(
    ("value", "closed"),
    [
        ("Disabled", True),
        ("disabled", True),
        ("SecuredByPerimeter", True),
        ("Enabled", False),
        ("enabled", False),
        (None, False),
        ("", False),
        ("Unknown", False),
        (0, False),
    ],
)
def test_public_access_closed(value: Any, closed: bool) -> None:
    assert public_access_closed(value) is closed


def test_comma_separated_and_replaced() -> None:
    assert comma_separated("Logging, Metrics,AzureServices") == ["Logging", "Metrics", "AzureServices"]
    assert comma_separated(None) == []
    assert replaced({"Bypass": "None", "defaultAction": "Deny"}, "bypass", "AzureServices") == {
        "defaultAction": "Deny",
        "bypass": "AzureServices",
    }
    assert replaced(None, "ipRules", []) == {"ipRules": []}


@pytest.mark.parametrize(
    ("text", "group", "resource_type", "name"),
    [
        (
            "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Search/searchServices/s1",
            "rg1",
            "Microsoft.Search/searchServices",
            "s1",
        ),
        (
            "/subscriptions/{subscription-id}/resourcegroups/res9407/providers/Microsoft.Storage/storageAccounts/sto8596/",
            "res9407",
            "Microsoft.Storage/storageAccounts",
            "sto8596",
        ),
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/databaseAccounts/a/sqlDatabases/db",
            "rg",
            "Microsoft.DocumentDB/databaseAccounts/sqlDatabases",
            "db",
        ),
        (
            "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e",
            None,
            "Microsoft.Authorization/policyExemptions",
            "e",
        ),
        ("/subscriptions/s/resourceGroups/rg", "rg", None, None),
    ],
)
def test_resource_ids_parse(text: str, group: str | None, resource_type: str | None, name: str | None) -> None:
    parsed = parse_resource_id(text)
    assert (parsed.resource_group, parsed.resource_type, parsed.name) == (group, resource_type, name)
    assert not parsed.text.endswith("/")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ddb1",
        "subscriptions/s/resourceGroups/rg",
        "/subscriptions",
        "/subscriptions/",
        "/tenants/t",
        "/subscriptions/s/resourceGroups",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Search",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Search/searchServices",
        "/subscriptions/s//resourceGroups/rg",
        "/subscriptions/s/resourceGroups/r g",
        "/subscriptions/s/resourceGroups/rg/things/x",
        42,
        None,
    ],
)
def test_strings_that_are_not_resource_ids_are_refused(text: Any) -> None:
    with pytest.raises(InvalidResourceId):
        parse_resource_id(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"id": "/subscriptions/s"}], "got a JSON array of 1 item(s)"),
        ("a string", "got a string"),
        ({"name": "ddb1"}, "has no 'id'"),
        ({"id": None}, "has no 'id'"),
        ({"id": "ddb1"}, "is not an ARM resource id"),
        ({"parameters": {}, "responses": {}}, "x-ms-examples file"),
        ({"eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": "/subscriptions/s"}, "an event"),
        (
            {
                "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Search/searchServices/x",
                "type": "Microsoft.Storage/storageAccounts",
            },
            "does not match the type in the id",
        ),
    ],
)
def test_not_a_resource(value: Any, message: str) -> None:
    with pytest.raises(NotAResource, match=message.replace("(", r"\(").replace(")", r"\)")):
        classify(value, ScopeRules())


def test_a_resource_group_or_unguarded_type_is_classified_not_refused() -> None:
    group = classify({"id": "/subscriptions/s/resourceGroups/rg"}, ScopeRules())
    vault = classify({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v"}, ScopeRules())
    assert group.guarded is None and "is not guarded" in group.reason
    assert vault.guarded is None and "Microsoft.KeyVault/vaults" in vault.reason


@pytest.mark.parametrize(
    ("text", "top"),
    [
        (
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st/blobServices/default",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st",
        ),
        (
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/st",
        ),
        (
            "/subscriptions/s/providers/Microsoft.Web/sites/app/functions/f",
            "/subscriptions/s/providers/Microsoft.Web/sites/app",
        ),
        ("/subscriptions/s/resourceGroups/g", "/subscriptions/s/resourceGroups/g"),
        ("/subscriptions/s", "/subscriptions/s"),
    ],
)
def test_top_level_resource_of_a_child(text: str, top: str) -> None:
    parsed = parse_resource_id(text).top_level
    assert parsed == parse_resource_id(top)
