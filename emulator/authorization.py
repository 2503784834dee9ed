"""Azure RBAC's read side: role assignments and role definitions, extension resources at any scope.

What the twin serves, and the Microsoft material each behaviour comes from:

* **Bodies.** A role assignment is ``{"properties": {"roleDefinitionId", "principalId",
  "principalType", "scope", ...}, "id", "type", "name"}`` and a role definition
  ``{"properties": {"roleName", "type", "description", "assignableScopes", "permissions": [{"actions",
  "notActions", "dataActions", "notDataActions"}]}, "id", "type", "name"}``: the x-ms-examples
  ``RoleAssignments_ListForScope.json``, ``RoleAssignments_ListForResourceGroup.json`` and
  ``GetRoleDefinitionById.json`` (Azure/azure-rest-api-specs,
  ``specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples``).
  Both are seeded like any resource, their ``id`` being their address
  (``{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}``, where the scope is ``""``
  for the tenant root, a management group, a subscription, a group or a resource), and kept as seeded.
* **Lists of assignments** (``GET {scope}/providers/Microsoft.Authorization/roleAssignments``): the
  REST reference (Role Assignments - List For Scope / List For Subscription) and "List Azure role
  assignments using the REST API" (MicrosoftDocs/azure-docs,
  ``articles/role-based-access-control/role-assignments-list-rest.md``): without a filter, every
  assignment that applies at the scope or lies below it; ``$filter=atScope()`` those at or above;
  ``principalId eq '{id}'`` and ``assignedTo('{id}')`` the principal's at, above or below;
  ``atScope() and assignedTo('{id}')`` the principal's at or above. Any other filter is refused as
  Azure refuses it: 400 ``UnsupportedQuery`` "The filter '…' is not supported. Supported filters are
  either 'atScope()' or 'principalId eq '{value}' or assignedTo('{value}')'." (quoted in
  Azure/azure-rest-api-specs#28255, which shows an unquoted id refused). The twin has no groups of
  principals, so ``assignedTo`` sees only the principal's own assignments.
* **Above a subscription**: the tenant root ``/`` always; a management group when the twin holds
  ``/providers/Microsoft.Management/managementGroups/{g}/subscriptions/{subscription}`` (the body
  ``AddManagementGroupSubscription.json`` answers) or a group below it, a group's parent being
  ``properties.details.parent.id`` of its body (``GetManagementGroupWithPath.json``; both in
  ``specification/managementgroups/.../stable/2023-04-01/examples``).
* **Role definitions by id** (``GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}``):
  a definition is one object whatever the scope it is read at, found at every scope its
  ``assignableScopes`` cover (``["/"]`` for a built-in role), and answered with the id of the scope
  it was read at: azure-cli's recorded traffic (``test_built_in_role_definition_scenario.yaml``)
  shows the built-in Reader as ``/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}``
  while Microsoft's built-in roles pages name it ``/providers/Microsoft.Authorization/roleDefinitions/{guid}``.
  An unknown one is 404 ``RoleDefinitionDoesNotExist`` "The specified role definition with ID '…'
  does not exist." (the message in Azure/azure-powershell's ``RoleDefinitionTests.ps1``). Lists of
  definitions answer those assignable at the scope ("applicable at scope and above", the REST
  reference), with ``$filter=roleName eq '…'`` as azure-cli sends it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from . import ids
from .merge import get_path
from .messages import ArmFailure
from .store import ResourceStore

ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"
MANAGEMENT_GROUP_TYPE = "Microsoft.Management/managementGroups"
MANAGEMENT_GROUP_SUBSCRIPTION_TYPE = "Microsoft.Management/managementGroups/subscriptions"
_MANAGEMENT_GROUP_SCOPE = re.compile(r"^/providers/Microsoft\.Management/managementGroups/[^/]+$", re.IGNORECASE)
_QUOTED = r"'(?P<id>[^']+)'"
# The filters the role assignment lists take, as Microsoft documents them (module docstring).
_ASSIGNMENT_FILTERS = (
    ("atScope", re.compile(r"^atScope\(\)$", re.IGNORECASE)),
    ("principal", re.compile(rf"^principalId\s+eq\s+{_QUOTED}$", re.IGNORECASE)),
    ("principal", re.compile(rf"^assignedTo\({_QUOTED}\)$", re.IGNORECASE)),
    ("atScopePrincipal", re.compile(rf"^atScope\(\)\s+and\s+assignedTo\({_QUOTED}\)$", re.IGNORECASE)),
)
_ROLE_NAME_FILTER = re.compile(r"^roleName\s+eq\s+'(?P<name>[^']*)'$", re.IGNORECASE)


def is_type(parsed: ids.ArmPath, resource_type: str) -> bool:
    return (parsed.type or "").casefold() == resource_type.casefold()


def list_assignments(store: ResourceStore, parsed: ids.ArmPath, filter_text: str | None) -> list[dict[str, Any]]:
    """The role assignments a list at ``parsed.parent`` answers under ``filter_text``."""
    at_or_above_only, principal = _assignment_filter(filter_text)
    scope = parsed.parent
    above = _scopes_above(store, scope)
    found = []
    for body in _bodies_of(store, ASSIGNMENT_TYPE):
        where = ids.extension_scope(body["id"])
        if principal is not None and str(get_path(body, ["properties", "principalId"]) or "").casefold() != principal:
            continue
        at_or_above = ids.key_of(where) in above or ids.key_of(where) == ids.key_of(scope)
        below = not at_or_above and ids.key_of(scope) in _scopes_above(store, where)
        if at_or_above or (below and not at_or_above_only):
            found.append(copy.deepcopy(body))
    return found


def get_definition(store: ResourceStore, parsed: ids.ArmPath) -> dict[str, Any]:
    """The role definition named ``parsed.name`` as read at ``parsed.parent``."""
    for body in _definitions_at(store, parsed.parent):
        if str(body.get("name", "")).casefold() == (parsed.name or "").casefold():
            return body
    raise ArmFailure(
        404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{parsed.name}' does not exist."
    )


def list_definitions(store: ResourceStore, parsed: ids.ArmPath, filter_text: str | None) -> list[dict[str, Any]]:
    """The role definitions assignable at ``parsed.parent``, optionally those of one role name."""
    role_name = None
    if filter_text is not None and filter_text.strip():
        match = _ROLE_NAME_FILTER.match(filter_text.strip())
        if match is None:
            # Not modelled: Azure takes other filters here (atScopeAndBelow, type eq); the twin says so.
            raise ArmFailure(400, "UnsupportedQuery", f"The twin does not model the filter '{filter_text}'.")
        role_name = match.group("name").casefold()
    definitions = _definitions_at(store, parsed.parent)
    if role_name is not None:
        definitions = [
            d for d in definitions if str(get_path(d, ["properties", "roleName"]) or "").casefold() == role_name
        ]
    return definitions


def _assignment_filter(filter_text: str | None) -> tuple[bool, str | None]:
    """(at or above only, the principal asked for) for a role assignment list's ``$filter``."""
    if filter_text is None or not filter_text.strip():
        return False, None
    for kind, pattern in _ASSIGNMENT_FILTERS:
        match = pattern.match(filter_text.strip())
        if match is None:
            continue
        principal = match.group("id").casefold() if "id" in pattern.groupindex else None
        return kind in ("atScope", "atScopePrincipal"), principal
    raise ArmFailure(
        400,
        "UnsupportedQuery",
        f"The filter '{filter_text}' is not supported. Supported filters are either 'atScope()' or "
        "'principalId eq '{value}' or assignedTo('{value}')'.",
    )


