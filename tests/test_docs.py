"""The README and the configuration reference name exactly the settings the code declares."""

from __future__ import annotations

import re
from pathlib import Path

from remediators.settings import SETTINGS

ROOT = Path(__file__).parent.parent
DECLARED = {s.name for s in SETTINGS}


def documented(path: Path) -> set[str]:
    return set(re.findall(r"\bGUARD_[A-Z_]+\b", path.read_text(encoding="utf-8")))


def test_configuration_reference_documents_every_setting_with_its_default() -> None:
    page = ROOT / "docs" / "configuration.md"
    assert documented(page) == DECLARED
    text = page.read_text(encoding="utf-8")
    for setting in SETTINGS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{setting.name}`"))
        assert f"`{setting.default}`" in row if setting.default else "(empty)" in row
        assert row.endswith(f"| {setting.meaning} |")


def test_readme_names_only_declared_settings() -> None:
    assert documented(ROOT / "README.md") <= DECLARED
    assert "docs/configuration.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_gives_the_two_commands_and_ci_runs_the_same_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_threat_model_names_tests_that_exist() -> None:
    page = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_[a-z_]+\.py)`", page))
    assert named, "each 'never' names the tests that hold it"
    assert sorted(name for name in named if not list((ROOT / "tests").rglob(name))) == []
