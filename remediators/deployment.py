"""What the infrastructure takes from the code, as files under ``infra/``.

The Bicep loads these (``loadJsonContent`` / ``loadTextContent``) rather than restating them, so
the deployed role definitions, the Event Grid filter and the alert queries are the code's own:

* ``roles/*.json``: the least-privilege custom roles (:mod:`remediators.role`);
* ``events/operations.json``, ``events/resource-types.json``: what the event subscriptions let through;
* ``alerts/*.kql``: one log search alert query per diagnostic signature (:mod:`remediators.evidence`).

``python -m remediators infra --write`` regenerates them; ``tests/test_infra.py`` fails while the
committed files differ from this output.
"""

from __future__ import annotations

import json
from pathlib import Path

from .evidence import alert_query
from .registry import REMEDIATORS, guarded_types, write_operations
from .role import role_definitions

INFRA = Path(__file__).resolve().parent.parent / "infra"


def derived_files() -> dict[str, str]:
    """``{path under infra/: content}``."""
    files = {f"roles/{key}.json": _json(role) for key, role in role_definitions().items()}
    files["events/operations.json"] = _json(write_operations())
    files["events/resource-types.json"] = _json(guarded_types())
    for remediator in REMEDIATORS:
        query = alert_query(remediator.resource_type)
        if query is not None:
            files[f"alerts/{remediator.name.replace('_', '-')}.kql"] = query[1] + "\n"
    return files


def stale_files(infra: Path = INFRA) -> list[str]:
    """The derived files missing from ``infra`` or differing from the code's output."""
    return sorted(
        path
        for path, content in derived_files().items()
        if not (infra / path).is_file() or (infra / path).read_text(encoding="utf-8") != content
    )


def write_derived_files(infra: Path = INFRA) -> list[str]:
    """Write the stale derived files; returns their paths."""
    stale = stale_files(infra)
    files = derived_files()
    for path in stale:
        (infra / path).parent.mkdir(parents=True, exist_ok=True)
        (infra / path).write_text(files[path], encoding="utf-8")
    return stale


def _json(document: object) -> str:
    return json.dumps(document, indent=2) + "\n"
