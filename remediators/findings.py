"""What detection produces: findings, and the plan that would put each one right.

The strings of :class:`BreakageKind`, :class:`Confidence` and :class:`Guarded` are part of the
public interface (CLI output, ledger rows, notifications): never rename them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class BreakageKind(StrEnum):
    LOCAL_AUTH_DISABLED = "local_auth_disabled"
    MANAGED_RG_FIREWALL_LOCKED = "managed_rg_firewall_locked"
    OUTBOUND_RESTRICTION_REMOVED = "outbound_restriction_removed"
    OUTBOUND_ALLOWLIST_DRIFT = "outbound_allowlist_drift"


class Confidence(StrEnum):
    CONFIRMED = "confirmed"  # the property alone proves the breakage, or logs show it biting
    SUSPECTED = "suspected"  # the property is off the platform default; it may still be harmless


class Guarded(StrEnum):
    MANAGED_RG = "managed-rg"  # fixes restore the platform's defaults (they loosen)
    AI_ACCOUNT = "ai-account"  # fixes restore the outbound restriction (they tighten)


@dataclass(frozen=True)
class Plan:
    """The smallest PATCH that puts one finding right.

    ``body`` holds exactly the properties to change: nothing a typed SDK model would add.
    ``proposal_only`` marks a plan a person must confirm because it cannot be derived safely
    (for example an outbound allowlist with no recorded baseline); ``reason`` says why.
    """

    body: dict[str, Any]
    api_version: str
    proposal_only: bool = False
    reason: str | None = None

    def body_bytes(self) -> bytes:
        """The exact bytes sent to ARM: compact JSON, keys in the order the plan wrote them."""
        return patch_bytes(self.body)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": "PATCH", "apiVersion": self.api_version, "body": self.body}
        out["proposalOnly"] = self.proposal_only
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Finding:
    kind: BreakageKind
    resource_id: str
    property: str  # dotted path in the resource body, e.g. "properties.disableLocalAuth"
    observed: Any
    expected: Any
    confidence: Confidence
    why: str  # what the breakage does to the workspace or account, in one sentence
    evidence: tuple[str, ...]  # the facts behind the finding: the property's value, scope, log rows
    plan: Plan

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "resourceId": self.resource_id,
            "property": self.property,
            "observed": self.observed,
            "expected": self.expected,
            "confidence": str(self.confidence),
            "why": self.why,
            "evidence": list(self.evidence),
            "plan": self.plan.to_json(),
        }


@dataclass(frozen=True)
class ResourcePlan:
    """All of a resource's findings merged into the one PATCH that would fix them together."""

    resource_id: str
    api_version: str
    body: dict[str, Any]
    proposal_only: bool
    reasons: tuple[str, ...] = field(default=())

    def body_bytes(self) -> bytes:
        return patch_bytes(self.body)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": "PATCH", "apiVersion": self.api_version, "body": self.body}
        out["proposalOnly"] = self.proposal_only
        if self.reasons:
            out["reasons"] = list(self.reasons)
        return out


class ConflictingPlans(ValueError):
    """Two findings on one resource want different values for the same property."""


def merge_plans(resource_id: str, findings: Iterable[Finding]) -> ResourcePlan | None:
    """One PATCH for all findings on a resource; ``None`` when there is nothing to fix."""
    findings = list(findings)
    if not findings:
        return None
    versions = {f.plan.api_version for f in findings}
    if len(versions) != 1:
        raise ConflictingPlans(f"findings on {resource_id} use different api-versions: {sorted(versions)}")
    body: dict[str, Any] = {}
    for finding in findings:
        _merge_into(body, finding.plan.body, resource_id)
    reasons = tuple(dict.fromkeys(f.plan.reason for f in findings if f.plan.proposal_only and f.plan.reason))
    return ResourcePlan(
        resource_id=resource_id,
        api_version=versions.pop(),
        body=body,
        proposal_only=any(f.plan.proposal_only for f in findings),
        reasons=reasons,
    )


def _merge_into(target: dict[str, Any], patch: Mapping[str, Any], resource_id: str, path: str = "") -> None:
    for key, value in patch.items():
        where = f"{path}.{key}" if path else key
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, Mapping):
            _merge_into(target[key], value, resource_id, where)
        elif target[key] != value:
            raise ConflictingPlans(f"findings on {resource_id} disagree on {where}: {target[key]!r} vs {value!r}")


def patch_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def apply_patch(resource: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """What ``resource`` looks like after ARM merges ``body`` into it (objects merge, arrays replace).

    Used to check that a plan, once applied, leaves nothing to find (the "already fixed" state).
    """
    result = copy.deepcopy(dict(resource))
    _merge_patch(result, body)
    return result


def _merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        # The exact key first, as arm_json.lookup reads it; else ARM's case-insensitive match.
        existing = (
            key
            if key in target
            else next((k for k in target if isinstance(k, str) and k.casefold() == key.casefold()), key)
        )
        if isinstance(value, Mapping) and isinstance(target.get(existing), dict):
            _merge_patch(target[existing], value)
        else:
            target.pop(existing, None)
            target[key] = copy.deepcopy(value)
