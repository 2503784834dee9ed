"""Every payload under tests/fixtures carries its provenance, and is what the source says it is."""

from __future__ import annotations

import json
import re
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
PROVENANCE = json.loads((FIXTURES / "provenance.json").read_text(encoding="utf-8"))["files"]


def test_every_payload_has_provenance_and_every_entry_a_payload() -> None:
    payloads = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json") if p.name != "provenance.json"}
    assert payloads == set(PROVENANCE)


def test_provenance_names_repository_path_and_commit() -> None:
    for name, source in PROVENANCE.items():
        assert re.fullmatch(r"(Azure|MicrosoftDocs)/[\w.-]+", source["repository"]), name
        assert source["path"].endswith((Path(name).name, ".md")), name
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), name


def test_rest_api_examples_match_their_api_version() -> None:
    for name, source in PROVENANCE.items():
        if not name.startswith("arm/"):
            continue
        example = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        assert source["apiVersion"] in source["path"], name
        assert example["parameters"]["api-version"] == source["apiVersion"], name
