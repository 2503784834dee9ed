"""The shape every per-resource-type remediator module declares.

A remediator module (``remediators/resources/*.py``) says what it guards, how it detects,
what it patches and which ARM actions that needs, as one :class:`Remediator` named
``REMEDIATOR``. The registry, the docs check and the least-privilege roles are all derived from
these declarations, so adding a resource type touches one module, one docs page and the
registry's list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .arm_json import MISSING
from .baselines import Baseline
from .findings import BreakageKind, Confidence, Finding, Guarded, Plan


class ConfirmingDenial(str):
    """A diagnostic-log line proving a suspected breakage bites: the workspace's own requests refused.

    Lines in ``Context.access_denials`` are shown as evidence whatever they say; only these confirm.
    Anyone can make a request to a public endpoint fail, so a refusal of an anonymous or unknown
    caller stays a plain line (:mod:`remediators.evidence` decides which is which). A line that
    loses this type (copied into plain text, serialised) confirms nothing: the safe direction.
    """

    __slots__ = ()


@dataclass(frozen=True)
class Context:
    """What detection knows besides the resource body. Everything here is already read: detection is pure."""

    resource_id: str
    scope_evidence: str  # why the resource is guarded, e.g. which naming rule its group matched
    baseline: Baseline | None = None
    # Diagnostic-log lines about requests to this resource refused (401/403), all shown as evidence;
    # the ConfirmingDenial ones (the workspace's own requests) turn a *suspected* finding *confirmed*.
    access_denials: tuple[str, ...] = ()


Detect = Callable[[Mapping[str, Any], Context], list[Finding]]


@dataclass(frozen=True)
class SdkBinding:
    """How the type's azure-mgmt client reads and updates one resource.

    Every guarded type's client has the same shape: ``ops.get(rg, name)`` and
    ``ops.update(rg, name, body)``; only the names differ.
    """

    client: str  # "module:Class", imported on first use
    operations: str  # the client's operations group, e.g. "database_accounts"
    get: str = "get"
    update: str = "update"  # "begin_update" for long-running updates
    long_running: bool = False
    list_all: str = "list"  # every resource of the type in the client's subscription


@dataclass(frozen=True)
class Remediator:
    name: str  # the module's name; also its docs page, docs/remediators/{name}.md
    resource_type: str  # ARM type, compared case-insensitively
    guards: Guarded
    kinds: tuple[BreakageKind, ...]
    api_version: str  # the api-version of the PATCH bodies it plans
    arm_actions: tuple[str, ...]  # every ARM action reading and fixing this type needs
    sdk: SdkBinding
    detect: Detect
    kinds_of_account: tuple[str, ...] = ()  # for types whose ``kind`` narrows what is guarded

    def handles(self, resource_type: str, kind: Any) -> bool:
        if resource_type.casefold() != self.resource_type.casefold():
            return False
        if not self.kinds_of_account:
            return True
        return isinstance(kind, str) and kind.casefold() in {k.casefold() for k in self.kinds_of_account}


def finding(
    context: Context,
    kind: BreakageKind,
    prop: str,
    observed: Any,
    expected: Any,
    *,
    confidence: Confidence,
    why: str,
    patch: dict[str, Any],
    api_version: str,
    proposal_only: bool = False,
    reason: str | None = None,
) -> Finding:
    """A finding on ``properties.{prop}`` whose plan PATCHes exactly ``{"properties": patch}``.

    An absent property is observed as ``null``: that is what ARM means by leaving it out.
    """
    observed = None if observed is MISSING else observed
    lines = [f"properties.{prop} is {json.dumps(observed, default=repr)}", context.scope_evidence]
    lines += [f"diagnostic log: {row}" for row in context.access_denials]
    return Finding(
        kind=kind,
        resource_id=context.resource_id,
        property=f"properties.{prop}",
        observed=observed,
        expected=expected,
        confidence=confidence,
        why=why,
        evidence=tuple(lines),
        plan=Plan({"properties": patch}, api_version, proposal_only=proposal_only, reason=reason),
    )


def suspected_until_logs_confirm(context: Context, why: str, suspicion: str) -> dict[str, Any]:
    """``confidence`` and ``why`` for a breakage that may be harmless.

    Confirmed only once diagnostic logs show the workspace's own requests refused (a
    :class:`ConfirmingDenial`); other callers' refusals are evidence lines, never proof. Until
    then the ``why`` says what makes it only a suspicion.
    """
    if any(isinstance(line, ConfirmingDenial) for line in context.access_denials):
        return {
            "confidence": Confidence.CONFIRMED,
            "why": f"{why}; diagnostic logs show the workspace's own requests refused",
        }
    return {"confidence": Confidence.SUSPECTED, "why": f"{why}; {suspicion}"}
