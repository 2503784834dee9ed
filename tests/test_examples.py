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
    SEARCH_GET,
    SEARCH_PRIVATE_ONLY,
    STORAGE_GET,
    WORKSPACE_GET,
    ai_account,
    example,
    in_group,
    with_properties,
)

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "broken-managed-rg"
DEMO_SEED = ROOT / "demo" / "seed"
DEMO_SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"  # the workspace example's

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


def in_demo(resource: dict[str, Any], group: str, name: str | None = None) -> dict[str, Any]:
    """Microsoft's body moved into the demo's subscription and ``group`` (and renamed)."""
    moved = in_group(resource, group)
    parts = moved["id"].split("/")
    parts[2] = DEMO_SUBSCRIPTION
    if name is not None:
        parts[-1] = moved["name"] = name
    moved["id"] = "/".join(parts)
    return moved


def workspace() -> dict[str, Any]:
    body = in_demo(example(WORKSPACE_GET), "rg-contoso-ml", "contoso-ws")
    body["properties"]["serviceProvisionedResourceGroup"] = MANAGED_RG
    return body


# The demo's starting point: a healthy CMK workspace, its managed resource group, an OpenAI
# account with its outbound restriction, and an ordinary Cosmos DB. The story breaks them.
DEMO_DERIVATIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "workspace.json": workspace,
    "cosmos-db.json": lambda: in_demo(example(COSMOS_GET), MANAGED_RG),
    "ai-search.json": lambda: in_demo(example(SEARCH_GET), MANAGED_RG),
    # The field report: the managed Storage's firewall is on, trusted Azure services allowed.
    "storage.json": lambda: with_properties(
        in_demo(example(STORAGE_GET), MANAGED_RG),
        networkAcls={**example(STORAGE_GET)["properties"]["networkAcls"], "defaultAction": "Deny"},
    ),
    "openai.json": lambda: in_demo(ai_account("OpenAI"), "rg-contoso-ai", "contoso-openai"),
    "ordinary-cosmos-db.json": lambda: in_demo(example(COSMOS_GET), ORDINARY_RG, "orders-db"),
}


def write_examples() -> None:
    """Regenerate the files: ``python -m tests.test_examples``."""
    for name, (derive, _) in DERIVATIONS.items():
        (EXAMPLES / name).write_text(json.dumps(derive(), indent=2) + "\n", encoding="utf-8")
    for name, make in DEMO_DERIVATIONS.items():
        (DEMO_SEED / name).write_text(json.dumps(make(), indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize("name", DERIVATIONS)
def test_example_is_its_derivation_and_classifies_as_documented(name: str) -> None:
    derive, kinds = DERIVATIONS[name]
    body = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    assert body == derive()
    assert [str(f.kind) for f in classify(body, ScopeRules()).findings] == kinds


def test_every_example_file_has_a_derivation() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(DERIVATIONS)
    assert sorted(p.name for p in DEMO_SEED.glob("*.json")) == sorted(DEMO_DERIVATIONS)


@pytest.mark.parametrize("name", DEMO_DERIVATIONS)
def test_demo_seed_is_its_derivation_and_starts_healthy(name: str) -> None:
    body = json.loads((DEMO_SEED / name).read_text(encoding="utf-8"))
    assert body == DEMO_DERIVATIONS[name]()
    assert classify(body, ScopeRules()).findings == ()


if __name__ == "__main__":
    write_examples()
