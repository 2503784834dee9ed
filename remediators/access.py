"""Where Foundry Guard's identity may loosen, against where the proof allows it.

Foundry Guard loosens Cosmos DB, AI Search and Storage only in a resource group that
:meth:`remediators.workspaces.Inventory.prove` proves managed. RBAC should say the same thing:
the managed-rg role (``infra/roles/managed-rg.json``) on each proven group and nowhere else. Where
RBAC allows more, the code is the guard; where it allows less, fixes fail. :func:`disagreements`
compares the two without any I/O, from the identity's role assignments and their role definitions
(ARM bodies) and the subscription's :class:`~remediators.workspaces.Inventory`:

* ``role-above-groups``: a role that may write a managed-group resource type at the subscription or
  above it (management group, tenant root), as ``assignAtSubscription`` deploys. RBAC then lets the
  identity loosen in every group, so the proof in code is the only guard.
* ``role-where-never-used``: such a role on a group (or a resource in one) that the proof does not
  allow loosening in: rights Foundry Guard never uses, to remove.
* ``role-missing``: a group a workspace proves managed where the identity may not write every
  managed-group type: the fixes there fail with ``AuthorizationFailed``.
* ``role-unreadable``: an assigned role whose definition could not be read, so neither is known.

:func:`read_role_assignments` is the ARM side: one list of the identity's assignments, one read
per distinct role definition.

What RBAC means here, from Microsoft's documentation:

* effective control-plane permissions are ``Actions`` minus ``NotActions``; ``*`` matches any run of
  characters (``*``, ``Microsoft.DocumentDB/*``, ``*/write``); action strings compare ignoring case
  ("Understand Azure role definitions", MicrosoftDocs/azure-docs
  ``articles/role-based-access-control/role-definitions.md``);
* a role assignment applies at its scope and every scope below it;
* ``GET /subscriptions/{s}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq
  '{id}'`` lists the principal's assignments at, above and below the subscription (the Role
  Assignments REST reference); it does not list those of groups the principal belongs to (only
  ``assignedTo('{id}')`` does, per "List Azure role assignments using the REST API").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from .arm_json import lookup
from .findings import Guarded
from .registry import REMEDIATORS
from .role import ROLE_NAMES
from .scope import GUID, ScopeRules, ascii_fold, same_name
from .workspaces import Inventory, Proof

if TYPE_CHECKING:
    from .arm import Arm, ArmError

API_VERSION = "2022-04-01"
ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
# The writes that loosen: what the managed-group remediators PATCH with.
_MANAGED_RG_ACTIONS = {a for r in REMEDIATORS if r.guards is Guarded.MANAGED_RG for a in r.arm_actions}
LOOSENING_ACTIONS = tuple(sorted((a for a in _MANAGED_RG_ACTIONS if a.lower().endswith("/write")), key=str.casefold))
MANAGED_RG_ROLE = ROLE_NAMES[str(Guarded.MANAGED_RG)]

ABOVE_GROUPS = "role-above-groups"
NEVER_USED = "role-where-never-used"
MISSING = "role-missing"
UNREADABLE = "role-unreadable"


@dataclass(frozen=True)
class Disagreement:
    """One place where RBAC and the proof disagree, what is wrong there and what to do."""

    kind: str
    scope: str
    problem: str
    remedy: str
    role_name: str | None = None
    actions: tuple[str, ...] = ()  # the loosening actions granted there, or missing there
    resource_group: str | None = None
    assignment_id: str | None = None
    role_definition_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind, "scope": self.scope}
        if self.resource_group is not None:
            body["resourceGroup"] = self.resource_group
        body["roleName"] = self.role_name
        if self.assignment_id is not None:
            body["roleAssignmentId"] = self.assignment_id
        if self.role_definition_id is not None:
            body["roleDefinitionId"] = self.role_definition_id
        body["actions"] = list(self.actions)
        body["problem"] = self.problem
        body["remedy"] = self.remedy
        return {"roleDisagreement": body}


@dataclass(frozen=True)
class RoleReads:
    """What ARM said of the identity's roles: its assignments, and each assigned role's definition
    by its GUID (lower case); ``unreadable`` says why a definition is missing."""

    assignments: tuple[Mapping[str, Any], ...] = ()
    definitions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    unreadable: Mapping[str, str] = field(default_factory=dict)


def allows(definition: Mapping[str, Any], action: str) -> bool:
    """Whether a role definition body grants the control-plane ``action``."""
    permissions = lookup(definition, "properties", "permissions")
    if not isinstance(permissions, list):
        return False
    for permission in permissions:
        granted = _strings(lookup(permission, "actions"))
        excluded = _strings(lookup(permission, "notActions"))
        if any(_matches(p, action) for p in granted) and not any(_matches(p, action) for p in excluded):
            return True
    return False


def loosening_actions(definition: Mapping[str, Any], actions: Sequence[str] = LOOSENING_ACTIONS) -> tuple[str, ...]:
    """The loosening ``actions`` a role definition grants."""
    return tuple(a for a in actions if allows(definition, a))


def disagreements(
    subscription: str,
    reads: RoleReads,
    inventory: Inventory,
    rules: ScopeRules,
    *,
    actions: Sequence[str] = LOOSENING_ACTIONS,
) -> list[Disagreement]:
    """Every place in ``subscription`` where the identity's roles and the proof disagree."""
    found: list[Disagreement] = []
    granted_over: dict[str, set[str]] = {}  # folded group name (or "" for every group) -> actions granted
    for assignment in reads.assignments:
        scope = _scope_of(assignment)
        if scope is None or not _applies_to(scope, subscription):
            continue
        definition_id = _text(lookup(assignment, "properties", "roleDefinitionId")) or ""
        guid = definition_id.rstrip("/").rsplit("/", 1)[-1].casefold()
        definition = reads.definitions.get(guid)
        assignment_id = _text(lookup(assignment, "id"))
        if definition is None:
            found.append(_unreadable(scope, assignment_id, definition_id, reads.unreadable.get(guid)))
            continue
        granted = loosening_actions(definition, actions)
        if not granted:
            continue
        role_name = _text(lookup(definition, "properties", "roleName")) or guid
        group = _group_of(scope)
        if group is None:  # the subscription itself, a management group or the tenant root
            granted_over.setdefault("", set()).update(granted)
            found.append(_above_groups(scope, subscription, role_name, granted, assignment_id, definition_id))
            continue
        allowed, reason = loosening_allowed(inventory, group, rules)
        if not allowed:
            found.append(_never_used(scope, group, role_name, granted, assignment_id, definition_id, reason))
        elif same_name(scope.rstrip("/"), _group_id(subscription, group)):
            granted_over.setdefault(ascii_fold(group), set()).update(granted)
        # A role on one resource in a proven group covers that resource only: it is neither
        # wrong nor enough for the group, which is judged below.
    for group, proof in _proven_groups(inventory, rules):
        held = granted_over.get("", set()) | granted_over.get(ascii_fold(group), set())
        missing = tuple(a for a in actions if a not in held)
        if missing:
            found.append(_missing(subscription, group, proof, missing))
    return found


