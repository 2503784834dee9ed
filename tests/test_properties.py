"""Properties that must hold for any input, not just the payloads we thought of."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediators.baselines import Baseline, InMemoryBaselines
from remediators.classify import Classification, NotAResource, classify
from remediators.findings import Guarded, apply_patch
from remediators.scope import ScopeRules, candidate_form, configured_entry
from tests.payloads import MANAGED_RG, MANAGED_RG_SHORT_FORM, ORDINARY_RG

RULES = ScopeRules()

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

# Values a guarded property might plausibly hold, plus arbitrary JSON.
plausible = (
    st.sampled_from(
        [
            True,
            False,
            1,
            0,
            "true",
            "False",
            None,
            "Enabled",
            "Disabled",
            "disabled",
            "SecuredByPerimeter",
            "Deny",
            "Allow",
            "AzureServices",
            "Logging, Metrics",
            "None",
            [],
            [{"value": "10.0.0.1"}],
            ["microsoft.com"],
            ["microsoft.com", "exfil.example.net"],
            {"apiKeyOnly": {}},
        ]
    )
    | json_values
)

PROPERTY_NAMES = [
    "disableLocalAuth",
    "publicNetworkAccess",
    "ipRules",
    "isVirtualNetworkFilterEnabled",
    "authOptions",
    "networkRuleSet",
    "allowSharedKeyAccess",
    "networkAcls",
    "restrictOutboundNetworkAccess",
    "allowedFqdnList",
]
properties = st.dictionaries(st.sampled_from(PROPERTY_NAMES), plausible, max_size=6) | st.fixed_dictionaries(
    {},
    optional={
        "networkRuleSet": st.fixed_dictionaries({}, optional={"ipRules": plausible, "bypass": plausible}),
        "networkAcls": st.fixed_dictionaries({}, optional={"defaultAction": plausible, "bypass": plausible}),
        "disableLocalAuth": plausible,
        "restrictOutboundNetworkAccess": plausible,
        "allowedFqdnList": plausible,
    },
)

segment = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
)
resource_groups = (
    st.sampled_from(
        [MANAGED_RG, MANAGED_RG_SHORT_FORM, ORDINARY_RG, "rg5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c", "azureml-rg-ws"]
    )
    | segment
)
resource_types = st.sampled_from(
    [
        "Microsoft.DocumentDB/databaseAccounts",
        "Microsoft.Search/searchServices",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.CognitiveServices/accounts",
        "microsoft.search/SEARCHSERVICES",
        "Microsoft.KeyVault/vaults",
    ]
)
kinds = st.sampled_from(["OpenAI", "AIServices", "openai", "Emotion", "GlobalDocumentDB", None]) | json_values


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    subscription = draw(st.sampled_from(["subid", "{subscription-id}", "00000000-1111-2222-3333-444444444444"]))
    resource_id = (
        f"/subscriptions/{subscription}/resourceGroups/{draw(resource_groups)}"
        f"/providers/{draw(resource_types)}/{draw(segment)}"
    )
    resource: dict[str, Any] = {"id": resource_id, "properties": draw(properties)}
    if draw(st.booleans()):
        resource["kind"] = draw(kinds)
    if draw(st.booleans()):
        resource["tags"] = draw(
            st.dictionaries(
                st.sampled_from(["foundry-guard", "Foundry-Guard", "env"]),
                st.sampled_from(["off", "OFF", "on", "prod"]),
                max_size=2,
            )
        )
    return resource


@st.composite
def managed_resources(draw: st.DrawFn) -> dict[str, Any]:
    """Cosmos DB, Search and Storage in a managed group: the population whose fixes loosen."""
    resource = draw(resources())
    parts = resource["id"].split("/")
    parts[4] = draw(st.sampled_from([MANAGED_RG, MANAGED_RG_SHORT_FORM]))
    parts[6:8] = draw(
        st.sampled_from(
            [
                t.split("/")
                for t in (
                    "Microsoft.DocumentDB/databaseAccounts",
                    "Microsoft.Search/searchServices",
                    "Microsoft.Storage/storageAccounts",
                )
            ]
        )
    )
    resource["id"] = "/".join(parts)
    resource.pop("tags", None)
    properties = resource["properties"]
    for name, values in MANAGED_VALUES.items():
        if draw(st.booleans()):
            properties[name] = draw(values | plausible)
    return resource


MANAGED_VALUES = {
    "disableLocalAuth": st.sampled_from([True, 1, "true", False, None]),
    "allowSharedKeyAccess": st.sampled_from([False, 0, "False", True, None]),
    "allowSharedKeyAccessForServices": st.dictionaries(
        st.sampled_from(["blob", "file", "queue", "table", "Blob"]),
        st.fixed_dictionaries({}, optional={"enabled": st.sampled_from([True, False, 0, None])}),
        max_size=4,
    ),
    "publicNetworkAccess": st.sampled_from(["Disabled", "disabled", "SecuredByPerimeter", "Enabled", None]),
    "ipRules": st.lists(
        st.fixed_dictionaries({"ipAddressOrRange": st.sampled_from(["23.43.230.120", "10.0.0.0/8"])}), max_size=2
    ),
    "isVirtualNetworkFilterEnabled": st.sampled_from([True, False, 1, None]),
    "authOptions": st.sampled_from([None, {"apiKeyOnly": {}}]),
    "networkRuleSet": st.fixed_dictionaries(
        {"ipRules": st.lists(st.just({"value": "10.2.3.4"}), max_size=2)},
        optional={"bypass": st.sampled_from(["AzureServices", "None"])},
    ),
    "networkAcls": st.fixed_dictionaries(
        {"defaultAction": st.sampled_from(["Deny", "Allow", "deny"])},
        optional={"bypass": st.sampled_from(["None", "Logging, Metrics", "AzureServices", ""])},
    ),
}


fqdn_lists = st.lists(
    st.sampled_from(["microsoft.com", "Microsoft.com.", "a.example.com", "exfil.example.net"]), max_size=3
)


@st.composite
def ai_accounts(draw: st.DrawFn) -> dict[str, Any]:
    """OpenAI / AIServices accounts, restricted or not, with or without a list."""
    resource = draw(resources())
    resource["id"] = "/".join([*resource["id"].split("/")[:6], "Microsoft.CognitiveServices", "accounts", "a1"])
    resource["kind"] = draw(st.sampled_from(["OpenAI", "AIServices", "aiservices"]))
    resource.pop("tags", None)
    properties = resource["properties"]
    for name, values in (
        ("restrictOutboundNetworkAccess", st.sampled_from([True, 1, "true", False, 0, None])),
        ("allowedFqdnList", fqdn_lists | plausible),
    ):
        if draw(st.booleans()):
            properties[name] = draw(values)
        else:
            properties.pop(name, None)
    return resource


def _moved_out(resource: dict[str, Any], group: str) -> dict[str, Any]:
    parts = resource["id"].split("/")
    parts[4] = group
    return {**resource, "id": "/".join(parts)}


# The same broken resources in groups that are not managed: the fixes must never reach them.
ordinary_resources = st.builds(
    _moved_out,
    managed_resources(),
    st.sampled_from(
        [
            ORDINARY_RG,
            "rg5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c",
            "azureml-rg-ws",
            "azureml-rg-my.ws_5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c",
        ]
    ),
)
any_resource = st.one_of(resources(), managed_resources(), ordinary_resources, ai_accounts())
baselines_for = st.sampled_from([None, ["microsoft.com"], ["a.example.com", "b.example.com"], []])


def _classify(resource: dict[str, Any], recorded: list[str] | None) -> Classification:
    baselines = InMemoryBaselines()
    if recorded is not None:
        baselines.record(Baseline(resource["id"], {"properties.allowedFqdnList": recorded}))
    return classify(resource, RULES, baselines=baselines)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_is_classified_or_refused_with_a_reason(value: Any) -> None:
    try:
        classify(value, RULES)
    except NotAResource as error:
        assert str(error) and "\n" not in str(error)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["id", "type", "kind", "properties", "tags", "ID"]), json_values))
def test_any_object_is_classified_or_refused_with_a_reason(value: dict[str, Any]) -> None:
    try:
        classify(value, RULES)
    except NotAResource as error:
        assert str(error) and "\n" not in str(error)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(any_resource, baselines_for)
def test_detect_never_raises_and_never_loosens_outside_a_managed_group(
    resource: dict[str, Any], recorded: list[str] | None
) -> None:
    result = _classify(resource, recorded)
    group = resource["id"].split("/")[4]
    if candidate_form(group) is not None or configured_entry(group, RULES) is not None:
        return
    for finding in result.findings:
        # Outside a managed group the only fixes are the AI account's, and they only tighten.
        assert result.guarded is Guarded.AI_ACCOUNT
        changed = finding.plan.body["properties"]
        assert set(changed) <= {"restrictOutboundNetworkAccess", "allowedFqdnList"}
        assert changed.get("restrictOutboundNetworkAccess", True) is True
        allowed = {fqdn.casefold() for fqdn in changed.get("allowedFqdnList", [])}
        current = resource["properties"].get("allowedFqdnList")
        known = {
            f.casefold()
            for f in (recorded or []) + (current if isinstance(current, list) else [])
            if isinstance(f, str)
        }
        assert allowed <= known, "a plan never adds an endpoint nobody recorded"


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(any_resource, baselines_for)
def test_every_classification_serialises_to_json(resource: dict[str, Any], recorded: list[str] | None) -> None:
    result = _classify(resource, recorded)
    assert json.loads(json.dumps(result.to_json(), allow_nan=False))["resourceId"] == result.resource_id


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(any_resource, baselines_for)
def test_every_plan_once_applied_leaves_nothing_to_fix(resource: dict[str, Any], recorded: list[str] | None) -> None:
    result = _classify(resource, recorded)
    if result.plan is None:
        return
    fixed = apply_patch(resource, result.plan.body)
    assert _classify(fixed, recorded).findings == ()


PATCHABLE = {
    "Microsoft.DocumentDB/databaseAccounts": {
        "disableLocalAuth",
        "publicNetworkAccess",
        "ipRules",
        "isVirtualNetworkFilterEnabled",
    },
    "Microsoft.Search/searchServices": {"disableLocalAuth", "authOptions", "publicNetworkAccess", "networkRuleSet"},
    "Microsoft.Storage/storageAccounts": {
        "allowSharedKeyAccess",
        "allowSharedKeyAccessForServices",
        "publicNetworkAccess",
        "networkAcls",
    },
    "Microsoft.CognitiveServices/accounts": {"restrictOutboundNetworkAccess", "allowedFqdnList"},
}


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(any_resource, baselines_for)
def test_patches_touch_only_the_guarded_properties(resource: dict[str, Any], recorded: list[str] | None) -> None:
    result = _classify(resource, recorded)
    if result.plan is None:
        return
    allowed = next(v for k, v in PATCHABLE.items() if k.casefold() == (result.resource_type or "").casefold())
    assert set(result.plan.body) == {"properties"}
    assert set(result.plan.body["properties"]) <= allowed
