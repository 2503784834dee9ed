"""A name is not enough to be loosened: only a group a workspace proves (or an operator lists) is.

Each way a stranger could get a resource loosened by naming alone, tried against the twin with
the real pipeline (azure-mgmt clients, HTTPS), and a property test over generated resource
groups, Unicode look-alikes and workspace inventories: nothing outside a proven managed group is
ever PATCHed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from emulator.twin import Twin
from remediators.arm import Arm, credential
from remediators.baselines import InMemoryBaselines
from remediators.pipeline import Pipeline, State
from remediators.scope import ScopeRules
from remediators.settings import load_scope_rules
from remediators.workspaces import Inventory, WorkspaceInventory
from tests.payloads import (
    COSMOS_GET,
    MANAGED_RG,
    ORDINARY_RG,
    STORAGE_GET,
    example,
    in_group,
    with_properties,
    workspace,
)

GUID = "5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c"
REGISTRY_GROUP = f"azureml-rg-contoso-registry_{GUID}"


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin.start() as running, pytest.MonkeyPatch.context() as patch:
        for name, value in running.environment().items():  # the managed identity asks the twin for tokens
            patch.setenv(name, value)
        yield running


_subscriptions = itertools.count()


def fresh_subscription() -> str:
    """Each test (and each generated example) in a subscription of its own: inventories never mix."""
    return f"trust-{next(_subscriptions)}"


def pipeline(twin: Twin, rules: ScopeRules | None = None) -> Pipeline:
    arm = Arm(credential(None), endpoint=twin.arm, connection_verify=twin.ca_path, polling_interval=0, retry_total=0)
    return Pipeline(arm, rules or ScopeRules(), baselines=InMemoryBaselines())


def broken_cosmos(subscription: str, group: str, name: str = "ddb1") -> dict[str, Any]:
    cosmos = with_properties(in_group(example(COSMOS_GET), group), disableLocalAuth=True)
    cosmos["id"] = cosmos["id"].replace("/subscriptions/subid/", f"/subscriptions/{subscription}/")
    cosmos["id"] = cosmos["id"].rsplit("/", 1)[0] + f"/{name}"
    cosmos["name"] = name
    return cosmos


def registry(subscription: str, group: str, name: str = "contoso-registry") -> dict[str, Any]:
    """An Azure ML registry naming ``group`` as its managed resource group (the shape of the
    2025-09-01 Registries/get.json example in Azure/azure-rest-api-specs)."""
    return {
        "id": f"/subscriptions/{subscription}/resourceGroups/rg-ml/providers/"
        f"Microsoft.MachineLearningServices/registries/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/registries",
        "location": "westeurope",
        "properties": {
            "managedResourceGroup": {"resourceId": f"/subscriptions/{subscription}/resourceGroups/{group}"},
        },
    }


def patches_to(twin: Twin, resource_id: str) -> list[bytes]:
    return [r.body for r in twin.requests("PATCH") if r.path.casefold() == resource_id.casefold()]


def remediate(twin: Twin, resources: list[dict[str, Any]], target: str, rules: ScopeRules | None = None) -> Any:
    for body in resources:
        twin.set_resource(body)
    return pipeline(twin, rules).remediate(target)


# -- the ways in which a name alone used to be enough --------------------------------------------


def test_a_group_named_like_a_managed_one_that_no_workspace_names_is_observed_not_loosened(twin: Twin) -> None:
    subscription = fresh_subscription()
    cosmos = broken_cosmos(subscription, MANAGED_RG)
    outcome = remediate(twin, [cosmos], cosmos["id"])
    assert outcome.state is State.OBSERVED
    assert "no workspace in subscription" in outcome.reason and "nothing is loosened" in outcome.reason
    assert [f.kind for f in outcome.findings] == ["local_auth_disabled"]  # reported all the same
    assert patches_to(twin, cosmos["id"]) == []


@pytest.mark.parametrize(
    "lookalike",
    [
        "azureml-rg-contoso-w\u017f",  # LATIN SMALL LETTER LONG S: casefolds to 's'
        "azureml-rg-\u212aontoso-ws",  # KELVIN SIGN: lowers to 'k'
        "azureml-rg-contoso-w\uff53",  # FULLWIDTH s
        "azureml-rg-contoso-ws\u200b",  # a zero-width space
    ],
)
def test_a_unicode_lookalike_of_a_proven_group_is_never_loosened(twin: Twin, lookalike: str) -> None:
    subscription = fresh_subscription()
    real = workspace(MANAGED_RG, subscription)  # contoso-ws proves azureml-rg-contoso-ws_<guid>
    cosmos = broken_cosmos(subscription, f"{lookalike}_{GUID}")
    outcome = remediate(twin, [real, cosmos], cosmos["id"])
    assert outcome.state in (State.NOT_GUARDED, State.OBSERVED)
    assert patches_to(twin, cosmos["id"]) == []
    if "\u200b" not in lookalike:  # NFKC maps the rest onto ASCII: reported as made to look like one
        assert outcome.state is State.OBSERVED and "made to look like one" in outcome.reason
    # ... while the group the workspace does name is fixed.
    proven = broken_cosmos(subscription, MANAGED_RG)
    assert remediate(twin, [proven], proven["id"]).state is State.VERIFIED


def test_a_workspace_naming_an_ordinary_group_does_not_make_it_managed(twin: Twin) -> None:
    # serviceProvisionedResourceGroup is read-only in ARM, but a tool that loosens must not rest on one field.
    subscription = fresh_subscription()
    claiming = workspace(ORDINARY_RG, subscription)
    cosmos = broken_cosmos(subscription, ORDINARY_RG)
    outcome = remediate(twin, [claiming, cosmos], cosmos["id"])
    assert outcome.state is State.NOT_GUARDED
    assert patches_to(twin, cosmos["id"]) == []


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"encryption": {"status": "Disabled"}}, "not encrypted with a customer-managed key"),
        ({"enableServiceSideCMKEncryption": True}, "service-side encryption"),
    ],
)
def test_a_workspace_that_cannot_have_a_managed_group_proves_nothing(
    twin: Twin, changes: dict[str, Any], why: str
) -> None:
    subscription = fresh_subscription()
    cosmos = broken_cosmos(subscription, MANAGED_RG)
    outcome = remediate(twin, [workspace(MANAGED_RG, subscription, **changes), cosmos], cosmos["id"])
    assert outcome.state is State.OBSERVED and why in outcome.reason
    assert patches_to(twin, cosmos["id"]) == []


def test_a_workspace_of_another_kind_or_another_name_proves_nothing(twin: Twin) -> None:
    subscription = fresh_subscription()
    feature_store = workspace(MANAGED_RG, subscription)
    feature_store["kind"] = "FeatureStore"
    other_name = workspace(MANAGED_RG, subscription, name="someone-else")
    cosmos = broken_cosmos(subscription, MANAGED_RG)
    outcome = remediate(twin, [feature_store, other_name, cosmos], cosmos["id"])
    assert outcome.state is State.OBSERVED
    assert "is of kind 'FeatureStore'" in outcome.reason and "fits none of the forms" in outcome.reason
    assert patches_to(twin, cosmos["id"]) == []


def test_a_workspace_in_another_subscription_proves_nothing_here(twin: Twin) -> None:
    here, elsewhere = fresh_subscription(), fresh_subscription()
    cosmos = broken_cosmos(here, MANAGED_RG)
    outcome = remediate(twin, [workspace(MANAGED_RG, elsewhere), cosmos], cosmos["id"])
    assert outcome.state is State.OBSERVED
    assert patches_to(twin, cosmos["id"]) == []


def test_a_registrys_group_is_never_loosened_even_when_listed(twin: Twin) -> None:
    subscription = fresh_subscription()
    storage = with_properties(in_group(example(STORAGE_GET), REGISTRY_GROUP), allowSharedKeyAccess=False)
    storage["id"] = storage["id"].replace("/subscriptions/{subscription-id}/", f"/subscriptions/{subscription}/")
    listed = load_scope_rules({"GUARD_MANAGED_RESOURCE_GROUPS": REGISTRY_GROUP})
    outcome = remediate(twin, [registry(subscription, REGISTRY_GROUP), storage], storage["id"], listed)
    assert outcome.state is State.NOT_GUARDED
    assert "Azure ML registry" in outcome.reason and "nothing in it is ever loosened" in outcome.reason
    assert patches_to(twin, storage["id"]) == []


def test_a_listed_group_is_managed_without_a_workspace(twin: Twin) -> None:
    subscription = fresh_subscription()
    group = f"rg-contoso-ml{GUID}"
    cosmos = broken_cosmos(subscription, group)
    listed = load_scope_rules({"GUARD_MANAGED_RESOURCE_GROUPS": group})
    outcome = remediate(twin, [cosmos], cosmos["id"], listed)
    assert outcome.state is State.VERIFIED and outcome.proven_by == "GUARD_MANAGED_RESOURCE_GROUPS"


@pytest.mark.parametrize("group", [MANAGED_RG, f"azureml-contoso-ws_{GUID}", f"rg-contoso-ml{GUID.replace('-', '')}"])
def test_each_form_for_the_workspace_is_proven(twin: Twin, group: str) -> None:
    subscription = fresh_subscription()
    cosmos = broken_cosmos(subscription, group)
    proving = workspace(group, subscription)
    outcome = remediate(twin, [proving, cosmos], cosmos["id"])
    assert outcome.state is State.VERIFIED, outcome.reason
    assert outcome.proven_by == proving["id"]
    assert outcome.to_json()["provenBy"] == proving["id"]


def test_an_unreadable_inventory_fails_closed(twin: Twin) -> None:
    subscription = fresh_subscription()
    cosmos = broken_cosmos(subscription, MANAGED_RG)
    twin.set_resource(workspace(MANAGED_RG, subscription))
    twin.set_resource(cosmos)
    path = f"/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/workspaces"
    fault = twin.add_fault({"kind": "error", "status": 503, "resourceId": path})
    try:
        outcome = pipeline(twin).remediate(cosmos["id"])
    finally:
        twin.remove_fault(fault)
    assert outcome.state is State.FAILED
    assert "workspace inventory could not be read, so nothing is loosened" in outcome.reason
    assert patches_to(twin, cosmos["id"]) == []


def test_the_inventory_is_read_once_per_subscription_while_fresh() -> None:
    now = [0.0]

    class CountingArm:
        calls = 0

        def list_raw(self, path: str, api_version: str) -> list[dict[str, Any]]:
            CountingArm.calls += 1
            return []

    inventory = WorkspaceInventory(CountingArm(), ttl_seconds=60, clock=lambda: now[0])  # type: ignore[arg-type]
    assert inventory.lookup("s1")[1] and CountingArm.calls == 2
    now[0] = 59.0
    assert inventory.lookup("S1") == (Inventory("s1"), []) and CountingArm.calls == 2
    now[0] = 60.0
    assert inventory.lookup("s1")[1] and CountingArm.calls == 4


# -- log evidence: the proving workspace's own identities are its traffic --------------------------


@pytest.mark.parametrize(
    ("requester", "state"),
    [
        ("00000000-1111-2222-3333-444444444444", State.VERIFIED),  # the workspace example's identity
        ("6c1d0e5f-4a3b-4c2d-9e8f-7a6b5c4d3e2f", State.PROPOSED),  # someone else's token
    ],
)
def test_only_the_proving_workspaces_identity_confirms_a_firewall_lock(
    twin: Twin, requester: str, state: State
) -> None:
    from tests.log_rows import service_evidence, storage_row

    subscription = fresh_subscription()
    storage = with_properties(in_group(example(STORAGE_GET), MANAGED_RG), publicNetworkAccess="Disabled")
    storage["id"] = storage["id"].replace("/subscriptions/{subscription-id}/", f"/subscriptions/{subscription}/")
    refused = storage_row("ago(2m)", f"{storage['id']}/blobServices/default", "403", "AuthorizationFailure")
    twin.add_log_rows("StorageBlobLogs", [refused | {"AuthenticationType": "OAuth", "RequesterObjectId": requester}])
    for body in (workspace(MANAGED_RG, subscription), storage):
        twin.set_resource(body)
    guard = pipeline(twin)
    guard.evidence = service_evidence(twin)
    outcome = guard.remediate(storage["id"])
    assert outcome.state is state, outcome.reason
    [firewall] = outcome.findings
    assert any(requester in line for line in firewall.evidence)


# -- the property: nothing outside a proven managed group is ever loosened ------------------------

_ASCII_IGNORING_CASE = re.ASCII | re.IGNORECASE
_GUID_TEXT = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})"


def oracle_proven(group: str, subscription: str, workspaces: list[dict[str, Any]], registries: list[str]) -> bool:
    """The rule, written out again independently of the product's code."""
    if any(re.fullmatch(re.escape(named), group, _ASCII_IGNORING_CASE) for named in registries):
        return False
    for body in workspaces:
        segments = body["id"].split("/")
        sub, ws_group, name = segments[2], segments[4], segments[-1]
        properties = body["properties"]
        if sub.lower() != subscription.lower():
            continue
        if str(body.get("kind") or "Default").lower() not in ("default", "hub", "project"):
            continue
        if properties.get("encryption", {}).get("status", "").lower() != "enabled":
            continue
        if properties.get("enableServiceSideCMKEncryption") is True:
            continue
        if not re.fullmatch(
            re.escape(properties.get("serviceProvisionedResourceGroup", "")), group, _ASCII_IGNORING_CASE
        ):
            continue
        forms = (rf"azureml-rg-{re.escape(name)}_{_GUID_TEXT}", rf"azureml-{re.escape(name)}_{_GUID_TEXT}",
                 rf"{re.escape(ws_group)}{_GUID_TEXT}")  # fmt: skip
        if any(re.fullmatch(form, group, _ASCII_IGNORING_CASE) for form in forms):
            return True
    return False


