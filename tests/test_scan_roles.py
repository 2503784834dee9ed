"""``scan`` says what the workspace inventory proves and where Foundry Guard's roles disagree with it.

Run as a real process against the twin (real azure-core HTTPS, the twin's managed identity), as
deployed. Role assignments and definitions are Microsoft's shapes (tests/fixtures/arm/authorization,
the built-in roles pages under tests/fixtures/docs/built-in-roles; tests/rbac_payloads.py), re-addressed.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.twin import Twin
from remediators.access import (
    ABOVE_GROUPS,
    LOOSENING_ACTIONS,
    MISSING,
    NEVER_USED,
    UNREADABLE,
    RoleReads,
    allows,
    disagreements,
)
from remediators.arm import ArmError
from remediators.scope import ScopeRules, parse_scope_patterns
from remediators.workspaces import Inventory
from tests.payloads import (
    COSMOS_GET,
    DELETE,
    MANAGED_RG,
    ORDINARY_RG,
    SEARCH_GET,
    STORAGE_GET,
    WORKSPACE_GROUP,
    example,
    in_group,
    with_properties,
    workspace,
)
from tests.rbac_payloads import assignment, built_in, custom_role, role_definition

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SUBSCRIPTION = "subid"  # the subscription of Microsoft's examples the resources come from
SUBSCRIPTION_ID = f"/subscriptions/{SUBSCRIPTION}"
MANAGED_GROUP_ID = f"{SUBSCRIPTION_ID}/resourceGroups/{MANAGED_RG}"
ORDINARY_GROUP_ID = f"{SUBSCRIPTION_ID}/resourceGroups/{ORDINARY_RG}"
REGISTRY_RG = "azureml-rg-contoso-reg_0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
MANAGEMENT_GROUP = "/providers/Microsoft.Management/managementGroups/contoso"

COSMOS = in_group(example(COSMOS_GET), MANAGED_RG)
SEARCH = in_group(example(SEARCH_GET), MANAGED_RG)
STORAGE = in_group(example(STORAGE_GET), MANAGED_RG)
# Microsoft's Storage example names its subscription with a placeholder.
STORAGE["id"] = STORAGE["id"].replace("/{subscription-id}/", f"/{SUBSCRIPTION}/")
ORDINARY_COSMOS = with_properties(in_group(example(COSMOS_GET), ORDINARY_RG), disableLocalAuth=True)
ORDINARY_COSMOS["id"] = ORDINARY_COSMOS["id"].replace("/ddb1", "/ordinary-ddb")
ORDINARY_COSMOS["name"] = "ordinary-ddb"
PROVING = workspace()  # customer-managed key, names MANAGED_RG
SERVICE_SIDE = workspace(name="sse-ws", enableServiceSideCMKEncryption=True, serviceProvisionedResourceGroup=DELETE)
MICROSOFT_KEY = workspace(name="plain-ws", encryption={"status": "Disabled"}, serviceProvisionedResourceGroup=DELETE)


def registry() -> dict[str, Any]:
    """Microsoft's registry example as ``contoso-reg``, naming its own managed resource group."""
    document = json.loads((FIXTURES / "arm" / "machine-learning" / "registries" / "get.json").read_text())
    body: dict[str, Any] = copy.deepcopy(document["responses"]["200"]["body"])
    body["id"] = (
        f"{SUBSCRIPTION_ID}/resourceGroups/{WORKSPACE_GROUP}/providers/Microsoft.MachineLearningServices/registries/"
        "contoso-reg"
    )
    body["name"], body["type"] = "contoso-reg", "Microsoft.MachineLearningServices/registries"
    body["properties"]["managedResourceGroup"] = {"resourceId": f"{SUBSCRIPTION_ID}/resourceGroups/{REGISTRY_RG}"}
    return body


