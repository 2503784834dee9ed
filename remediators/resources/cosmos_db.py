"""Cosmos DB account in a workspace's managed resource group.

The workspace reaches this account with its account keys over the public endpoint (or the
platform's own private endpoint). Turning local auth off breaks every data-plane call with
401, substatus 5202 ("Local Authorization is disabled"). Closing the firewall *may* break it:
the field report saw a workspace with a private endpoint keep working with public access
disabled, so firewall findings stay *suspected* until diagnostic logs show the workspace's own
requests refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..arm_json import as_bool, as_list, lookup, public_access_closed
from ..findings import BreakageKind, Confidence, Finding, Guarded
from ..remediator import Context, Remediator, SdkBinding, finding, suspected_until_logs_confirm

RESOURCE_TYPE = "Microsoft.DocumentDB/databaseAccounts"
API_VERSION = "2026-03-15"

LOCAL_AUTH_WHY = (
    "the workspace authenticates to its managed Cosmos DB with account keys; with local auth "
    "disabled every data-plane call fails 401, substatus 5202"
)
FIREWALL_WHY = "the platform leaves the managed Cosmos DB reachable without network rules"
SUSPECTED_WHY = (
    "suspected only: with a workspace private endpoint Cosmos DB can keep working with public "
    "access disabled, and no diagnostic log shows the workspace's own requests refused"
)


def detect(resource: Mapping[str, Any], context: Context) -> list[Finding]:
    properties = lookup(resource, "properties")
    found = partial(finding, context, api_version=API_VERSION)
    findings: list[Finding] = []

    disable_local_auth = lookup(properties, "disableLocalAuth")
    if as_bool(disable_local_auth) is True:
        findings.append(
            found(
                BreakageKind.LOCAL_AUTH_DISABLED,
                "disableLocalAuth",
                disable_local_auth,
                False,
                confidence=Confidence.CONFIRMED,
                why=LOCAL_AUTH_WHY,
                patch={"disableLocalAuth": False},
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
    ip_rules = as_list(lookup(properties, "ipRules"))
    if ip_rules:
        findings.append(firewall("ipRules", ip_rules, [], patch={"ipRules": []}))
    vnet_filter = lookup(properties, "isVirtualNetworkFilterEnabled")
    if as_bool(vnet_filter) is True:
        # Turning the filter off is enough: the rules stay where a person can still see them.
        findings.append(
            firewall(
                "isVirtualNetworkFilterEnabled", vnet_filter, False, patch={"isVirtualNetworkFilterEnabled": False}
            )
        )
    return findings


REMEDIATOR = Remediator(
    name="cosmos_db",
    resource_type=RESOURCE_TYPE,
    guards=Guarded.MANAGED_RG,
    kinds=(BreakageKind.LOCAL_AUTH_DISABLED, BreakageKind.MANAGED_RG_FIREWALL_LOCKED),
    api_version=API_VERSION,
    arm_actions=(
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
        # An account with VNet rules refuses any change (LinkedAuthorizationFailed) unless the caller
        # may also join each rule's subnet (Microsoft's Cosmos DB VNet service endpoint doc).
        "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
    ),
    sdk=SdkBinding(
        "azure.mgmt.cosmosdb:CosmosDBManagementClient",
        "database_accounts",
        update="begin_update",
        long_running=True,
    ),
    detect=detect,
)
