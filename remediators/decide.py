"""Whether a finding is fixed automatically, proposed to a person, or only observed. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from .findings import BreakageKind, Confidence, Finding


class Mode(StrEnum):
    APPLY = "apply"  # PATCH now
    PROPOSE = "propose"  # a person approves first
    OBSERVE = "observe"  # record and notify only


def default_mode(finding: Finding) -> Mode:
    """The defaults: act where the breakage is certain and the fix derivable, ask where not.

    * ``local_auth_disabled``: apply (the property alone proves the workspace is broken).
    * ``managed_rg_firewall_locked``: apply when confirmed; propose when only suspected (a
      workspace with a private endpoint may work with Cosmos DB public access disabled).
    * ``outbound_restriction_removed``: apply when a baseline gives the allowlist; else propose.
    * ``outbound_allowlist_drift``: propose (a grown list may be a deliberate change).
    """
    if finding.plan.proposal_only:
        return Mode.PROPOSE
    if finding.kind is BreakageKind.LOCAL_AUTH_DISABLED:
        return Mode.APPLY
    if finding.kind is BreakageKind.MANAGED_RG_FIREWALL_LOCKED:
        return Mode.APPLY if finding.confidence is Confidence.CONFIRMED else Mode.PROPOSE
    if finding.kind is BreakageKind.OUTBOUND_RESTRICTION_REMOVED:
        return Mode.APPLY
    return Mode.PROPOSE


def decide(finding: Finding, *, dry_run: bool = False, modes: Mapping[BreakageKind, Mode] | None = None) -> Mode:
    """The mode for one finding: ``modes`` overrides the default per kind; a dry run never
    applies, and neither does a proposal-only plan (it lacks the facts to be applied safely)."""
    if finding.plan.proposal_only:
        return Mode.PROPOSE
    mode = (modes or {}).get(finding.kind, default_mode(finding))
    if dry_run and mode is Mode.APPLY:
        return Mode.PROPOSE
    return mode