REGISTRY = registry()
CONTRIBUTOR = built_in("contributor")
READER = built_in("reader")
MANAGED_RG_ROLE = custom_role("4e6f2d7a-1b3c-4d5e-8f90-a1b2c3d4e5f6", "managed-rg.json", SUBSCRIPTION)
FOUNDRY_GUARD_READER = custom_role("7c6b5a49-3827-4a16-9f5e-4d3c2b1a0f9e", "reader.json", SUBSCRIPTION)
STORAGE_WRITER = role_definition(
    "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "Storage account writer", ["Microsoft.Storage/*"], subscription=SUBSCRIPTION
)
DEFINITIONS = [CONTRIBUTOR, READER, MANAGED_RG_ROLE, STORAGE_WRITER, FOUNDRY_GUARD_READER]


@pytest.fixture
def twin() -> Iterator[Twin]:
    with Twin.start(
        resources=[
            COSMOS,
            SEARCH,
            STORAGE,
            ORDINARY_COSMOS,
            PROVING,
            SERVICE_SIDE,
            MICROSOFT_KEY,
            REGISTRY,
            *DEFINITIONS,
            # The management group holding the subscription, as Microsoft's examples show it.
            {
                "id": f"{MANAGEMENT_GROUP}/subscriptions/{SUBSCRIPTION}",
                "type": "Microsoft.Management/managementGroups/subscriptions",
                "name": SUBSCRIPTION,
                "properties": {"displayName": "contoso", "parent": {"id": MANAGEMENT_GROUP}, "state": "Active"},
            },
        ]
    ) as running:
        yield running


def own_id(twin: Twin) -> str:
    return twin.identity.object_id


def grant(twin: Twin, scope: str, role: dict[str, Any], name: str, principal: str | None = None) -> None:
    twin.set_resource(assignment(scope, role, principal or own_id(twin), name, subscription=SUBSCRIPTION))


def agreeing(twin: Twin) -> None:
    """The deployment rbac.bicep makes by default: reader on the subscription, managed-rg on the group."""
    grant(twin, SUBSCRIPTION_ID, FOUNDRY_GUARD_READER, "0a1b2c3d-0000-4000-8000-000000000001")
    grant(twin, MANAGED_GROUP_ID, MANAGED_RG_ROLE, "0a1b2c3d-0000-4000-8000-000000000002")


def scan(twin: Twin, *, object_id: str | None = None, env: dict[str, str] | None = None) -> Any:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GUARD_", "IDENTITY_"))}
    environment.update(twin.environment())
    environment["GUARD_IDENTITY_OBJECT_ID"] = own_id(twin) if object_id is None else object_id
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "remediators", "scan", "--subscription", SUBSCRIPTION],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )


def lines(done: Any, key: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, done.stdout.splitlines()) if key in line]


def disagreements_in(done: Any) -> list[dict[str, Any]]:
    return [line["roleDisagreement"] for line in lines(done, "roleDisagreement")]


# -- the lines scan prints ------------------------------------------------------------------------


def test_agreement_reports_no_disagreement_and_outcome_lines_are_unchanged(twin: Twin) -> None:
    agreeing(twin)
    done = scan(twin)
    assert (done.returncode, done.stderr) == (0, "")
    assert disagreements_in(done) == []
    every = [json.loads(line) for line in done.stdout.splitlines()]
    keys = {next(iter(line)) for line in every}
    assert keys == {"workspace", "registry", "resourceId"}  # each kind of line leads with its own key
    outcomes = {line["resourceId"]: line for line in lines(done, "resourceId")}
    assert set(outcomes) == {COSMOS["id"], SEARCH["id"], STORAGE["id"], ORDINARY_COSMOS["id"]}
    assert outcomes[COSMOS["id"]]["provenBy"] == PROVING["id"]
    assert outcomes[ORDINARY_COSMOS["id"]]["state"] == "not-guarded"
    assert not any("workspace" in line or "roleDisagreement" in line for line in outcomes.values())


def test_each_workspace_says_whether_it_proves_its_group_and_why(twin: Twin) -> None:
    done = scan(twin, object_id="")
    by_id = {line["workspace"]: line for line in lines(done, "workspace")}
    assert set(by_id) == {PROVING["id"], SERVICE_SIDE["id"], MICROSOFT_KEY["id"]}
    proving = by_id[PROVING["id"]]
    assert (proving["kind"], proving["managedResourceGroup"], proving["proven"]) == ("Default", MANAGED_RG, True)
    assert proving["encryption"] == "customer-managed key"
    assert f"managed resource group of workspace {PROVING['id']}" in proving["reason"]


def test_a_service_side_encrypted_workspace_has_no_managed_group_to_guard(twin: Twin) -> None:
    (line,) = [w for w in lines(scan(twin, object_id=""), "workspace") if w["workspace"] == SERVICE_SIDE["id"]]
    assert (line["proven"], line["managedResourceGroup"]) == (False, None)
    assert line["encryption"] == "service-side customer-managed key"
    assert "enableServiceSideCMKEncryption" in line["reason"]
    assert line["reason"].endswith("Foundry Guard has no managed resource group to guard for it")


def test_a_workspace_without_a_customer_managed_key_says_why_it_has_no_group(twin: Twin) -> None:
    (line,) = [w for w in lines(scan(twin, object_id=""), "workspace") if w["workspace"] == MICROSOFT_KEY["id"]]
    assert (line["proven"], line["encryption"]) == (False, "Microsoft-managed key")
    assert "not encrypted with a customer-managed key, so the platform made no managed resource group" in line["reason"]


def test_a_registry_line_says_its_group_is_never_loosened(twin: Twin) -> None:
    (line,) = lines(scan(twin, object_id=""), "registry")
    assert line["registry"] == REGISTRY["id"]
    assert (line["managedResourceGroup"], line["proven"]) == (REGISTRY_RG, False)
    assert "nothing in it is ever loosened" in line["reason"]


def test_without_the_identity_object_id_the_role_check_is_skipped_in_one_line(twin: Twin) -> None:
    done = scan(twin, object_id="")
    assert done.returncode == 0
    [note] = done.stderr.splitlines()
    assert "role check skipped: GUARD_IDENTITY_OBJECT_ID is not set" in note
    assert disagreements_in(done) == []
    assert lines(done, "resourceId")  # the sweep itself still ran
    assert not [r for r in twin.requests() if "roleassignments" in r.path.casefold()]


def test_the_role_check_lists_the_identity_s_assignments_once_with_microsoft_s_filter(twin: Twin) -> None:
    agreeing(twin)
    twin.clear_requests()
    scan(twin)
    (listed,) = [r for r in twin.requests("GET") if r.path.casefold().endswith("/roleassignments")]
    assert listed.path == f"{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleAssignments"
    assert listed.query["$filter"] == f"principalId eq '{own_id(twin)}'"
    assert listed.query["api-version"] == "2022-04-01"
    reads = sorted(r.path for r in twin.requests("GET") if "/roledefinitions/" in r.path.casefold())
    assert reads == sorted(
        f"{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{role['name']}"
        for role in (FOUNDRY_GUARD_READER, MANAGED_RG_ROLE)
    )


# -- (a) (b) (c) ----------------------------------------------------------------------------------


def test_a_loosening_role_on_the_subscription_leaves_the_proof_in_code_as_the_only_guard(twin: Twin) -> None:
    grant(twin, SUBSCRIPTION_ID, CONTRIBUTOR, "1a1b2c3d-0000-4000-8000-000000000001")
    done = scan(twin)
    assert done.returncode == 0, done.stderr
    (found,) = disagreements_in(done)  # the group is covered: nothing missing there
    assert found["kind"] == ABOVE_GROUPS
    assert (found["scope"], found["roleName"]) == (SUBSCRIPTION_ID, "Contributor")
    assert found["actions"] == list(LOOSENING_ACTIONS)
    assert "the proof in code" in found["problem"] and "is the only guard" in found["problem"]
    assert "assignAtSubscription=false" in found["remedy"]
    assert found["roleAssignmentId"].endswith("/1a1b2c3d-0000-4000-8000-000000000001")


def test_a_loosening_role_on_a_management_group_above_the_subscription_is_reported_too(twin: Twin) -> None:
    agreeing(twin)
    grant(twin, MANAGEMENT_GROUP, CONTRIBUTOR, "1a1b2c3d-0000-4000-8000-000000000002")
    # A management group that does not hold the subscription is not listed for it.
    grant(twin, "/providers/Microsoft.Management/managementGroups/fabrikam", CONTRIBUTOR, "1a1b2c3d-0000-4000-8000-3")
    (found,) = disagreements_in(scan(twin))
    assert (found["kind"], found["scope"]) == (ABOVE_GROUPS, MANAGEMENT_GROUP)
    assert "above this subscription" in found["problem"]


def test_a_loosening_role_where_the_proof_does_not_allow_loosening_should_be_removed(twin: Twin) -> None:
    agreeing(twin)
    grant(twin, ORDINARY_GROUP_ID, MANAGED_RG_ROLE, "2a1b2c3d-0000-4000-8000-000000000001")
    grant(twin, ORDINARY_COSMOS["id"], STORAGE_WRITER, "2a1b2c3d-0000-4000-8000-000000000002")  # on one resource
    grant(twin, f"{SUBSCRIPTION_ID}/resourceGroups/{REGISTRY_RG}", CONTRIBUTOR, "2a1b2c3d-0000-4000-8000-000000000003")
    found = {d["scope"]: d for d in disagreements_in(scan(twin))}
    assert set(found) == {ORDINARY_GROUP_ID, ORDINARY_COSMOS["id"], f"{SUBSCRIPTION_ID}/resourceGroups/{REGISTRY_RG}"}
    assert {d["kind"] for d in found.values()} == {NEVER_USED}
    ordinary = found[ORDINARY_GROUP_ID]
    assert (ordinary["resourceGroup"], ordinary["roleName"]) == (ORDINARY_RG, MANAGED_RG_ROLE["properties"]["roleName"])
    assert (
        "will never use it" in ordinary["problem"] and "not a workspace's managed resource group" in ordinary["problem"]
    )
    assert ordinary["remedy"] == "remove this role assignment"
    assert found[ORDINARY_COSMOS["id"]]["actions"] == ["Microsoft.Storage/storageAccounts/write"]
    assert "registry" in found[f"{SUBSCRIPTION_ID}/resourceGroups/{REGISTRY_RG}"]["problem"]


def test_a_proven_group_without_the_role_is_reported_with_what_fails(twin: Twin) -> None:
    grant(twin, SUBSCRIPTION_ID, FOUNDRY_GUARD_READER, "3a1b2c3d-0000-4000-8000-000000000001")
    grant(twin, SUBSCRIPTION_ID, READER, "3a1b2c3d-0000-4000-8000-000000000002")  # reads only: not a loosening role
    (found,) = disagreements_in(scan(twin))
    assert (found["kind"], found["scope"], found["resourceGroup"]) == (MISSING, MANAGED_GROUP_ID, MANAGED_RG)
    assert found["actions"] == list(LOOSENING_ACTIONS)
    assert "AuthorizationFailed" in found["problem"]
    assert found["remedy"].startswith(
        f"assign the role {MANAGED_RG_ROLE['properties']['roleName']!r} on {MANAGED_GROUP_ID}"
    )


def test_a_partial_role_on_a_proven_group_leaves_the_other_types_missing(twin: Twin) -> None:
    grant(twin, MANAGED_GROUP_ID, STORAGE_WRITER, "3a1b2c3d-0000-4000-8000-000000000003")
    grant(twin, COSMOS["id"], MANAGED_RG_ROLE, "3a1b2c3d-0000-4000-8000-000000000004")  # one resource is not the group
    (found,) = disagreements_in(scan(twin))
    assert found["kind"] == MISSING
    assert found["actions"] == ["Microsoft.DocumentDB/databaseAccounts/write", "Microsoft.Search/searchServices/write"]


def test_another_principal_s_roles_are_not_the_identity_s(twin: Twin) -> None:
    agreeing(twin)
    grant(
        twin,
        SUBSCRIPTION_ID,
        CONTRIBUTOR,
        "4a1b2c3d-0000-4000-8000-000000000001",
        principal="ce2ce14e-85d7-4629-bdbc-454d0519d987",
    )
    assert disagreements_in(scan(twin)) == []


def test_a_role_whose_definition_is_gone_is_reported_as_unknown(twin: Twin) -> None:
    agreeing(twin)
    deleted = role_definition("5e5e5e5e-0000-4000-8000-000000000001", "deleted role", ["*"], subscription=SUBSCRIPTION)
    grant(twin, ORDINARY_GROUP_ID, deleted, "5a1b2c3d-0000-4000-8000-000000000001")  # never seeded
    (found,) = disagreements_in(scan(twin))
    assert (found["kind"], found["scope"], found["roleName"]) == (UNREADABLE, ORDINARY_GROUP_ID, None)
    assert "does not exist" in found["problem"]


def test_an_identity_object_id_that_is_not_a_guid_is_refused(twin: Twin) -> None:
    done = scan(twin, object_id="foundry-guard' or principalId eq 'x")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "is not an object id (a GUID)" in line
    assert lines(done, "resourceId")


# -- the pure comparison --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "not_actions", "granted"),
    [
        (["*"], [], LOOSENING_ACTIONS),
        (["*/read"], [], ()),
        (["*/write"], [], LOOSENING_ACTIONS),
        (["Microsoft.DocumentDB/*"], [], ("Microsoft.DocumentDB/databaseAccounts/write",)),
        (["microsoft.documentdb/DATABASEACCOUNTS/Write"], [], ("Microsoft.DocumentDB/databaseAccounts/write",)),
        (["*"], ["Microsoft.Search/*", "Microsoft.Storage/storageAccounts/write"], LOOSENING_ACTIONS[:1]),
        (["Microsoft.DocumentDB/databaseAccounts/*/write"], [], ()),  # child types only
        (["Microsoft.DocumentDB/databaseAccounts/read"], [], ()),
    ],
)
def test_a_role_grants_what_its_actions_match_minus_its_not_actions(
    actions: list[str], not_actions: list[str], granted: tuple[str, ...]
) -> None:
    role = role_definition("6a6a6a6a-0000-4000-8000-000000000001", "r", actions, not_actions, subscription=SUBSCRIPTION)
    assert tuple(a for a in LOOSENING_ACTIONS if allows(role, a)) == granted