# Letters str.casefold() would equate with an ASCII one (long s, the Kelvin sign), and a fullwidth s.
_LOOKALIKES = {"s": ["\u017f", "\uff53"], "k": ["\u212a"]}
# Workspace names with an s or a k, so that look-alikes of their letters are tried often.
names = st.from_regex(r"[a-z0-9]{1,3}[sk][a-z0-9-]{0,5}", fullmatch=True)
guids = st.uuids().map(str) | st.uuids().map(lambda u: u.hex.upper())


# Resource group names: letters and digits of any script, and - _ . ( ) (ARM's rule).
group_text = st.text(
    st.characters(categories=("Lu", "Ll", "Lt", "Lo", "Nd"), include_characters="-_.()"), min_size=1, max_size=30
)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[str, str, list[dict[str, Any]], list[str]]:
    """A subscription, a resource group in it, the subscription's workspaces, and the groups its registries name."""
    subscription = fresh_subscription()
    workspace_name, guid = draw(names), draw(guids)
    platform_group = f"azureml-rg-{workspace_name}_{guid}"
    shapes = [platform_group, f"azureml-{workspace_name}_{guid}", f"rg-ml{guid}", f"rg-ml-{workspace_name}"]
    group = draw(st.sampled_from(shapes)) if draw(st.integers(0, 4)) else draw(group_text)
    if draw(st.integers(0, 2)) == 0:  # a Unicode look-alike of one letter
        letters = [i for i, c in enumerate(group) if c in _LOOKALIKES]
        if letters:
            at = draw(st.sampled_from(letters))
            group = group[:at] + draw(st.sampled_from(_LOOKALIKES[group[at]])) + group[at + 1 :]
    if draw(st.integers(0, 3)) == 0:
        group = group.swapcase()
    workspaces: dict[str, dict[str, Any]] = {}  # by id: a later body replaces an earlier one, as in ARM
    for number in range(draw(st.integers(0, 3))):
        # Mostly an honest workspace naming the group; each fact may be off, so every rule is tried.
        def honest_or(honest: Any, *others: Any) -> Any:
            return honest if draw(st.integers(0, 7)) else draw(st.sampled_from(others))

        named_group = honest_or(group, group.upper(), platform_group, f"rg-ml{guid}")
        own_group = honest_or("rg-ml", "rg-contoso-ml")
        body = workspace(
            named_group,
            honest_or(subscription, fresh_subscription()),
            name=honest_or(workspace_name, f"{workspace_name}{number}"),
        )
        body["id"] = body["id"].replace("/rg-contoso-ml/", f"/{own_group}/")
        body["kind"] = honest_or(draw(st.sampled_from([None, "Default", "hub", "Project"])), "FeatureStore", "Other")
        body["properties"]["encryption"]["status"] = honest_or("Enabled", "Disabled", "enabled")
        body["properties"]["enableServiceSideCMKEncryption"] = honest_or(False, True)
        workspaces[body["id"].casefold()] = body
    registries = (
        draw(st.lists(st.sampled_from([group, platform_group]), max_size=1)) if draw(st.integers(0, 3)) == 0 else []
    )
    return subscription, group, list(workspaces.values()), registries


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=scenario())
def test_nothing_outside_a_proven_managed_group_is_ever_loosened(
    twin: Twin, generated: tuple[str, str, list[dict[str, Any]], list[str]]
) -> None:
    subscription, group, workspaces, registries = generated
    cosmos = broken_cosmos(subscription, group, name=f"db-{subscription}")
    owners = [registry(subscription, named, f"registry-{n}") for n, named in enumerate(registries)]
    outcome = remediate(twin, [*workspaces, *owners, cosmos], cosmos["id"])
    loosened = patches_to(twin, cosmos["id"])
    proven = oracle_proven(group, subscription, workspaces, registries)
    event(f"proven: {proven}, outcome: {outcome.state}")
    if proven:
        assert outcome.state is State.VERIFIED, outcome.reason
        assert loosened == [b'{"properties":{"disableLocalAuth":false}}']
    else:
        assert loosened == [], f"{group!r} was loosened: {outcome.reason}"
        assert outcome.state in (State.NOT_GUARDED, State.OBSERVED), outcome.reason
