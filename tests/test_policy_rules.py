"""The policy rule language as far as the check reads it, and the guarded properties it reads it
against: the platform's values are what the remediators restore, and a value a policy writes
breaks exactly what the type's remediator would find broken."""

from __future__ import annotations

from typing import Any

import pytest

from remediators.arm_json import MISSING
from remediators.findings import BreakageKind
from remediators.policy.effects import HARMLESS_EFFECTS, Action, Effect, effect_named, touches
from remediators.policy.guarded import (
    GUARDED_PROPERTIES,
    MANAGED_TYPES,
    guarded_property,
    platform_body,
    platform_values,
)
from remediators.policy.rules import Facts, Unresolved, evaluate, parameter_values, resolve
from remediators.registry import remediators_of_type
from remediators.remediator import Context
from tests.policy_payloads import every_builtin_definition, needs_builtins

COSMOS = "Microsoft.DocumentDB/databaseAccounts"
SEARCH = "Microsoft.Search/searchServices"
STORAGE = "Microsoft.Storage/storageAccounts"


@pytest.mark.parametrize("resource_type", MANAGED_TYPES)
def test_the_platform_body_of_each_managed_type_is_healthy(resource_type: str) -> None:
    [remediator] = remediators_of_type(resource_type)
    body = platform_body(resource_type)
    assert remediator.detect(body, Context(resource_id=body["id"], scope_evidence="test")) == []


# A value that leaves each guarded property broken, and the kind its remediator reports.
BROKEN = {
    (COSMOS, "disableLocalAuth"): True,
    (COSMOS, "publicNetworkAccess"): "Disabled",
    (COSMOS, "ipRules"): [{"ipAddressOrRange": "203.0.113.7"}],
    (COSMOS, "isVirtualNetworkFilterEnabled"): True,
    (SEARCH, "disableLocalAuth"): True,
    (SEARCH, "authOptions"): None,
    (SEARCH, "publicNetworkAccess"): "disabled",
    (SEARCH, "networkRuleSet.ipRules"): [{"value": "203.0.113.7"}],
    (STORAGE, "allowSharedKeyAccess"): False,
    (STORAGE, "publicNetworkAccess"): "SecuredByPerimeter",
    (STORAGE, "networkAcls.bypass"): "None",
}


def test_every_guarded_property_has_a_broken_value_here() -> None:
    assert set(BROKEN) == {(p.resource_type, p.path) for p in GUARDED_PROPERTIES}


@pytest.mark.parametrize("guarded", GUARDED_PROPERTIES, ids=lambda p: p.alias)
def test_a_written_value_breaks_what_the_remediator_finds_broken(guarded: Any) -> None:
    assert guarded.kind_caused(BROKEN[(guarded.resource_type, guarded.path)]) is guarded.kind
    assert guarded.kind_caused(guarded.platform_value) is None


def test_removing_a_property_returns_it_to_the_providers_default() -> None:
    [shared_key] = [p for p in GUARDED_PROPERTIES if p.path == "allowSharedKeyAccess"]
    assert shared_key.kind_caused(MISSING) is None  # null means allowed


def test_aliases_name_guarded_properties_and_their_elements_ignoring_case() -> None:
    assert guarded_property("microsoft.documentdb/DATABASEACCOUNTS/disablelocalauth") is not None
    ip_rules = guarded_property("Microsoft.DocumentDB/databaseAccounts/ipRules[*].ipAddressOrRange")
    assert ip_rules is not None and ip_rules.path == "ipRules"
    assert guarded_property("Microsoft.DocumentDB/databaseAccounts/capabilities[*].name") is None
    assert guarded_property("Microsoft.CognitiveServices/accounts/disableLocalAuth") is None