def test_contributor_grants_every_loosening_write_and_reader_none() -> None:
    assert all(allows(CONTRIBUTOR, action) for action in LOOSENING_ACTIONS)
    assert not any(allows(READER, action) for action in LOOSENING_ACTIONS)
    assert not allows(CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/write")


def only(managed_rg_assignment: dict[str, Any]) -> RoleReads:
    return RoleReads((managed_rg_assignment,), {MANAGED_RG_ROLE["name"]: MANAGED_RG_ROLE})


def test_an_excluded_group_gets_no_role_and_a_role_there_is_never_used() -> None:
    inventory = Inventory.from_bodies(SUBSCRIPTION, [PROVING])
    rules = ScopeRules(exclude=parse_scope_patterns(f"{SUBSCRIPTION_ID}/resourceGroups/azureml-rg-*"))
    reads = only(assignment(MANAGED_GROUP_ID, MANAGED_RG_ROLE, "p", "a", subscription=SUBSCRIPTION))
    (found,) = disagreements(SUBSCRIPTION, reads, inventory, rules)
    assert found.kind == NEVER_USED
    assert "GUARD_EXCLUDE_SCOPES" in found.problem
    assert disagreements(SUBSCRIPTION, RoleReads(), inventory, rules) == []  # nothing missing where nothing is done


def test_a_group_listed_in_the_setting_agrees_with_a_role_there() -> None:
    inventory = Inventory.from_bodies(SUBSCRIPTION, [])
    rules = ScopeRules(managed_resource_groups=(ORDINARY_RG,))
    reads = only(assignment(ORDINARY_GROUP_ID, MANAGED_RG_ROLE, "p", "a", subscription=SUBSCRIPTION))
    assert disagreements(SUBSCRIPTION, reads, inventory, rules) == []


def test_role_assignments_that_cannot_be_read_end_the_check_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    from remediators.__main__ import _check_roles

    class RefusingArm:
        def list_raw(self, path: str, api_version: str) -> list[dict[str, Any]]:
            raise ArmError(403, "AuthorizationFailed", "The client does not have authorization to perform action")

    class Stub:
        arm = RefusingArm()
        rules = ScopeRules()

    inventory = Inventory.from_bodies(SUBSCRIPTION, [PROVING])
    assert _check_roles(Stub(), inventory, own_object_id="0a1b2c3d-0000-4000-8000-00000000000f") == 2  # type: ignore[arg-type]
    [line] = capsys.readouterr().err.splitlines()
    assert "403 AuthorizationFailed" in line
    assert "Microsoft.Authorization/roleAssignments/read" in line
