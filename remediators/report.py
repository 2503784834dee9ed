"""Classifications as text a person on call can read at a glance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .classify import Classification

ARM_HOST = "https://management.azure.com"


def render_text(classification: Classification) -> str:
    lines = [classification.resource_id]
    if classification.guarded is None:
        lines.append(f"  left alone: {classification.reason}")
        return "\n".join(lines)
    lines.append(f"  guarded ({classification.guarded}): {classification.reason}")
    if not classification.findings:
        lines.append("  healthy: nothing to fix")
        return "\n".join(lines)
    for finding in classification.findings:
        lines.append(
            f"  BROKEN {finding.kind} [{finding.confidence}] {finding.property}: "
            f"{_value(finding.observed)} -> {_value(finding.expected)}"
        )
        lines.append(f"         why: {finding.why}")
    plan = classification.plan
    if plan is not None:
        verb = "proposed fix (needs a person)" if plan.proposal_only else "fix"
        lines.append(f"  {verb}: PATCH {plan.body_bytes().decode()}")
        for reason in plan.reasons:
            lines.append(f"         because {reason}")
        lines.append(f"  by hand: {manual_command(plan.resource_id, plan.api_version, plan.body)}")
    return "\n".join(lines)


def render_summary(classifications: Sequence[Classification], refused: int = 0) -> str:
    guarded = [c for c in classifications if c.guarded is not None]
    broken = [c for c in guarded if c.plan is not None]
    proposals = [c for c in broken if c.plan is not None and c.plan.proposal_only]
    parts = [
        f"{len(classifications)} resource(s): {len(guarded)} guarded, {len(broken)} broken "
        f"({len(broken) - len(proposals)} with a fix, {len(proposals)} with a proposal for a person), "
        f"{len(classifications) - len(guarded)} left alone"
    ]
    if refused:
        parts.append(f"{refused} input(s) refused (see errors above)")
    return "; ".join(parts)


def manual_command(resource_id: str, api_version: str, body: dict[str, Any]) -> str:
    """The same PATCH as an ``az rest`` command, for a person applying a proposal by hand."""
    payload = json.dumps(body, separators=(",", ":")).replace("'", "'\\''")
    return f"az rest --method patch --url '{ARM_HOST}{resource_id}?api-version={api_version}' --body '{payload}'"


def _value(value: Any) -> str:
    return json.dumps(value, default=repr)
