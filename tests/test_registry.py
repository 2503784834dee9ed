"""Every remediator module is registered and documented, and the docs agree with its declaration."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import remediators.resources
from remediators.findings import BreakageKind
from remediators.registry import REMEDIATORS, remediator_for

ROOT = Path(__file__).parent.parent
MODULES = sorted(m.name for m in pkgutil.iter_modules(remediators.resources.__path__))


def test_every_module_is_registered_once() -> None:
    registered = [r.name for r in REMEDIATORS]
    assert sorted(registered) == MODULES
    assert len(set(registered)) == len(registered)
    for name in MODULES:
        module = importlib.import_module(f"remediators.resources.{name}")
        assert module.REMEDIATOR.name == name
        assert module.REMEDIATOR in REMEDIATORS


def test_every_kind_is_handled_by_some_remediator() -> None:
    assert {k for r in REMEDIATORS for k in r.kinds} == set(BreakageKind)


def test_types_do_not_overlap() -> None:
    for remediator in REMEDIATORS:
        kind = remediator.kinds_of_account[0] if remediator.kinds_of_account else None
        assert remediator_for(remediator.resource_type.upper(), kind) is remediator


@pytest.mark.parametrize("remediator", REMEDIATORS, ids=lambda r: r.name)
def test_every_remediator_has_a_docs_page_that_matches_its_declaration(remediator) -> None:
    page = ROOT / "docs" / "remediators" / f"{remediator.name}.md"
    assert page.exists(), f"write {page.relative_to(ROOT)}"
    text = page.read_text(encoding="utf-8")
    assert remediator.resource_type in text
    assert f"api-version {remediator.api_version}" in text
    for kind in remediator.kinds:
        assert f"`{kind}`" in text
    for action in remediator.arm_actions:
        assert f"`{action}`" in text
    for account_kind in remediator.kinds_of_account:
        assert f"`{account_kind}`" in text
    # Every PATCH body the page shows is compact JSON the module can produce: checked in
    # test_detect_and_plan; here, that the page shows at least one.
    assert re.search(r'`\{"properties":\{', text), "show the PATCH bodies"


def test_docs_index_lists_every_remediator() -> None:
    index = (ROOT / "docs" / "remediators" / "README.md").read_text(encoding="utf-8")
    for remediator in REMEDIATORS:
        assert f"({remediator.name}.md)" in index
    assert sorted(p.stem for p in (ROOT / "docs" / "remediators").glob("*.md") if p.stem != "README") == MODULES
