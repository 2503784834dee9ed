"""Classifications as text a person on call can read at a glance."""

from __future__ import annotations

import json
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


def manual_command(resource_id: str, api_version: str, body: dict[str, Any]) -> str:
    """The same PATCH as an ``az rest`` command, for a person applying a proposal by hand."""
    payload = json.dumps(body, separators=(",", ":")).replace("'", "'\\''")
    return f"az rest --method patch --url '{ARM_HOST}{resource_id}?api-version={api_version}' --body '{payload}'"


def _value(value: Any) -> str:
    return json.dumps(value, default=repr)