def managed(resource_type: str, parameters: dict[str, Any] | None = None) -> Facts:
    """What is known of a managed resource of the type without its body."""
    return Facts(resource_type, platform_values(resource_type), parameters or {})


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"field": "type", "equals": "microsoft.documentdb/DatabaseAccounts"}, True),
        ({"field": "type", "notEquals": COSMOS}, False),
        ({"field": "type", "in": [SEARCH, COSMOS]}, True),
        ({"field": "type", "notin": [SEARCH]}, True),  # built-ins spell operators in any case
        ({"field": "type", "like": "Microsoft.DocumentDB/*"}, True),
        ({"field": "type", "notLike": "Microsoft.Document*"}, False),
        ({"field": f"{COSMOS}/disableLocalAuth", "notEquals": True}, True),
        ({"field": f"{COSMOS}/disableLocalAuth", "equals": "false"}, True),  # booleans equal their text
        ({"field": f"{COSMOS}/publicNetworkAccess", "equals": "enabled"}, True),
        ({"field": f"{COSMOS}/publicNetworkAccess", "exists": "false"}, False),
        ({"field": f"{COSMOS}/publicNetworkAccess", "contains": "able"}, True),
        # Another type's alias reads as absent, as Azure reads it.
        ({"field": f"{STORAGE}/allowSharedKeyAccess", "exists": False}, True),
        ({"field": f"{STORAGE}/allowSharedKeyAccess", "notEquals": "true"}, True),
        ({"field": f"{STORAGE}/allowSharedKeyAccess", "equals": "false"}, False),
        ({"field": f"{COSMOS}/sqlDatabases/resource.id", "exists": "true"}, False),  # a child type's
        ({"count": {"field": f"{COSMOS}/ipRules[*]"}, "equals": 0}, True),
        ({"count": {"field": f"{COSMOS}/ipRules[*]", "where": {"field": "name", "equals": "x"}}, "less": 1}, True),
        ({"value": "[parameters('effect')]", "equals": "Modify"}, True),
        ({"value": "[field('Microsoft.DocumentDB/databaseAccounts/disableLocalAuth')]", "equals": False}, True),
        ({"not": {"field": "type", "equals": COSMOS}}, False),
        ({"allOf": [{"field": "type", "equals": COSMOS}, {"field": "kind", "equals": "MongoDB"}]}, None),
        ({"allOf": [{"field": "type", "equals": SEARCH}, {"field": "kind", "equals": "MongoDB"}]}, False),
        ({"anyof": [{"field": "type", "equals": COSMOS}, {"field": "kind", "equals": "MongoDB"}]}, True),
        ({"anyOf": [{"field": "type", "equals": SEARCH}, {"field": "location", "in": ["westeurope"]}]}, None),
        ({"not": {"field": "name", "like": "cluster*"}}, None),
        ({"field": f"{COSMOS}/capabilities[*].name", "notIn": ["EnableMongo"]}, None),
        ({"count": {"field": f"{COSMOS}/privateEndpointConnections[*]"}, "less": 1}, None),
        ({"field": f"{COSMOS}/disableLocalAuth", "match": "#"}, None),
        ({"value": "[resourcegroup().managedBy]", "notContains": "/providers/Microsoft.Databricks/"}, None),
    ],
)
def test_conditions_read_against_a_managed_resource(condition: dict[str, Any], holds: bool | None) -> None:
    decision = evaluate(condition, managed(COSMOS, {"effect": "Modify"}))
    assert decision.holds is holds
    assert bool(decision.undecided) is (holds is None)


def test_undecided_conditions_are_named_and_a_false_one_settles_an_all_of() -> None:
    condition = {"allOf": [{"field": "kind", "equals": "MongoDB"}, {"field": "location", "equals": "westeurope"}]}
    decision = evaluate(condition, managed(COSMOS))
    assert decision.holds is None and decision.may_hold
    assert decision.undecided == ('{"field":"kind","equals":"MongoDB"}', '{"field":"location","equals":"westeurope"}')
    settled = evaluate({"allOf": [*condition["allOf"], {"field": "type", "equals": SEARCH}]}, managed(COSMOS))
    assert (settled.holds, settled.undecided) == (False, ())


def test_parameters_resolve_from_the_value_supplied_else_the_default() -> None:
    declared = {"effect": {"defaultValue": "Modify"}, "Allowed": {"type": "Array"}}
    assert parameter_values(declared, {"EFFECT": "Disabled"})["effect"] == "Disabled"
    values = parameter_values(declared, {})
    assert values["effect"] == "Modify"
    assert isinstance(values["Allowed"], Unresolved)
    assert resolve("[parameters('Effect')]", values) == "Modify"
    assert resolve("[ parameters( 'effect' ) ]", values) == "Modify"
    assert resolve("[[parameters('effect')]", values) == "[parameters('effect')]"  # a literal "["
    assert isinstance(resolve("[concat('a', 'b')]", values), Unresolved)
    assert resolve("Deny", values) == "Deny"


def test_effect_names_are_read_without_regard_to_case() -> None:
    assert effect_named("modify") is Effect.MODIFY
    assert effect_named("deployIfNotExists") is Effect.DEPLOY_IF_NOT_EXISTS
    assert effect_named("audit") == "Audit" and "Audit" in HARMLESS_EFFECTS