def loosening_allowed(inventory: Inventory, group: str, rules: ScopeRules) -> tuple[bool, str]:
    """Whether Foundry Guard would ever loosen in ``group``, and why (not)."""
    proof = inventory.prove(group, rules)
    if not proof.proven:
        return False, proof.reason
    group_id = _group_id(inventory.subscription, group)
    for pattern in rules.exclude:
        if _covers(pattern.segments, group_id):
            return False, f"resource group {group!r} is excluded by GUARD_EXCLUDE_SCOPES entry {pattern.text!r}"
    if rules.include and not any(_reaches(pattern.segments, group_id) for pattern in rules.include):
        return False, f"resource group {group!r} is outside every GUARD_INCLUDE_SCOPES entry"
    return True, proof.reason


def read_role_assignments(arm: Arm, subscription: str, principal_id: str) -> RoleReads:
    """The identity's role assignments at, above and below the subscription, and their roles.

    One list call (and one per further page), then one read per distinct role definition, by its
    GUID at the subscription (where every role assignable there can be read). Raises
    :class:`remediators.arm.ArmError` when the assignments cannot be listed.
    """
    from .arm import ArmError
    from .resource_ids import parse_resource_id

    if not GUID.match(principal_id):
        raise ValueError(f"{principal_id!r} is not an object id (a GUID)")
    # principalId eq '{id}': the quotes are required (Azure/azure-rest-api-specs#28255).
    path = f"/subscriptions/{subscription}/providers/{ASSIGNMENTS}?$filter=principalId%20eq%20'{principal_id}'"
    assignments = arm.list_raw(path, API_VERSION)
    definitions: dict[str, Mapping[str, Any]] = {}
    unreadable: dict[str, str] = {}
    for assignment in assignments:
        definition_id = _text(lookup(assignment, "properties", "roleDefinitionId")) or ""
        guid = definition_id.rstrip("/").rsplit("/", 1)[-1].casefold()
        if guid in definitions or guid in unreadable:
            continue
        if not GUID.match(guid):
            unreadable[guid] = f"roleDefinitionId {definition_id!r} does not end in a GUID"
            continue
        where = parse_resource_id(f"/subscriptions/{subscription}/providers/{DEFINITIONS}/{guid}")
        try:
            body = arm.read_raw(where, API_VERSION)
        except ArmError as error:
            unreadable[guid] = _error_text(error)
            continue
        if body is None:
            unreadable[guid] = "the role definition does not exist (deleted?)"
        else:
            definitions[guid] = body
    return RoleReads(tuple(assignments), definitions, unreadable)


