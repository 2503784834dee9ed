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
from ..remediator import Context, Remediator, SdkBinding, finding, suspected_until_logs_confirm

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
SUSPECTED_WHY = "suspected only: no diagnostic log shows the workspace's own requests refused"
SERVICE_SUSPICION = (
    "suspected only: the workspace is known to use the blob service with the key, not these; "
    "they are off the platform default"
)


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
    per_service = lookup(properties, "allowSharedKeyAccessForServices")
    refused = _services_refusing_shared_key(per_service)
    if refused:
        # One finding for the object, sent whole with only the refusing services turned back on,
        # so the other services keep their setting whether Storage merges or replaces it.
        services_restored = dict(per_service)
        for service in refused:
            services_restored[service] = replaced(per_service[service], "enabled", True)
        blob = any(same_text(service, "blob") for service in refused)
        why = LOCAL_AUTH_WHY if blob else f"shared-key access is off for {', '.join(refused)}; {SERVICE_SUSPICION}"
        findings.append(
            found(
                BreakageKind.LOCAL_AUTH_DISABLED,
                "allowSharedKeyAccessForServices",
                per_service,
                services_restored,
                confidence=Confidence.CONFIRMED if blob else Confidence.SUSPECTED,
                why=why,
                patch={"allowSharedKeyAccessForServices": services_restored},
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


def _services_refusing_shared_key(per_service: Any) -> list[str]:
    """Services of ``allowSharedKeyAccessForServices`` whose ``enabled`` is false (null: the account default)."""
    if not isinstance(per_service, Mapping):
        return []
    return [
        service
        for service, setting in per_service.items()
        if isinstance(service, str) and as_bool(lookup(setting, "enabled")) is False
    ]


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
    sdk=SdkBinding("azure.mgmt.storage:StorageManagementClient", "storage_accounts", get="get_properties"),
    detect=detect,
)