def test_append_adds_to_a_guarded_array_and_a_modify_condition_on_the_api_version_is_read() -> None:
    rule = {
        "if": {"field": "type", "equals": COSMOS},
        "then": {
            "effect": "append",
            "details": [{"field": f"{COSMOS}/ipRules[*]", "value": {"ipAddressOrRange": "[parameters('ip')]"}}],
        },
    }
    [touch] = touches(rule, Effect.APPEND, managed(COSMOS, {"ip": "203.0.113.7"}), "2026-03-15")
    assert (touch.action, touch.property.path, touch.value) == (
        Action.WRITES,
        "ipRules",
        [{"ipAddressOrRange": "[parameters('ip')]"}],
    )
    assert touch.kind is BreakageKind.MANAGED_RG_FIREWALL_LOCKED

    def modify(condition: str) -> dict[str, Any]:
        operation = {
            "condition": condition,
            "operation": "addOrReplace",
            "field": f"{COSMOS}/disableLocalAuth",
            "value": True,
        }
        return {"if": rule["if"], "then": {"effect": "Modify", "details": {"operations": [operation]}}}

    since = "[greaterOrEquals(requestContext().apiVersion, '2021-06-15')]"
    assert [t.undecided for t in touches(modify(since), Effect.MODIFY, managed(COSMOS), "2026-03-15")] == [()]
    assert touches(modify(since.replace("2021", "2030")), Effect.MODIFY, managed(COSMOS), "2026-03-15") == []
    [unknown] = touches(
        modify("[equals(requestContext().apiVersion, 'x')]"), Effect.MODIFY, managed(COSMOS), "2026-03-15"
    )
    assert unknown.undecided


def test_a_deny_refuses_the_properties_whose_conditions_make_it_match() -> None:
    condition = {
        "allOf": [
            {"field": "type", "equals": COSMOS},
            {
                "anyOf": [
                    {"field": f"{COSMOS}/publicNetworkAccess", "notEquals": "Disabled"},
                    {"count": {"field": f"{COSMOS}/ipRules[*]"}, "greaterOrEquals": 1},
                    {"not": {"field": f"{COSMOS}/isVirtualNetworkFilterEnabled", "equals": False}},
                    {"not": {"field": f"{COSMOS}/disableLocalAuth", "equals": True}},
                ]
            },
        ]
    }
    refused = touches({"if": condition, "then": {"effect": "deny"}}, Effect.DENY, managed(COSMOS), "2026-03-15")
    assert [(t.action, t.property.path, t.value) for t in refused] == [
        (Action.REFUSES, "publicNetworkAccess", "Enabled"),
        (Action.REFUSES, "disableLocalAuth", False),
    ]


def test_a_modify_writing_the_platforms_own_value_breaks_nothing() -> None:
    operation = {"operation": "addOrReplace", "field": f"{SEARCH}/publicNetworkAccess", "value": "Enabled"}
    rule = {
        "if": {"field": "type", "equals": SEARCH},
        "then": {"effect": "Modify", "details": {"operations": [operation]}},
    }
    assert touches(rule, Effect.MODIFY, managed(SEARCH), "2025-05-01") == []


def test_a_deploy_if_not_exists_template_that_writes_a_guarded_property_is_a_write() -> None:
    template = {
        "resources": [
            {
                "type": STORAGE,
                "apiVersion": "2023-01-01",
                "name": "[parameters('name')]",
                "properties": {"allowSharedKeyAccess": "[parameters('sharedKey')]", "minimumTlsVersion": "TLS1_2"},
            },
            {"type": "Microsoft.Security/advancedThreatProtectionSettings", "properties": {"isEnabled": True}},
        ]
    }
    deployment = {
        "properties": {
            "mode": "incremental",
            "template": template,
            "parameters": {"sharedKey": {"value": "[parameters('keys')]"}},
        }
    }
    rule = {
        "if": {"field": "type", "equals": STORAGE},
        "then": {"effect": "DeployIfNotExists", "details": {"deployment": deployment}},
    }
    [touch] = touches(rule, Effect.DEPLOY_IF_NOT_EXISTS, managed(STORAGE, {"keys": False}), "2026-09-01")
    assert (touch.property.path, touch.value, touch.kind) == (
        "allowSharedKeyAccess",
        False,
        BreakageKind.LOCAL_AUTH_DISABLED,
    )
    assert touches(rule, Effect.DEPLOY_IF_NOT_EXISTS, managed(STORAGE, {"keys": True}), "2026-09-01") == []


@needs_builtins
def test_every_builtin_reads_without_error_against_every_managed_type_and_effect() -> None:
    for body in every_builtin_definition():
        properties = body["properties"]
        declared = properties.get("parameters", {})
        allowed = declared.get("effect", {}).get("allowedValues", [properties["policyRule"]["then"]["effect"]])
        for resource_type in MANAGED_TYPES:
            facts = managed(resource_type, parameter_values(declared, {}))
            assert evaluate(properties["policyRule"]["if"], facts).holds in (True, False, None)
            for effect in {effect_named(a) for a in allowed}:
                if isinstance(effect, Effect):
                    touches(properties["policyRule"], effect, facts, "2026-01-01")