def _above_groups(
    scope: str, subscription: str, role: str, granted: tuple[str, ...], assignment_id: str | None, definition_id: str
) -> Disagreement:
    where = "this subscription" if _is_subscription(scope, subscription) else f"{scope}, above this subscription"
    return Disagreement(
        ABOVE_GROUPS,
        scope,
        f"role {role!r} at {where} lets Foundry Guard's identity {_verbs(granted)} in every resource group of "
        "the subscription: RBAC does not confine it to managed resource groups, so the proof in code (a "
        "customer-managed-key workspace naming the group, or GUARD_MANAGED_RESOURCE_GROUPS) is the only guard",
        "prefer per-group assignments: deploy with assignAtSubscription=false so the managed-rg role is assigned "
        "on each listed managed resource group, then remove this assignment; keep it only where workspaces come "
        "and go faster than roles can be assigned, accepting that the code alone decides",
        role,
        granted,
        assignment_id=assignment_id,
        role_definition_id=definition_id or None,
    )


def _never_used(
    scope: str,
    group: str,
    role: str,
    granted: tuple[str, ...],
    assignment_id: str | None,
    definition_id: str,
    reason: str,
) -> Disagreement:
    return Disagreement(
        NEVER_USED,
        scope,
        f"role {role!r} on {scope} lets Foundry Guard's identity {_verbs(granted)} there, where Foundry Guard "
        f"will never use it: {reason}",
        "remove this role assignment",
        role,
        granted,
        resource_group=group,
        assignment_id=assignment_id,
        role_definition_id=definition_id or None,
    )


def _missing(subscription: str, group: str, proof: Proof, missing: tuple[str, ...]) -> Disagreement:
    group_id = _group_id(subscription, group)
    return Disagreement(
        MISSING,
        group_id,
        f"{proof.reason}, but Foundry Guard's identity may not {_verbs(missing)} there: its fixes in that group "
        "will fail with AuthorizationFailed",
        f"assign the role {MANAGED_RG_ROLE!r} on {group_id} (add the group to managedResourceGroups and "
        "provision again)",
        MANAGED_RG_ROLE,
        missing,
        resource_group=group,
    )


