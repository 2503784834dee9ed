"""Azure RBAC bodies for the tests, in Microsoft's shapes, re-addressed.

Role definitions take the REST shape of the x-ms-example ``GetRoleDefinitionById.json`` and role
assignments that of ``RoleAssignments_ListForScope.json`` (tests/fixtures/arm/authorization); the
built-in roles' permissions are Microsoft's built-in roles pages, copied verbatim into
tests/fixtures/docs/built-in-roles. Only ids, names and the properties a test is about change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"


def role_definition(
    guid: str, name: str, actions: Sequence[str], not_actions: Sequence[str] = (), *, subscription: str | None = None
) -> dict[str, Any]:
    """A role definition: a custom role of ``subscription`` (assignable there), or, without one, a
    built-in role (tenant-wide, assignable everywhere)."""
    document = json.loads((FIXTURES / "arm" / "authorization" / "GetRoleDefinitionById.json").read_text())
    body: dict[str, Any] = copy.deepcopy(document["responses"]["200"]["body"])
    scope = f"/subscriptions/{subscription}" if subscription else ""
    body["id"] = f"{scope}/providers/{DEFINITIONS}/{guid}"
    body["name"] = guid
    body["properties"].update(
        roleName=name,
        type="CustomRole" if subscription else "BuiltInRole",
        assignableScopes=[scope or "/"],
        permissions=[
            {"actions": list(actions), "notActions": list(not_actions), "dataActions": [], "notDataActions": []}
        ],
    )
    return body


def built_in(name: str) -> dict[str, Any]:
    """A built-in role (``contributor``, ``reader``) as Microsoft's built-in roles page prints it."""
    printed = json.loads((FIXTURES / "docs" / "built-in-roles" / f"{name}.json").read_text())
    (permission,) = printed["permissions"]
    body = role_definition(printed["name"], printed["roleName"], permission["actions"], permission["notActions"])
    body["properties"]["description"] = printed["description"]
    return body


def custom_role(guid: str, role_file: str, subscription: str) -> dict[str, Any]:
    """A Foundry Guard role (``infra/roles/{role_file}``) as rbac.bicep deploys it in ``subscription``."""
    role = json.loads((ROOT / "infra" / "roles" / role_file).read_text())
    body = role_definition(guid, role["Name"], role["Actions"], role["NotActions"], subscription=subscription)
    body["properties"]["description"] = role["Description"]
    return body


def assignment(scope: str, role: dict[str, Any], principal: str, name: str, *, subscription: str) -> dict[str, Any]:
    """A role assignment of ``role`` to ``principal`` at ``scope`` ("" for the tenant root)."""
    document = json.loads((FIXTURES / "arm" / "authorization" / "RoleAssignments_ListForScope.json").read_text())
    body: dict[str, Any] = copy.deepcopy(document["responses"]["200"]["body"]["value"][0])
    body["id"] = f"{scope}/providers/{ASSIGNMENTS}/{name}"
    body["name"] = name
    body["properties"].update(
        # Listed at a subscription, Azure names the role by its id there, built-in or not
        # (azure-cli's recorded traffic, test_role_assignment_at_scope.yaml).
        roleDefinitionId=f"/subscriptions/{subscription}/providers/{DEFINITIONS}/{role['name']}",
        principalId=principal,
        principalType="ServicePrincipal",
        scope=scope or "/",
    )
    return body
