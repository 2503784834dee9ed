"""``python -m remediators policy check FILE``: one JSON line per (assignment, managed group,
guarded property) at risk; exit 0, or 2 with one line on stderr per input it cannot read."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from remediators.__main__ import main
from tests.payloads import example
from tests.policy_payloads import (
    ALZ_COSMOS_GUARDRAILS,
    COSMOS_DISABLE_LOCAL_AUTH_MODIFY,
    COSMOS_MISSION_PLATFORMS,
    GROUP,
    MANAGEMENT_GROUP,
    OTHER_GROUP,
    assignment,
    builtin_definition,
    builtin_initiative,
    definition_id,
    exemption,
    needs_builtins,
)

ROOT = Path(__file__).parent.parent
ERROR = "python -m remediators: error: "
# The keys every line carries (the list, and what the proposal and exemption add).
LINE_KEYS = {
    "assignmentId",
    "assignmentName",
    "definitionId",
    "definitionReferenceId",
    "effect",
    "resourceType",
    "property",
    "value",
    "kind",
    "resourceGroup",
    "exempted",
    "exemptionId",
    "proposal",
}


def check_input(**lists: Any) -> dict[str, Any]:
    return {
        "assignments": lists.get("assignments", []),
        "definitions": lists.get("definitions", []),
        "setDefinitions": lists.get("setDefinitions", []),
        "exemptions": lists.get("exemptions", []),
        "managedResourceGroups": lists.get("managedResourceGroups", [GROUP]),
    }


def policy_check(document: Any, *flags: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[Any], list[str]]:
    text = document if isinstance(document, str) else json.dumps(document)
    status = main(["policy", "check", *flags, "-"], stdin=io.StringIO(text))
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err.splitlines()


def mission_platforms() -> dict[str, Any]:
    """Microsoft's Cosmos DB initiative at the subscription, with its ten members' definitions."""
    initiative = builtin_initiative(COSMOS_MISSION_PLATFORMS)
    members = [m["policyDefinitionId"].rsplit("/", 1)[-1] for m in initiative["properties"]["policyDefinitions"]]
    return check_input(
        assignments=[assignment(initiative["id"], name="cosmos-mission")],
        definitions=[builtin_definition(name) for name in members],
        setDefinitions=[initiative],
        managedResourceGroups=[GROUP, OTHER_GROUP],
    )


@needs_builtins
def test_one_line_per_assignment_group_and_guarded_property(tmp_path: Path) -> None:
    document = mission_platforms()
    file = tmp_path / "policy.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "remediators", "policy", "check", str(file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    # Both groups are in scope of the subscription; each gets the two Modify members' lines.
    assert [(c["resourceGroup"], c["definitionReferenceId"], c["property"], c["value"]) for c in lines] == [
        (GROUP, "CosmosDBConfigureDisableLocalAuthentication", "disableLocalAuth", True),
        (GROUP, "CosmosDBShouldConfigureDisablePublicNetworkAccess", "publicNetworkAccess", "Disabled"),
        (OTHER_GROUP, "CosmosDBConfigureDisableLocalAuthentication", "disableLocalAuth", True),
        (OTHER_GROUP, "CosmosDBShouldConfigureDisablePublicNetworkAccess", "publicNetworkAccess", "Disabled"),
    ]
    for line in lines:
        assert set(line) >= LINE_KEYS
        assert line["kind"] in ("local_auth_disabled", "managed_rg_firewall_locked")
        assert line["exempted"] is False and line["proposal"]["body"]["properties"]["exemptionCategory"] == "Waiver"
    assert lines[0]["proposal"]["body"]["properties"]["policyDefinitionReferenceIds"] == [
        "CosmosDBConfigureDisableLocalAuthentication",
        "CosmosDBShouldConfigureDisablePublicNetworkAccess",
    ]


@needs_builtins
def test_exempted_lines_carry_the_exemption_and_propose_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    exempt = exemption(body["id"], category="Mitigated")
    document = check_input(
        assignments=[body], definitions=[builtin_definition(COSMOS_DISABLE_LOCAL_AUTH_MODIFY)], exemptions=[exempt]
    )
    status, [line], errors = policy_check(document, capsys=capsys)
    assert (status, errors) == (0, [])
    assert (line["exempted"], line["exemptionId"], line["proposal"]) == (True, exempt["id"], None)


@needs_builtins
def test_do_not_enforce_is_said_only_with_all(capsys: pytest.CaptureFixture[str]) -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY), enforcement_mode="DoNotEnforce")
    document = check_input(assignments=[body], definitions=[builtin_definition(COSMOS_DISABLE_LOCAL_AUTH_MODIFY)])
    assert policy_check(document, capsys=capsys) == (0, [], [])
    status, [line], errors = policy_check(document, "--all", capsys=capsys)
    assert (status, errors) == (0, [])
    assert (line["enforced"], line["property"], line["proposal"]) == (False, "disableLocalAuth", None)


@needs_builtins
def test_a_member_missing_from_the_input_is_an_error_line_and_the_rest_is_still_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    alz = builtin_initiative(ALZ_COSMOS_GUARDRAILS)
    members = [m["policyDefinitionId"].rsplit("/", 1)[-1] for m in alz["properties"]["policyDefinitions"]]
    here = [builtin_definition(name) for name in members if name != "4750c32b-89c0-46af-bfcb-2e4541a818d5"]
    document = check_input(
        assignments=[assignment(alz["id"], scope=MANAGEMENT_GROUP)], definitions=here, setDefinitions=[alz]
    )
    status, lines, [error] = policy_check(document, capsys=capsys)
    assert status == 2
    assert error.startswith(f"{ERROR}-: assignment ") and "Append-CosmosDb-Metadata" in error
    assert len(lines) == 6


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"assignments": {}, "managedResourceGroups": []}', "assignments must be a list"),
        ('{"policyAssignments": [], "managedResourceGroups": []}', "unknown key 'policyAssignments'"),
        ('{"assignments": []}', "managedResourceGroups is missing"),
        ('{"managedResourceGroups": ["azureml-rg-ws1"]}', "not an ARM resource id"),
        (
            json.dumps({"managedResourceGroups": [f"{GROUP}/providers/Microsoft.DocumentDB/databaseAccounts/db"]}),
            "is not a resource group's id",
        ),
    ],
)
def test_input_it_cannot_read_is_one_line_and_exit_2(text: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, [error] = policy_check(text, capsys=capsys)
    assert (status, lines) == (2, [])
    assert error.startswith(f"{ERROR}-: ") and says in error


def test_a_body_that_is_not_what_its_list_says_is_refused_alone(capsys: pytest.CaptureFixture[str]) -> None:
    wrong = example("policy/getPolicyExemption.json")  # an exemption given as an assignment
    status, lines, [error] = policy_check(check_input(assignments=[wrong]), capsys=capsys)
    assert (status, lines) == (2, [])
    assert "assignments[0]" in error and "is a Microsoft.Authorization/policyExemptions" in error


def test_a_file_that_cannot_be_read_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.json"
    assert main(["policy", "check", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "cannot read" in err


def test_no_assignment_no_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert policy_check(check_input(), capsys=capsys) == (0, [], [])
