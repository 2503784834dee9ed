"""The properties of a managed resource group's resources that a policy can break, named as Azure
Policy names them.

A policy reads and writes a resource through aliases: ``Microsoft.DocumentDB/databaseAccounts/
disableLocalAuth`` is ``properties.disableLocalAuth`` of a Cosmos DB account. Each guarded
property here holds the value the guard's fix restores (DESIGN section 2): that is the value a
Modify policy would rewrite and a Deny policy would refuse. Whether a value a policy writes
breaks the workspace is not decided here: the type's own remediator decides, by detecting on the
platform's body with that one value changed, so the policy check and the fix never disagree.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..arm_json import MISSING
from ..findings import BreakageKind
from ..remediator import Context, Remediator
from ..resources import ai_search, cosmos_db, storage_account

LOCAL_AUTH = BreakageKind.LOCAL_AUTH_DISABLED
FIREWALL = BreakageKind.MANAGED_RG_FIREWALL_LOCKED


@dataclass(frozen=True)
class GuardedProperty:
    remediator: Remediator
    path: str  # below ``properties``, dotted as the alias spells it: "networkRuleSet.ipRules"
    platform_value: Any  # what the platform leaves and the guard's fix restores
    kind: BreakageKind  # what leaving that value causes

    @property
    def resource_type(self) -> str:
        return self.remediator.resource_type

    @property
    def alias(self) -> str:
        return f"{self.resource_type}/{self.path}"

    def kind_caused(self, value: Any) -> BreakageKind | None:
        """The breakage that writing ``value`` here causes, as the type's remediator detects it on the
        platform's body; ``None`` when the workspace keeps working. ``MISSING`` removes the property."""
        body = platform_body(self.resource_type)
        _set_path(body["properties"], self.path, value)
        context = Context(resource_id=_PLACEHOLDER_ID[self.resource_type], scope_evidence="a policy's write")
        findings = self.remediator.detect(body, context)
        return findings[0].kind if findings else None


GUARDED_PROPERTIES: tuple[GuardedProperty, ...] = (
    GuardedProperty(cosmos_db.REMEDIATOR, "disableLocalAuth", False, LOCAL_AUTH),
    GuardedProperty(cosmos_db.REMEDIATOR, "publicNetworkAccess", "Enabled", FIREWALL),
    GuardedProperty(cosmos_db.REMEDIATOR, "ipRules", [], FIREWALL),
    GuardedProperty(cosmos_db.REMEDIATOR, "isVirtualNetworkFilterEnabled", False, FIREWALL),
    GuardedProperty(ai_search.REMEDIATOR, "disableLocalAuth", False, LOCAL_AUTH),
    GuardedProperty(ai_search.REMEDIATOR, "authOptions", ai_search.DEFAULT_AUTH_OPTIONS, LOCAL_AUTH),
    GuardedProperty(ai_search.REMEDIATOR, "publicNetworkAccess", "Enabled", FIREWALL),
    GuardedProperty(ai_search.REMEDIATOR, "networkRuleSet.ipRules", [], FIREWALL),
    GuardedProperty(storage_account.REMEDIATOR, "allowSharedKeyAccess", True, LOCAL_AUTH),
    GuardedProperty(storage_account.REMEDIATOR, "publicNetworkAccess", "Enabled", FIREWALL),
    GuardedProperty(storage_account.REMEDIATOR, "networkAcls.bypass", "AzureServices", FIREWALL),
)

# Known platform values that break nothing by themselves but decide what a change to a guarded one
# does: Storage's firewall is on (DESIGN section 2), so only its AzureServices bypass lets the
# workspace through.
CONTEXT_VALUES: Mapping[str, Mapping[str, Any]] = {
    storage_account.RESOURCE_TYPE: {"networkAcls.defaultAction": "Deny"},
}

MANAGED_TYPES: tuple[str, ...] = tuple(dict.fromkeys(p.resource_type for p in GUARDED_PROPERTIES))

_PLACEHOLDER_ID = {
    resource_type: f"/subscriptions/policy/resourceGroups/managed/providers/{resource_type}/platform"
    for resource_type in MANAGED_TYPES
}


def guarded_properties(resource_type: str) -> tuple[GuardedProperty, ...]:
    return tuple(p for p in GUARDED_PROPERTIES if p.resource_type.casefold() == resource_type.casefold())


def guarded_property(alias: str) -> GuardedProperty | None:
    """The guarded property an alias names, or one element of (``ipRules[*]``, ``ipRules[*].value``)."""
    base = alias.split("[*]", 1)[0].casefold()
    return next((p for p in GUARDED_PROPERTIES if p.alias.casefold() == base), None)


def platform_values(resource_type: str) -> dict[str, Any]:
    """Every known platform value of a managed resource of this type, keyed by its path below ``properties``."""
    values = {p.path: copy.deepcopy(p.platform_value) for p in guarded_properties(resource_type)}
    for known_type, extra in CONTEXT_VALUES.items():
        if known_type.casefold() == resource_type.casefold():
            values.update(copy.deepcopy(dict(extra)))
    return values


def platform_body(resource_type: str) -> dict[str, Any]:
    """A managed resource of this type as the platform leaves it, as far as the guard knows it."""
    properties: dict[str, Any] = {}
    for path, value in platform_values(resource_type).items():
        _set_path(properties, path, value)
    return {"id": _PLACEHOLDER_ID[resource_type], "type": resource_type, "properties": properties}


def _set_path(properties: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = properties
    for key in parents:
        node = node.setdefault(key, {})
    if value is MISSING:
        node.pop(last, None)
    else:
        node[last] = copy.deepcopy(value)
