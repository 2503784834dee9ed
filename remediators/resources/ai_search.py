"""AI Search service in a workspace's managed resource group.

The workspace queries this service with its admin keys over the public endpoint. Disabling
local auth (or clearing ``authOptions``) and closing the firewall both break it; the field
report saw the firewall case directly (403s in the service's OperationLogs), so every finding
here is *confirmed*.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..arm_json import as_bool, as_list, lookup, public_access_closed, replaced
from ..findings import BreakageKind, Confidence, Finding, Guarded
from ..remediator import Context, Remediator, SdkBinding, finding

RESOURCE_TYPE = "Microsoft.Search/searchServices"
API_VERSION = "2025-05-01"

# What the platform sets: keys only. A recorded baseline may say aadOrApiKey instead.
DEFAULT_AUTH_OPTIONS: dict[str, Any] = {"apiKeyOnly": {}}
AUTH_OPTION_NAMES = ("apiKeyOnly", "aadOrApiKey")

LOCAL_AUTH_WHY = (
    "the workspace calls its managed AI Search with API keys; with local auth disabled every call is refused"
)
FIREWALL_WHY = (
    "the workspace reaches its managed AI Search over the public endpoint; with the firewall "
    "closed its calls fail 403 (seen in the field)"
)


def detect(resource: Mapping[str, Any], context: Context) -> list[Finding]:
    properties = lookup(resource, "properties")
    found = partial(finding, context, api_version=API_VERSION, confidence=Confidence.CONFIRMED)
    findings: list[Finding] = []

    auth_options, source = _auth_options_to_restore(context)
    local_auth_patch = {"disableLocalAuth": False, "authOptions": auth_options}
    local_auth_why = f"{LOCAL_AUTH_WHY}; authOptions restored from {source}"
    disable_local_auth = lookup(properties, "disableLocalAuth")
    if as_bool(disable_local_auth) is True:
        findings.append(
            found(
                BreakageKind.LOCAL_AUTH_DISABLED,
                "disableLocalAuth",
                disable_local_auth,
                False,
                why=local_auth_why,
                patch=local_auth_patch,
            )
        )
    elif lookup(properties, "authOptions") is None:
        # Present but null: no API key is accepted. Absent (MISSING) says nothing: older
        # api-versions omit it.
        findings.append(
            found(
                BreakageKind.LOCAL_AUTH_DISABLED,
                "authOptions",
                None,
                auth_options,
                why=local_auth_why,
                patch=local_auth_patch,
            )
        )

    firewall = partial(found, BreakageKind.MANAGED_RG_FIREWALL_LOCKED, why=FIREWALL_WHY)
    public_access = lookup(properties, "publicNetworkAccess")
    if public_access_closed(public_access):
        findings.append(
            firewall("publicNetworkAccess", public_access, "Enabled", patch={"publicNetworkAccess": "Enabled"})
        )
    network_rule_set = lookup(properties, "networkRuleSet")
    ip_rules = as_list(lookup(network_rule_set, "ipRules"))
    if ip_rules:
        # networkRuleSet is sent whole with only ipRules emptied, so its bypass survives whether
        # the service merges or replaces the nested object.
        findings.append(
            firewall(
                "networkRuleSet.ipRules",
                ip_rules,
                [],
                patch={"networkRuleSet": replaced(network_rule_set, "ipRules", [])},
            )
        )
    return findings


def _auth_options_to_restore(context: Context) -> tuple[dict[str, Any], str]:
    """The recorded ``authOptions`` if the baseline holds a well-formed one, else the platform's."""
    if context.baseline is not None:
        recorded = context.baseline.get("properties.authOptions")
        if (
            isinstance(recorded, dict)
            and len(recorded) == 1
            and next(iter(recorded)) in AUTH_OPTION_NAMES
            and isinstance(next(iter(recorded.values())), dict)
        ):
            return recorded, context.baseline.describe()
    return dict(DEFAULT_AUTH_OPTIONS), "the platform default (apiKeyOnly)"


REMEDIATOR = Remediator(
    name="ai_search",
    resource_type=RESOURCE_TYPE,
    guards=Guarded.MANAGED_RG,
    kinds=(BreakageKind.LOCAL_AUTH_DISABLED, BreakageKind.MANAGED_RG_FIREWALL_LOCKED),
    api_version=API_VERSION,
    arm_actions=(
        "Microsoft.Search/searchServices/read",
        "Microsoft.Search/searchServices/write",
    ),
    sdk=SdkBinding("azure.mgmt.search:SearchManagementClient", "services", list_all="list_by_subscription"),
    detect=detect,
)
