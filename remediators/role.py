"""Least-privilege custom roles, derived from what each remediator declares it needs.

One role per population, because their fixes point in opposite directions: the identity that
may *loosen* Cosmos DB, AI Search and Storage is assigned only on managed resource groups, and
the one that tightens AI accounts only where those accounts live. ``infra/roles/*.json`` are
this output, committed; a test keeps them equal.
"""

from __future__ import annotations

from typing import Any

from .findings import Guarded
from .registry import REMEDIATORS

ROLE_NAMES = {
    Guarded.MANAGED_RG: "Foundry Guard managed resource group remediator",
    Guarded.AI_ACCOUNT: "Foundry Guard AI account remediator",
}
ASSIGN_AT = {
    Guarded.MANAGED_RG: "Assign it on each workspace's managed resource group, nowhere else.",
    Guarded.AI_ACCOUNT: "Assign it on the resource groups (or accounts) that hold guarded AI accounts.",
}


def role_definitions() -> dict[str, dict[str, Any]]:
    """``{population: role definition}`` in the form ``az role definition create`` takes."""
    roles = {}
    for population in Guarded:
        actions = {a for r in REMEDIATORS if r.guards is population for a in r.arm_actions}
        types = sorted({r.resource_type for r in REMEDIATORS if r.guards is population}, key=str.casefold)
        roles[str(population)] = {
            "Name": ROLE_NAMES[population],
            "IsCustom": True,
            "Description": f"Read and update {', '.join(types)}; nothing else. {ASSIGN_AT[population]}",
            "Actions": sorted(actions, key=str.casefold),
            "NotActions": [],
            "DataActions": [],
            "NotDataActions": [],
            "AssignableScopes": ["/subscriptions/{subscriptionId}"],
        }
    return roles
