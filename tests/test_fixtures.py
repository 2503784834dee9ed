"""Every payload under tests/fixtures carries its provenance, and is what the source says it is.

Each folder's payloads are listed in the nearest ``provenance.json`` above them, keyed by their
path relative to that file's folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def provenance() -> dict[Path, dict[str, Any]]:
    entries: dict[Path, dict[str, Any]] = {}
    for record in FIXTURES.rglob("provenance.json"):
        for name, source in json.loads(record.read_text(encoding="utf-8"))["files"].items():
            entries[record.parent / name] = source
    return entries


PROVENANCE = provenance()


def test_every_payload_has_provenance_and_every_entry_a_payload() -> None:
    payloads = {p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "provenance.json"}
    assert payloads == set(PROVENANCE)


def test_provenance_names_repository_path_and_commit() -> None:
    for path, source in PROVENANCE.items():
        assert re.fullmatch(r"(Azure|MicrosoftDocs)/[\w.-]+", source["repository"]), path
        assert source["path"], path
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), path


def test_rest_api_examples_match_their_api_version() -> None:
    for path, source in PROVENANCE.items():
        if "apiVersion" not in source:
            continue
        example = json.loads(path.read_text(encoding="utf-8"))
        assert source["apiVersion"] in source["path"], path
        assert example["parameters"]["api-version"] == source["apiVersion"], path
