"""Scope recognition: managed resource groups, AI accounts, include/exclude, the opt-out tag."""

from __future__ import annotations

import pytest

from remediators.classify import classify
from remediators.findings import Guarded
from remediators.resource_ids import parse_resource_id
from remediators.scope import InvalidScopePattern, ScopePattern, ScopeRules, candidate_form, configured_entry
from remediators.settings import InvalidSettings, load_scope_rules
from tests.payloads import COSMOS_GET, MANAGED_RG, ai_account, example, in_group, with_properties

GUID = "fc12d3b8-b1e4-44e1-a461-cf28bb2fc418"


@pytest.mark.parametrize(
    ("group", "form"),
    [
        (f"azureml-rg-contoso-ws_{GUID}", "azureml-rg-<workspace>_<guid>"),
        (f"AzureML-RG-Contoso_WS_{GUID.upper()}", "azureml-rg-<workspace>_<guid>"),  # ASCII case is ignored
        (f"azureml-contoso-ws_{GUID}", "azureml-<workspace>_<guid>"),
        # Seen in an azure-ai-ml sample: the workspace part may itself look like a GUID.
        ("azureml-rg-df3c88f9-907c-4b17-89a1_34ea597f-d69c-4d70-92da-87400e100a2a", "azureml-rg-<workspace>_<guid>"),
        (f"rg-ml{GUID}", "<workspace resource group><guid>"),  # Microsoft's CMK how-to
        (f"rg-ml{GUID.replace('-', '')}", "<workspace resource group><guid>"),
        # Only a nomination: the look-alike is a candidate of the generic form, never of ws's.
        (f"azureml-rg-w\u017f_{GUID}", "<workspace resource group><guid>"),
        (f"my-azureml-rg-contoso_{GUID}", "<workspace resource group><guid>"),
    ],
)
def test_names_only_nominate_candidates(group: str, form: str) -> None:
    assert candidate_form(group) == form


@pytest.mark.parametrize(
    "group",
    [
        "azureml-rg-contoso-ws",  # no GUID
        f"azureml-rg-contoso-ws_{GUID}-copy",
        f"azureml-rg-contoso_{GUID[:-1]}",
        GUID,  # a GUID alone names no workspace group
        f"azureml-rg-contoso_{GUID[:-1]}\u212a",  # the Kelvin sign is not a hex digit
        "rg-contoso-prod",
    ],
)
def test_other_groups_are_no_candidates(group: str) -> None:
    assert candidate_form(group) is None


@pytest.mark.parametrize("lookalike", ["azureml-rg-w\u017f", "azureml-rg-\u212aws", "AZUREML-RG-W\u017f"])
def test_name_patterns_ignore_only_ascii_case(lookalike: str) -> None:
    # '\u017f'.casefold() == 's' and the Kelvin sign lowers to 'k': neither may pass for a letter of a name.
    assert candidate_form(f"{lookalike}_{GUID}") != "azureml-rg-<workspace>_<guid>"
    rules = load_scope_rules({"GUARD_MANAGED_RESOURCE_GROUPS": "azureml-rg-ws*,azureml-rg-kws*"})
    assert configured_entry(f"{lookalike}_{GUID}", rules) is None


def test_configured_groups_and_globs_are_listed() -> None:
    rules = load_scope_rules({"GUARD_MANAGED_RESOURCE_GROUPS": f" rg-ml{GUID} , ws-prod-rg* "})
    assert configured_entry(f"RG-ML{GUID.upper()}", rules) == f"rg-ml{GUID}"
    assert configured_entry(f"ws-prod-rg{GUID}", rules) == "ws-prod-rg*"
    assert configured_entry("ws-dev-rg", rules) is None
    assert classify(broken_cosmos(f"ws-prod-rg{GUID}"), rules).proven is True


def test_a_name_alone_is_classified_unproven() -> None:
    result = classify(broken_cosmos(), ScopeRules())
    assert result.guarded is Guarded.MANAGED_RG and result.proven is False
    assert "nothing is loosened until a customer-managed-key workspace is shown to name it" in result.reason
    assert result.to_json()["proven"] is False


def broken_cosmos(group: str = MANAGED_RG, **tags: str) -> dict:
    cosmos = with_properties(in_group(example(COSMOS_GET), group), disableLocalAuth=True)
    cosmos["tags"] = tags
    return cosmos