def _definitions_at(store: ResourceStore, scope: str) -> list[dict[str, Any]]:
    """Every definition assignable at ``scope``, each with the id it has when read there."""
    above = _scopes_above(store, scope) | {ids.key_of(scope)}
    found: dict[str, dict[str, Any]] = {}
    for body in _bodies_of(store, DEFINITION_TYPE):
        assignable = get_path(body, ["properties", "assignableScopes"])
        if not isinstance(assignable, list) or not assignable:
            assignable = [ids.extension_scope(body["id"])]
        if not any(isinstance(a, str) and ids.key_of(a) in above for a in assignable):
            continue
        name = str(body.get("name") or ids.normalise(body["id"]).rsplit("/", 1)[-1])
        shown = copy.deepcopy(body)
        prefix = "" if ids.key_of(scope) == "/" else ids.normalise(scope)
        shown["id"] = f"{prefix}/providers/{DEFINITION_TYPE}/{name}"
        found.setdefault(name.casefold(), shown)
    return list(found.values())


def _scopes_above(store: ResourceStore, scope: str) -> set[str]:
    """The keys of every scope strictly above ``scope``: enclosing ids, the subscription's
    management groups and theirs, and the tenant root."""
    normal = ids.normalise(scope)
    if ids.key_of(normal) == "/":
        return set()
    above = {"/"}
    segments = normal.strip("/").split("/")
    if segments[0].casefold() == "subscriptions":
        above |= {ids.key_of("/" + "/".join(segments[:end])) for end in range(2, len(segments))}
        above |= _groups_holding(store, segments[1])
    elif _MANAGEMENT_GROUP_SCOPE.match(normal):
        above |= _parents_of(store, normal)
    return {key for key in above if key != ids.key_of(normal)}


def _groups_holding(store: ResourceStore, subscription: str) -> set[str]:
    held = set()
    for body in _bodies_of(store, MANAGEMENT_GROUP_SUBSCRIPTION_TYPE):
        if ids.normalise(body["id"]).rsplit("/", 1)[-1].casefold() == subscription.casefold():
            group = ids.normalise(body["id"]).rsplit("/", 2)[0]
            held |= {ids.key_of(group)} | _parents_of(store, group)
    return held


def _parents_of(store: ResourceStore, group: str) -> set[str]:
    parents: set[str] = set()
    current = store.get(group)
    while current is not None:
        parent = get_path(current, ["properties", "details", "parent", "id"])
        if not isinstance(parent, str) or ids.key_of(parent) in parents:
            break
        parents.add(ids.key_of(parent))
        current = store.get(parent)
    return parents


def _bodies_of(store: ResourceStore, resource_type: str) -> Iterator[dict[str, Any]]:
    for body in store:
        parsed = ids.parse(body["id"])
        if parsed is not None and not parsed.collection and is_type(parsed, resource_type):
            yield body
