"""Storage account in a workspace's managed resource group.

The workspace signs its requests with the account key, and the platform leaves the account's
firewall on with trusted Azure services allowed through. Disabling shared-key access breaks it
(403 "Key based authentication is not permitted"); closing public access or dropping the
AzureServices bypass *may* break it, so those findings stay *suspected* until diagnostic logs
show refused requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..arm_json import as_bool, comma_separated, lookup, public_access_closed, replaced, same_text
from ..findings import BreakageKind, Confidence, Finding, Guarded
from ..remediator import Context, Remediator, finding, suspected_until_logs_confirm

RESOURCE_TYPE = "Microsoft.Storage/storageAccounts"
API_VERSION = "2026-09-01"

LOCAL_AUTH_WHY = (
    "the workspace signs requests to its managed Storage account with the account key; with "
    "shared-key access off they fail 403 (key-based authentication is not permitted)"
)
FIREWALL_WHY = (
    "the platform leaves the managed Storage account's firewall on with trusted Azure services "
    "allowed (bypass AzureServices)"
)
SUSPECTED_WHY = "suspected only: no diagnostic log shows refused requests"


def detect(resource: Mapping[str, Any], context: Context) -> list[Finding]:
    properties = lookup(resource, "properties")
    found = partial(finding, context, api_version=API_VERSION)
    findings: list[Finding] = []

    shared_key = lookup(properties, "allowSharedKeyAccess")
    if as_bool(shared_key) is False:  # null means allowed
        findings.append(
            found(
                BreakageKind.LOCAL_AUTH_DISABLED,
                "allowSharedKeyAccess",
                shared_key,
                True,
                confidence=Confidence.CONFIRMED,
                why=LOCAL_AUTH_WHY,
                patch={"allowSharedKeyAccess": True},
            )
        )

    firewall = partial(
        found,
        BreakageKind.MANAGED_RG_FIREWALL_LOCKED,
        **suspected_until_logs_confirm(context, FIREWALL_WHY, SUSPECTED_WHY),
    )
    public_access = lookup(properties, "publicNetworkAccess")
    if public_access_closed(public_access):
        findings.append(
            firewall("publicNetworkAccess", public_access, "Enabled", patch={"publicNetworkAccess": "Enabled"})
        )
    network_acls = lookup(properties, "networkAcls")
    default_action = lookup(network_acls, "defaultAction")
    bypass = lookup(network_acls, "bypass")
    bypassed = comma_separated(bypass)
    if same_text(default_action, "Deny") and not any(same_text(item, "AzureServices") for item in bypassed):
        restored = ", ".join([item for item in bypassed if not same_text(item, "None")] + ["AzureServices"])
        # Storage replaces networkAcls whole on PATCH: send it as it is, bypass changed, or the
        # account's IP and VNet rules would be dropped.
        findings.append(
            firewall(
                "networkAcls.bypass",
                bypass,
                restored,
                patch={"networkAcls": replaced(network_acls, "bypass", restored)},
            )
        )
    return findings


REMEDIATOR = Remediator(
    name="storage_account",
    resource_type=RESOURCE_TYPE,
    guards=Guarded.MANAGED_RG,
    kinds=(BreakageKind.LOCAL_AUTH_DISABLED, BreakageKind.MANAGED_RG_FIREWALL_LOCKED),
    api_version=API_VERSION,
    arm_actions=(
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/write",
    ),
    detect=detect,
)
