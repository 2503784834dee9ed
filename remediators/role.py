"""The least-privilege custom role, derived from what each remediator declares it needs.

``infra/foundry-guard-role.json`` is this output, committed; a test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

from .registry import REMEDIATORS

ROLE_NAME = "Foundry Guard Remediator"


def role_definition() -> dict[str, Any]:
    actions = sorted({action for remediator in REMEDIATORS for action in remediator.arm_actions}, key=str.casefold)
    return {
        "Name": ROLE_NAME,
        "IsCustom": True,
        "Description": "Read and PATCH the resource types Foundry Guard remediates; nothing else. "
        "Assign it at the narrowest scopes that hold guarded resources.",
        "Actions": actions,
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": ["/subscriptions/{subscriptionId}"],
    }
