"""Least-privilege custom roles, derived from what each remediator declares it needs.

One role per population, because their fixes point in opposite directions: the identity that
may *loosen* Cosmos DB, AI Search and Storage is assigned only on managed resource groups, and
the one that tightens AI accounts only where those accounts live. A third role holds reads
alone, for the sweep and for ``POST /api/remediate`` with a workspace id: listing a type across a
subscription needs its read action at the subscription, and a read changes nothing.
``infra/roles/*.json`` are this output, committed; a test keeps them equal, and the Bicep
(``infra/rbac.bicep``) loads them, so the deployed roles are these.
"""

from __future__ import annotations

from typing import Any

from .findings import Guarded
from .registry import REMEDIATORS
from .workspaces import REGISTRY_TYPE, WORKSPACE_TYPE

READER = "reader"
ROLE_NAMES = {
    str(Guarded.MANAGED_RG): "Foundry Guard managed resource group remediator",
    str(Guarded.AI_ACCOUNT): "Foundry Guard AI account remediator",
    READER: "Foundry Guard reader",
}
ASSIGN_AT = {
    str(Guarded.MANAGED_RG): "Assign it on each workspace's managed resource group, nowhere else.",
    str(Guarded.AI_ACCOUNT): "Assign it on the resource groups (or accounts) that hold guarded AI accounts.",
    READER: "Assign it on the subscriptions the sweep covers (reads only: listing a type across a "
    "subscription needs its read action there).",
}
# Reads the service makes besides the remediators': the workspaces that prove managed resource
# groups, the registries whose groups are never loosened, and the service's own role assignments
# and their definitions, which `scan` compares with that proof (remediators.access).
SERVICE_READS = (
    f"{WORKSPACE_TYPE}/read",
    f"{REGISTRY_TYPE}/read",
    "Microsoft.Authorization/roleAssignments/read",
    "Microsoft.Authorization/roleDefinitions/read",
)


def role_definitions() -> dict[str, dict[str, Any]]:
    """``{population: role definition}`` in the form ``az role definition create`` takes."""
    roles = {}
    for population in Guarded:
        remediators = [r for r in REMEDIATORS if r.guards is population]
        actions = {a for r in remediators for a in r.arm_actions}
        roles[str(population)] = _role(str(population), actions, [r.resource_type for r in remediators], updates=True)
    reads = {a for a in all_actions() if a.casefold().endswith("/read")}
    service_types = [action.rsplit("/", 1)[0] for action in SERVICE_READS]
    roles[READER] = _role(READER, reads, [r.resource_type for r in REMEDIATORS] + service_types, updates=False)
    return roles


def all_actions() -> set[str]:
    """Every ARM action the code performs: the remediators' declarations and the service's own reads."""
    return {a for r in REMEDIATORS for a in r.arm_actions} | set(SERVICE_READS)


def _role(key: str, actions: set[str], types: list[str], *, updates: bool) -> dict[str, Any]:
    listed = ", ".join(sorted(set(types), key=str.casefold))
    what = f"Read and update {listed}" if updates else f"Read {listed}"
    return {
        "Name": ROLE_NAMES[key],
        "IsCustom": True,
        "Description": f"{what}; nothing else. {ASSIGN_AT[key]}",
        "Actions": sorted(actions, key=str.casefold),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": ["/subscriptions/{subscriptionId}"],
    }
