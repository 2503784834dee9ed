"""What ``scan`` says of a subscription's Azure ML workspaces and registries: one JSON object each.

A workspace line tells an operator whether its managed resource group is guarded and why, in the
words of the proof (:meth:`remediators.workspaces.Inventory.prove`); the workspaces with nothing to
guard say so too: one with service-side encryption (``enableServiceSideCMKEncryption``) keeps its
resources in Microsoft's subscription, one without a customer-managed key gets no managed group.
A registry line says its group is never loosened. Pure: the inventory in, the lines out.
"""

from __future__ import annotations

from typing import Any

from .scope import ScopeRules, same_name
from .workspaces import WORKSPACE_KINDS, Inventory, Registry, Workspace

NOTHING_TO_GUARD = "Foundry Guard has no managed resource group to guard for it"


def inventory_lines(inventory: Inventory, rules: ScopeRules) -> list[dict[str, Any]]:
    """One object per workspace, then one per registry, in the order ARM listed them."""
    return [workspace_line(w, inventory, rules) for w in inventory.workspaces] + [
        registry_line(r, inventory, rules) for r in inventory.registries
    ]


def workspace_line(workspace: Workspace, inventory: Inventory, rules: ScopeRules) -> dict[str, Any]:
    proven, reason = _workspace_verdict(workspace, inventory, rules)
    return {
        "workspace": workspace.id,
        "kind": workspace.kind,
        "encryption": _encryption(workspace),
        "managedResourceGroup": workspace.managed_group,
        "proven": proven,
        "reason": reason,
    }


def registry_line(registry: Registry, inventory: Inventory, rules: ScopeRules) -> dict[str, Any]:
    if registry.managed_group is None:
        reason = f"registry {registry.id} names no managed resource group"
    else:
        reason = inventory.prove(registry.managed_group, rules).reason
    return {"registry": registry.id, "managedResourceGroup": registry.managed_group, "proven": False, "reason": reason}


def _workspace_verdict(workspace: Workspace, inventory: Inventory, rules: ScopeRules) -> tuple[bool, str]:
    group = workspace.managed_group
    if group is None:
        if _has_no_group_to_guard(workspace):
            # why_not_managed checks the kind and the encryption before the group, so any group will do.
            return False, f"workspace {workspace.id} {workspace.why_not_managed('')}: {NOTHING_TO_GUARD}"
        return False, (
            f"workspace {workspace.id} names no managed resource group (serviceProvisionedResourceGroup is empty)"
        )
    proof = inventory.prove(group, rules)
    objection = workspace.why_not_managed(group)
    if proof.registry is not None or objection is None:
        return proof.proven, proof.reason
    reason = f"workspace {workspace.id} {objection}"
    if _has_no_group_to_guard(workspace):
        reason += f": {NOTHING_TO_GUARD}"
    if proof.proven:  # an operator listed the group: it is treated as managed all the same
        return True, f"{reason}; {proof.reason}"
    return False, reason


def _has_no_group_to_guard(workspace: Workspace) -> bool:
    """A kind without the guarded resources, service-side encryption, or no customer-managed key."""
    known_kind = any(same_name(workspace.kind, kind) for kind in WORKSPACE_KINDS)
    return not known_kind or workspace.service_side_encryption or not workspace.customer_managed_key


def _encryption(workspace: Workspace) -> str:
    if workspace.service_side_encryption:
        return "service-side customer-managed key"
    if workspace.customer_managed_key:
        return "customer-managed key"
    return "Microsoft-managed key"