def test_exclude_wins_over_include() -> None:
    rules = load_scope_rules(
        {
            "GUARD_INCLUDE_SCOPES": "/subscriptions/subid",
            "GUARD_EXCLUDE_SCOPES": f"/subscriptions/*/resourceGroups/{MANAGED_RG[:12]}*",
        }
    )
    result = classify(broken_cosmos(), rules)
    assert result.guarded is None and result.findings == ()
    assert result.reason.startswith("excluded by GUARD_EXCLUDE_SCOPES")


def test_include_limits_scope() -> None:
    outside = load_scope_rules({"GUARD_INCLUDE_SCOPES": "/subscriptions/other-sub"})
    inside = load_scope_rules(
        {"GUARD_INCLUDE_SCOPES": "/subscriptions/other-sub, /SUBSCRIPTIONS/SubID/resourceGroups/*"}
    )
    assert classify(broken_cosmos(), outside).reason == "outside every GUARD_INCLUDE_SCOPES entry"
    assert classify(broken_cosmos(), inside).guarded is Guarded.MANAGED_RG


def test_scope_pattern_matches_whole_segments_under_the_scope() -> None:
    pattern = ScopePattern.parse("/subscriptions/sub?/resourceGroups/rg1")
    assert pattern.matches(parse_resource_id("/subscriptions/sub1/resourceGroups/RG1/providers/A.B/c/d"))
    assert not pattern.matches(parse_resource_id("/subscriptions/sub1/resourceGroups/rg10/providers/A.B/c/d"))
    assert not pattern.matches(parse_resource_id("/subscriptions/sub1"))


@pytest.mark.parametrize("text", ["subscriptions/x", "/resourceGroups/rg", "/subscriptions", "/subscriptions//x"])
def test_malformed_scope_patterns_are_refused(text: str) -> None:
    with pytest.raises(InvalidScopePattern):
        ScopePattern.parse(text)


@pytest.mark.parametrize("pattern", ["*", "?*", "rg-ml, *"])
def test_a_managed_group_pattern_that_matches_everything_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidSettings, match="would treat every resource group as managed"):
        load_scope_rules({"GUARD_MANAGED_RESOURCE_GROUPS": pattern})


def test_malformed_setting_names_the_variable() -> None:
    with pytest.raises(InvalidSettings, match="GUARD_EXCLUDE_SCOPES"):
        load_scope_rules({"GUARD_EXCLUDE_SCOPES": "rg-prod"})
    with pytest.raises(InvalidSettings, match="GUARD_OPT_OUT_TAG"):
        load_scope_rules({"GUARD_OPT_OUT_TAG": "  "})


@pytest.mark.parametrize("tags", [{"foundry-guard": "off"}, {"Foundry-Guard": "OFF"}])
def test_opt_out_tag_leaves_a_resource_alone(tags: dict[str, str]) -> None:
    result = classify(broken_cosmos(**tags), ScopeRules())
    assert result.guarded is None and result.findings == ()
    assert result.reason == "opted out by tag foundry-guard=off"


def test_opt_out_tag_name_is_configurable_and_other_values_do_not_opt_out() -> None:
    rules = load_scope_rules({"GUARD_OPT_OUT_TAG": "remediation"})
    assert classify(broken_cosmos(remediation="off"), rules).guarded is None
    assert classify(broken_cosmos(**{"foundry-guard": "off"}), rules).guarded is Guarded.MANAGED_RG
    assert classify(broken_cosmos(remediation="on"), rules).guarded is Guarded.MANAGED_RG


def test_treat_as_managed_overrides_the_name_only() -> None:
    ordinary = broken_cosmos("rg-anything")
    assert classify(ordinary, ScopeRules()).guarded is None
    assert classify(ordinary, ScopeRules(), treat_as_managed=True).guarded is Guarded.MANAGED_RG
    opted_out = broken_cosmos("rg-anything", **{"foundry-guard": "off"})
    assert classify(opted_out, ScopeRules(), treat_as_managed=True).guarded is None


@pytest.mark.parametrize("kind", ["OpenAI", "AIServices", "openai", "aiservices"])
def test_ai_accounts_are_guarded_in_any_group(kind: str) -> None:
    result = classify(ai_account(kind), ScopeRules())
    assert result.guarded is Guarded.AI_ACCOUNT
    assert "is an AI account" in result.reason


@pytest.mark.parametrize("kind", ["Emotion", "TextAnalytics", "", None, 7])
def test_other_cognitive_services_kinds_are_not_guarded(kind: object) -> None:
    account = ai_account()
    account["kind"] = kind
    result = classify(with_properties(account, restrictOutboundNetworkAccess=False), ScopeRules())
    assert result.guarded is None and result.findings == ()
    assert "is not guarded" in result.reason
