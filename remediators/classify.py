"""From one resource body to its findings and plan: scope, then the type's remediator. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .arm_json import MISSING, lookup
from .baselines import NO_BASELINES, BaselineSource
from .findings import Finding, Guarded, ResourcePlan, merge_plans
from .registry import remediator_for
from .remediator import Context
from .resource_ids import InvalidResourceId, parse_resource_id
from .scope import ScopeDecision, ScopeRules, decide_scope


class NotAResource(ValueError):
    """The input is not an ARM resource body; the message says what it is instead, in one line."""


@dataclass(frozen=True)
class Classification:
    resource_id: str
    resource_type: str | None
    guarded: Guarded | None
    reason: str  # why it is guarded, or why it is left alone
    findings: tuple[Finding, ...]
    plan: ResourcePlan | None  # all findings merged into one PATCH; None when nothing is broken
    # False for a managed-group candidate no workspace (or setting) has proven: report, never loosen
    proven: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "resourceId": self.resource_id,
            "type": self.resource_type,
            "guarded": str(self.guarded) if self.guarded else None,
            "proven": self.proven if self.guarded else None,
            "reason": self.reason,
            "findings": [finding.to_json() for finding in self.findings],
            "plan": self.plan.to_json() if self.plan else None,
        }


def classify(
    resource: Any,
    rules: ScopeRules,
    *,
    baselines: BaselineSource = NO_BASELINES,
    access_denials: Iterable[str] = (),
    treat_as_managed: bool = False,
    proof: ScopeDecision | None = None,
) -> Classification:
    """Classify a resource body (a GET response). Raises :class:`NotAResource` and nothing else.

    ``proof`` is the workspace inventory's decision on a managed-group candidate's group (the
    pipeline reads it); without it a group its name alone nominates is classified ``proven: false``.
    """
    if not isinstance(resource, Mapping):
        raise NotAResource(f"expected one ARM resource (a JSON object), got {_json_type(resource)}")
    raw_id = lookup(resource, "id")
    if raw_id is MISSING or raw_id is None:
        raise NotAResource(_missing_id_hint(resource))
    try:
        resource_id = parse_resource_id(raw_id)
    except InvalidResourceId as error:
        raise NotAResource(str(error)) from None
    resource_type = resource_id.resource_type
    body_type = lookup(resource, "type")
    if isinstance(body_type, str) and resource_type and body_type.casefold() != resource_type.casefold():
        raise NotAResource(f"'type' {body_type!r} does not match the type in the id, {resource_type!r}")

    remediator = remediator_for(resource_type or "", lookup(resource, "kind"))
    decision = decide_scope(
        resource,
        resource_id,
        resource_type or "(none)",
        remediator.guards if remediator else None,
        rules,
        treat_as_managed=treat_as_managed,
        proof=proof,
    )
    if remediator is None or decision.guarded is None:
        return Classification(resource_id.text, resource_type, None, decision.reason, (), None)
    context = Context(
        resource_id=resource_id.text,
        scope_evidence=decision.reason,
        baseline=baselines.baseline_for(resource_id.text),
        access_denials=tuple(access_denials),
    )
    findings = tuple(remediator.detect(resource, context))
    return Classification(
        resource_id.text,
        resource_type,
        decision.guarded,
        decision.reason,
        findings,
        merge_plans(resource_id.text, findings),
        proven=decision.proven,
    )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return f"a JSON array of {len(value)} item(s)"
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _missing_id_hint(resource: Mapping[str, Any]) -> str:
    keys = {k.casefold() for k in resource if isinstance(k, str)}
    if {"parameters", "responses"} <= keys:
        return "this is an x-ms-examples file, not a resource: pass the body of one of its responses"
    if {"eventtype", "subject"} <= keys or {"type", "source", "specversion"} <= keys:
        return "this is an event, not a resource body: classify takes the resource's GET body"
    if {"schemaid", "data"} <= keys:
        return "this is an alert payload, not a resource body: classify takes the resource's GET body"
    return "the resource has no 'id'"
