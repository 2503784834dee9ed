"""Azure OpenAI / AI Services account: keep its outbound restriction.

An account with ``restrictOutboundNetworkAccess: true`` can only call the FQDNs in its
``allowedFqdnList`` (the AI Search behind "chat with your data", the blob endpoint for image
URLs). Remove the restriction, or let the list grow, and prompts can carry data anywhere.
Here the fix *tightens*: it restores the restriction and the recorded list, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..arm_json import as_bool, as_list, lookup
from ..findings import BreakageKind, Confidence, Finding, Guarded
from ..remediator import Context, Remediator, SdkBinding, finding

RESOURCE_TYPE = "Microsoft.CognitiveServices/accounts"
ACCOUNT_KINDS = ("OpenAI", "AIServices")
API_VERSION = "2025-09-01"

REMOVED_WHY = "without restrictOutboundNetworkAccess the account can call any endpoint, so data can leave"
DRIFT_WHY = "the account may call endpoints that its recorded allowlist does not name"
NO_BASELINE = (
    "no recorded baseline of allowedFqdnList: a person must confirm the list before the "
    "restriction is restored, or the account's needed endpoints are cut off"
)


def detect(resource: Mapping[str, Any], context: Context) -> list[Finding]:
    properties = lookup(resource, "properties")
    found = partial(finding, context, api_version=API_VERSION, confidence=Confidence.CONFIRMED)
    restrict = lookup(properties, "restrictOutboundNetworkAccess")
    current = _fqdns(lookup(properties, "allowedFqdnList"))
    recorded = _fqdns(context.baseline.get("properties.allowedFqdnList")) if context.baseline else None

    if as_bool(restrict) is not True:
        if recorded is not None:
            why, allowlist, proposal = f"{REMOVED_WHY}; allowedFqdnList from the {_describe(context)}", recorded, None
        else:
            why, allowlist, proposal = REMOVED_WHY, current or [], NO_BASELINE
        return [
            found(
                BreakageKind.OUTBOUND_RESTRICTION_REMOVED,
                "restrictOutboundNetworkAccess",
                restrict,
                True,
                why=why,
                patch={"restrictOutboundNetworkAccess": True, "allowedFqdnList": allowlist},
                proposal_only=proposal is not None,
                reason=proposal,
            )
        ]

    if recorded is not None and _normalised(current or []) != _normalised(recorded):
        added = sorted(_normalised(current or []) - _normalised(recorded))
        removed = sorted(_normalised(recorded) - _normalised(current or []))
        return [
            found(
                BreakageKind.OUTBOUND_ALLOWLIST_DRIFT,
                "allowedFqdnList",
                lookup(properties, "allowedFqdnList"),
                recorded,
                why=f"{DRIFT_WHY}; added {added or 'nothing'}, removed {removed or 'nothing'} "
                f"since the {_describe(context)}",
                patch={"allowedFqdnList": recorded},
            )
        ]
    return []


def _fqdns(value: Any) -> list[str] | None:
    """The list of FQDN strings, or ``None`` if ``value`` is not a list of strings."""
    items = as_list(value)
    if items is None or not all(isinstance(item, str) for item in items):
        return None
    return items


def _normalised(fqdns: list[str]) -> set[str]:
    # DNS names are case-insensitive, and a trailing dot names the same host.
    return {fqdn.strip().rstrip(".").casefold() for fqdn in fqdns}


def _describe(context: Context) -> str:
    return context.baseline.describe() if context.baseline else "baseline"


REMEDIATOR = Remediator(
    name="ai_account",
    resource_type=RESOURCE_TYPE,
    kinds_of_account=ACCOUNT_KINDS,
    guards=Guarded.AI_ACCOUNT,
    kinds=(BreakageKind.OUTBOUND_RESTRICTION_REMOVED, BreakageKind.OUTBOUND_ALLOWLIST_DRIFT),
    api_version=API_VERSION,
    arm_actions=(
        "Microsoft.CognitiveServices/accounts/read",
        "Microsoft.CognitiveServices/accounts/write",
    ),
    sdk=SdkBinding(
        "azure.mgmt.cognitiveservices:CognitiveServicesManagementClient",
        "accounts",
        update="begin_update",
        long_running=True,
    ),
    detect=detect,
)
