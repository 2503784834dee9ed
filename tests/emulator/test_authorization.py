"""Role assignments and role definitions as Azure serves them: extension resources at any scope,
lists by where an assignment applies, the documented filters and Azure's refusal of the rest."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import Twin
from tests.rbac_payloads import assignment, built_in, role_definition

from .seeds import COSMOS, GROUP_ID, SUBSCRIPTION

SUBSCRIPTION_ID = f"/subscriptions/{SUBSCRIPTION}"
OTHER_SUBSCRIPTION = "99999999-1111-2222-3333-444444444444"
PARENT_GROUP = "/providers/Microsoft.Management/managementGroups/contoso"
CHILD_GROUP = "/providers/Microsoft.Management/managementGroups/contoso-prod"
UNRELATED_GROUP = "/providers/Microsoft.Management/managementGroups/fabrikam"
PRINCIPAL = "5b6c7d8e-0000-4000-8000-00000000beef"
SOMEONE_ELSE = "ce2ce14e-85d7-4629-bdbc-454d0519d987"  # the principal of Microsoft's example
CONTRIBUTOR = built_in("contributor")
READER = built_in("reader")
CUSTOM = role_definition(
    "4e6f2d7a-1b3c-4d5e-8f90-a1b2c3d4e5f6", "custom", ["Microsoft.Storage/*"], subscription=SUBSCRIPTION
)
# Where the principal holds a role, by name: at the tenant root, on management groups above the
# subscription (and one not above it), on the subscription, a group and a resource, and elsewhere.
SCOPES = {
    "root": "",
    "parent-group": PARENT_GROUP,
    "child-group": CHILD_GROUP,
    "unrelated-group": UNRELATED_GROUP,
    "subscription": SUBSCRIPTION_ID,
    "group": GROUP_ID,
    "resource": COSMOS,
    "other-subscription": f"/subscriptions/{OTHER_SUBSCRIPTION}",
}


def hierarchy() -> list[dict[str, Any]]:
    """contoso > contoso-prod > the subscription, in the shapes of Microsoft's management group examples
    (GetManagementGroupWithPath.json: the parent in ``properties.details.parent``;
    AddManagementGroupSubscription.json: a subscription under its group)."""
    return [
        {
            "id": CHILD_GROUP,
            "type": "Microsoft.Management/managementGroups",
            "name": "contoso-prod",
            "properties": {"displayName": "Production", "details": {"parent": {"id": PARENT_GROUP}}},
        },
        {
            "id": f"{CHILD_GROUP}/subscriptions/{SUBSCRIPTION}",
            "type": "Microsoft.Management/managementGroups/subscriptions",
            "name": SUBSCRIPTION,
            "properties": {"displayName": "Production", "parent": {"id": CHILD_GROUP}, "state": "Active"},
        },
    ]


def assignments() -> list[dict[str, Any]]:
    mine = [
        assignment(scope, CONTRIBUTOR, PRINCIPAL, name, subscription=SUBSCRIPTION) for name, scope in SCOPES.items()
    ]
    return [*mine, assignment(GROUP_ID, READER, SOMEONE_ELSE, "theirs", subscription=SUBSCRIPTION)]


@pytest.fixture
def rbac(twin: Twin) -> Iterator[Twin]:
    for body in [CONTRIBUTOR, READER, CUSTOM, *hierarchy(), *assignments()]:
        twin.set_resource(body)
    yield twin


def listed(twin: Twin, scope: str, filter_text: str | None = None) -> list[str]:
    query = "" if filter_text is None else "?$filter=" + urllib.parse.quote(filter_text)
    answer = twin.call(
        "GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments{query}", api_version="2022-04-01"
    )
    assert answer.status == 200, answer.body
    return sorted(item["name"] for item in answer.json()["value"])


def test_a_subscription_lists_the_principal_s_assignments_at_above_and_below_it(rbac: Twin) -> None:
    assert listed(rbac, SUBSCRIPTION_ID, f"principalId eq '{PRINCIPAL}'") == sorted(
        ["root", "parent-group", "child-group", "subscription", "group", "resource"]
    )
    assert listed(rbac, SUBSCRIPTION_ID, f"assignedTo('{PRINCIPAL}')") == listed(
        rbac, SUBSCRIPTION_ID, f"principalId eq '{PRINCIPAL}'"
    )
    assert listed(rbac, SUBSCRIPTION_ID, f"principalId eq '{SOMEONE_ELSE}'") == ["theirs"]


def test_without_a_filter_every_principal_s_are_listed(rbac: Twin) -> None:
    assert "theirs" in listed(rbac, SUBSCRIPTION_ID)
    assert "unrelated-group" not in listed(rbac, SUBSCRIPTION_ID)
    assert "other-subscription" not in listed(rbac, SUBSCRIPTION_ID)


def test_at_scope_lists_at_and_above_only(rbac: Twin) -> None:
    assert listed(rbac, GROUP_ID, "atScope()") == sorted(
        ["root", "parent-group", "child-group", "subscription", "group", "theirs"]
    )
    assert listed(rbac, GROUP_ID, f"atScope() and assignedTo('{PRINCIPAL}')") == sorted(
        ["root", "parent-group", "child-group", "subscription", "group"]
    )
    assert listed(rbac, COSMOS, "atScope()") == sorted(
        ["root", "parent-group", "child-group", "subscription", "group", "resource", "theirs"]
    )


def test_a_management_group_lists_what_is_below_it(rbac: Twin) -> None:
    assert listed(rbac, PARENT_GROUP, f"principalId eq '{PRINCIPAL}'") == sorted(
        ["root", "parent-group", "child-group", "subscription", "group", "resource"]
    )
    assert listed(rbac, UNRELATED_GROUP, f"principalId eq '{PRINCIPAL}'") == ["root", "unrelated-group"]


@pytest.mark.parametrize(
    "filter_text",
    [
        f"principalId eq {PRINCIPAL}",  # unquoted: Azure/azure-rest-api-specs#28255
        f"atScope() and principalId eq '{PRINCIPAL}'",
        f"roleDefinitionId eq '{CONTRIBUTOR['name']}'",
        "principalId eq ''",  # Azure/azure-xplat-cli#1692
    ],
)
def test_other_filters_are_refused_as_azure_refuses_them(rbac: Twin, filter_text: str) -> None:
    answer = rbac.call(
        "GET",
        f"{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleAssignments?$filter={urllib.parse.quote(filter_text)}",
        api_version="2022-04-01",
    )
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "UnsupportedQuery"
    assert error["message"] == (
        f"The filter '{filter_text}' is not supported. Supported filters are either 'atScope()' or "
        "'principalId eq '{value}' or assignedTo('{value}')'."
    )


def test_an_assignment_is_read_at_its_own_address(rbac: Twin) -> None:
    address = f"{GROUP_ID}/providers/Microsoft.Authorization/roleAssignments/group"
    answer = rbac.call("GET", address, api_version="2022-04-01")
    assert answer.status == 200
    body = answer.json()
    assert (body["id"], body["type"], body["properties"]["scope"]) == (
        address,
        "Microsoft.Authorization/roleAssignments",
        GROUP_ID,
    )
    missing = rbac.call("GET", address.replace("/group", "/nope"), api_version="2022-04-01")
    assert (missing.status, missing.json()["error"]["code"]) == (404, "RoleAssignmentNotFound")


def test_a_built_in_role_is_read_by_id_at_any_scope_with_that_scope_s_id(rbac: Twin) -> None:
    for scope in (SUBSCRIPTION_ID, GROUP_ID, COSMOS, PARENT_GROUP, ""):
        answer = rbac.call(
            "GET",
            f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR['name']}",
            api_version="2022-04-01",
        )
        assert answer.status == 200, scope
        body = answer.json()
        assert body["id"] == f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR['name']}"
        assert body["properties"] == CONTRIBUTOR["properties"]


def test_a_custom_role_is_read_only_where_it_is_assignable(rbac: Twin) -> None:
    path = f"/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM['name']}"
    assert rbac.call("GET", f"{GROUP_ID}{path}", api_version="2022-04-01").status == 200
    answer = rbac.call("GET", f"/subscriptions/{OTHER_SUBSCRIPTION}{path}", api_version="2022-04-01")
    assert answer.status == 404
    assert answer.json()["error"] == {
        "code": "RoleDefinitionDoesNotExist",
        "message": f"The specified role definition with ID '{CUSTOM['name']}' does not exist.",
    }


def test_role_definitions_are_listed_where_assignable_and_by_name(rbac: Twin) -> None:
    def names(scope: str, query: str = "") -> list[str]:
        answer = rbac.call(
            "GET", f"{scope}/providers/Microsoft.Authorization/roleDefinitions{query}", api_version="2022-04-01"
        )
        assert answer.status == 200
        return sorted(item["properties"]["roleName"] for item in answer.json()["value"])

    assert names(SUBSCRIPTION_ID) == ["Contributor", "Reader", "custom"]
    assert names(f"/subscriptions/{OTHER_SUBSCRIPTION}") == ["Contributor", "Reader"]
    # azure-cli's recorded query (test_built_in_role_definition_scenario.yaml).
    assert names(SUBSCRIPTION_ID, "?$filter=roleName%20eq%20%27Reader%27") == ["Reader"]


def test_role_assignments_and_definitions_are_seeded_like_any_resource(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    (seed / "rbac").mkdir(parents=True)
    (seed / "rbac" / "reader.json").write_text(json.dumps(READER))
    (seed / "rbac" / "assigned.json").write_text(
        json.dumps([assignment(GROUP_ID, READER, PRINCIPAL, "seeded", subscription=SUBSCRIPTION)])
    )
    with Twin.start(seed) as running:
        assert listed(running, SUBSCRIPTION_ID, f"principalId eq '{PRINCIPAL}'") == ["seeded"]
        answer = running.call(
            "GET",
            f"{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{READER['name']}",
            api_version="2022-04-01",
        )
        assert answer.json()["properties"]["permissions"][0]["actions"] == ["*/read"]
