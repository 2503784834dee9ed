"""The ``python -m remediators`` contract (DESIGN section 5), run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.payloads import COSMOS_GET, SEARCH_DISABLE_LOCAL_AUTH, example

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "broken-managed-rg"


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GUARD_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "remediators", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )


def test_classify_prints_one_json_object_with_the_contract_fields() -> None:
    done = run("classify", str(EXAMPLES / "cosmos-db.json"))
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    out = json.loads(line)
    assert out["resourceId"].endswith("/databaseAccounts/ddb1")
    assert out["guarded"] == "managed-rg"
    [finding] = out["findings"]
    assert finding["kind"] == "local_auth_disabled"
    assert finding["property"] == "properties.disableLocalAuth"
    assert (finding["observed"], finding["expected"], finding["confidence"]) == (True, False, "confirmed")
    assert finding["plan"] == {
        "method": "PATCH",
        "apiVersion": "2026-03-15",
        "body": {"properties": {"disableLocalAuth": False}},
        "proposalOnly": False,
    }


def test_healthy_and_unguarded_resources_exit_zero() -> None:
    healthy = run("classify", "-", stdin=json.dumps(example(COSMOS_GET)))
    assert healthy.returncode == 0
    out = json.loads(healthy.stdout)
    assert (out["guarded"], out["findings"], out["plan"]) == (None, [], None)


def test_managed_flag_treats_any_group_as_managed() -> None:
    body = json.dumps(example(SEARCH_DISABLE_LOCAL_AUTH))
    assert json.loads(run("classify", "-", stdin=body).stdout)["findings"] == []
    out = json.loads(run("classify", "--managed", "-", stdin=body).stdout)
    assert out["guarded"] == "managed-rg"
    assert [f["kind"] for f in out["findings"]] == ["local_auth_disabled"]


def test_configuration_comes_from_guard_variables() -> None:
    body = json.dumps(example(SEARCH_DISABLE_LOCAL_AUTH))  # resource group rg1
    out = json.loads(run("classify", "-", stdin=body, env={"GUARD_MANAGED_RESOURCE_GROUPS": "RG1"}).stdout)
    assert out["guarded"] == "managed-rg"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ("", "not JSON: Expecting value at line 1 column 1"),
        ('[{"id": "/subscriptions/s"}]', "expected one ARM resource (a JSON object), got a JSON array of 1 item(s)"),
        ('{"name": "ddb1"}', "the resource has no 'id'"),
        ('{"id": "ddb1"}', "'ddb1' is not an ARM resource id: it must start with /subscriptions/"),
        ('{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Search"}', "is not an ARM resource id"),
        ("[" * 100000, "nested too deeply"),
        ('{"id": "/subscriptions/s", "properties": {"disableLocalAuth": NaN}}', "not JSON: NaN is not valid JSON"),
    ],
)
def test_input_that_is_not_a_resource_exits_2_with_one_line(stdin: str, message: str) -> None:
    done = run("classify", "-", stdin=stdin)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("python -m remediators: error: -: ")
    assert message in line
    assert "Traceback" not in done.stderr


def test_unreadable_file_exits_2_with_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    for path, message in [
        (tmp_path / "missing.json", "cannot read: No such file or directory"),
        (binary, "not UTF-8 text"),
    ]:
        done = run("classify", str(path))
        assert done.returncode == 2
        [line] = done.stderr.splitlines()
        assert message in line


def test_good_inputs_are_not_lost_when_another_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    done = run("classify", str(EXAMPLES / "cosmos-db.json"), str(bad), str(EXAMPLES / "storage.json"))
    assert done.returncode == 2
    assert len(done.stdout.splitlines()) == 2
    assert len(done.stderr.splitlines()) == 1


def test_invalid_configuration_exits_2_naming_the_variable() -> None:
    done = run("classify", str(EXAMPLES / "cosmos-db.json"), env={"GUARD_INCLUDE_SCOPES": "rg-prod"})
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "invalid configuration: GUARD_INCLUDE_SCOPES:" in line


def test_text_report_for_the_demo() -> None:
    done = run("classify", "--format", "text", *sorted(str(p) for p in EXAMPLES.glob("*.json")))
    assert done.returncode == 0, done.stderr
    assert "BROKEN local_auth_disabled [confirmed] properties.disableLocalAuth: true -> false" in done.stdout
    assert "proposed fix (needs a person)" in done.stdout
    assert "left alone: resource group 'rg-contoso-prod'" in done.stdout
    assert done.stdout.rstrip().endswith(
        "5 resource(s): 4 guarded, 4 broken (3 with a fix, 1 with a proposal for a person), 1 left alone"
    )


def test_roles_prints_the_committed_role_definitions() -> None:
    done = run("roles")
    assert done.returncode == 0
    roles = json.loads(done.stdout)
    committed = {p.stem: json.loads(p.read_text()) for p in (ROOT / "infra" / "roles").glob("*.json")}
    assert roles == committed
    assert roles["managed-rg"]["Actions"] == [
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
        "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
        "Microsoft.Search/searchServices/read",
        "Microsoft.Search/searchServices/write",
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/write",
    ]
    assert roles["ai-account"]["Actions"] == [
        "Microsoft.CognitiveServices/accounts/read",
        "Microsoft.CognitiveServices/accounts/write",
    ]
    assert roles["reader"]["Actions"] == [
        "Microsoft.Authorization/roleAssignments/read",  # scan compares its own roles with the proof
        "Microsoft.Authorization/roleDefinitions/read",
        "Microsoft.CognitiveServices/accounts/read",
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.MachineLearningServices/registries/read",
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.Search/searchServices/read",
        "Microsoft.Storage/storageAccounts/read",
    ]


def test_infra_checks_the_derived_files_are_current() -> None:
    done = run("infra")
    assert (done.returncode, done.stderr) == (0, "")  # tests/test_infra.py covers a stale file
