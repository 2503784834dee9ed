"""The bundled examples (``make demo``) are Microsoft's payloads with one documented change each.

The derivations below are the examples' provenance: if a file drifts from its derivation, or
stops classifying as examples/README.md says, this fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from remediators.classify import classify
from remediators.scope import ScopeRules
from tests.payloads import (
    COSMOS_GET,
    MANAGED_RG,
    ORDINARY_RG,
    SEARCH_PRIVATE_ONLY,
    STORAGE_GET,
    ai_account,
    example,
    in_group,
    with_properties,
)

EXAMPLES = Path(__file__).parent.parent / "examples" / "broken-managed-rg"

DERIVATIONS: dict[str, tuple[Callable[[], dict[str, Any]], list[str]]] = {
    "cosmos-db.json": (
        lambda: with_properties(in_group(example(COSMOS_GET), MANAGED_RG), disableLocalAuth=True),
        ["local_auth_disabled"],
    ),
    "ai-search.json": (lambda: in_group(example(SEARCH_PRIVATE_ONLY), MANAGED_RG), ["managed_rg_firewall_locked"]),
    "storage.json": (
        lambda: with_properties(in_group(example(STORAGE_GET), MANAGED_RG), allowSharedKeyAccess=False),
        ["local_auth_disabled"],
    ),
    "openai.json": (
        lambda: with_properties(ai_account("OpenAI"), restrictOutboundNetworkAccess=False),
        ["outbound_restriction_removed"],
    ),
    "ordinary-cosmos-db.json": (
        lambda: with_properties(in_group(example(COSMOS_GET), ORDINARY_RG), disableLocalAuth=True),
        [],
    ),
}


def write_examples() -> None:
    """Regenerate the files: ``python -m tests.test_examples``."""
    for name, (derive, _) in DERIVATIONS.items():
        (EXAMPLES / name).write_text(json.dumps(derive(), indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize("name", DERIVATIONS)
def test_example_is_its_derivation_and_classifies_as_documented(name: str) -> None:
    derive, kinds = DERIVATIONS[name]
    body = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    assert body == derive()
    assert [str(f.kind) for f in classify(body, ScopeRules()).findings] == kinds


def test_every_example_file_has_a_derivation() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(DERIVATIONS)


if __name__ == "__main__":
    write_examples()