def _unreadable(scope: str, assignment_id: str | None, definition_id: str, why: str | None) -> Disagreement:
    return Disagreement(
        UNREADABLE,
        scope,
        f"the role assigned at {scope} could not be read ({why or 'not read'}), so whether it lets Foundry Guard's "
        "identity loosen there is unknown",
        "check the assignment: remove it if its role is gone; the reader role needs "
        "Microsoft.Authorization/roleDefinitions/read on the subscription",
        None,
        assignment_id=assignment_id,
        role_definition_id=definition_id or None,
    )


def _proven_groups(inventory: Inventory, rules: ScopeRules) -> Iterable[tuple[str, Proof]]:
    """Each group a workspace proves managed (once), where Foundry Guard would loosen."""
    seen: set[str] = set()
    for workspace in inventory.workspaces:
        group = workspace.managed_group
        if group is None or ascii_fold(group) in seen:
            continue
        seen.add(ascii_fold(group))
        proof = inventory.prove(group, rules)
        if proof.proven and proof.workspace is not None and loosening_allowed(inventory, group, rules)[0]:
            yield group, proof


def _scope_of(assignment: Mapping[str, Any]) -> str | None:
    """The scope an assignment applies at: ``properties.scope``, else what its id hangs off."""
    scope = _text(lookup(assignment, "properties", "scope"))
    if scope:
        return "/" + scope.strip("/")
    assignment_id = _text(lookup(assignment, "id"))
    if not assignment_id:
        return None
    at = assignment_id.casefold().rfind("/providers/microsoft.authorization/roleassignments/")
    return ("/" + assignment_id[:at].strip("/")) if at >= 0 else None


def _applies_to(scope: str, subscription: str) -> bool:
    """Whether an assignment at ``scope`` reaches into ``subscription`` (the list may hold others')."""
    segments = scope.strip("/").split("/")
    if segments[0].casefold() != "subscriptions":
        return True  # the tenant root or a management group: ARM listed it as above the subscription
    return len(segments) >= 2 and same_name(segments[1], subscription)


def _group_of(scope: str) -> str | None:
    segments = scope.strip("/").split("/")
    if len(segments) >= 4 and segments[0].casefold() == "subscriptions" and segments[2].casefold() == "resourcegroups":
        return segments[3]
    return None


def _is_subscription(scope: str, subscription: str) -> bool:
    return same_name(scope.strip("/"), f"subscriptions/{subscription}")


def _group_id(subscription: str, group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def _covers(pattern: tuple[str, ...], group_id: str) -> bool:
    """Whether a scope pattern covers the whole group (it names the group or a scope above it)."""
    target = ascii_fold(group_id.strip("/")).split("/")
    return len(pattern) <= len(target) and all(fnmatchcase(t, p) for t, p in zip(target, pattern, strict=False))


def _reaches(pattern: tuple[str, ...], group_id: str) -> bool:
    """Whether a scope pattern covers the group or something inside it."""
    target = ascii_fold(group_id.strip("/")).split("/")
    return all(fnmatchcase(t, p) for t, p in zip(target, pattern, strict=False))


def _matches(pattern: str, action: str) -> bool:
    """RBAC's action match: ``*`` stands for any run of characters, nothing else is special."""
    parts = (re.escape(part) for part in pattern.casefold().split("*"))
    return re.fullmatch(".*".join(parts), action.casefold(), re.DOTALL) is not None


def _verbs(actions: Iterable[str]) -> str:
    return "write " + ", ".join(a.rsplit("/", 1)[0] for a in actions)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _error_text(error: ArmError) -> str:
    return f"{error.status or 'no response'} {error.code}: {error.message}"
