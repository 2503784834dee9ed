"""Which policy assignment would break a managed resource group, read from Microsoft's own built-in
definitions and initiatives (../shared/policy-builtins) and the REST spec's assignment and
exemption shapes (tests/fixtures/arm/policy). Time is injected: no test reads the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remediators.policy import PolicyDocuments, Report, find_conflicts
from tests.payloads import example
from tests.policy_payloads import (
    ALLOWED_LOCATIONS,
    ALZ_COSMOS_GUARDRAILS,
    COGNITIVE_SERVICES_DISABLE_LOCAL_AUTH_MODIFY,
    COSMOS_DISABLE_LOCAL_AUTH_MODIFY,
    COSMOS_FIREWALL_RULES_DENY,
    COSMOS_LOCAL_AUTH_DENY,
    COSMOS_MISSION_PLATFORMS,
    COSMOS_PUBLIC_ACCESS_DENY,
    COSMOS_PUBLIC_ACCESS_MODIFY,
    GROUP,
    MANAGEMENT_GROUP,
    MCSB,
    OTHER_GROUP,
    RESOURCE_GROUP_TAG_DENY,
    SEARCH_DISABLE_LOCAL_AUTH_MODIFY,
    SEARCH_LOCAL_AUTH_DENY,
    SEARCH_PUBLIC_ACCESS_DENY,
    SEARCH_PUBLIC_ACCESS_MODIFY,
    STORAGE_CMK_AUDIT,
    STORAGE_NETWORK_ACLS_DENY,
    STORAGE_PUBLIC_ACCESS_DENY,
    STORAGE_PUBLIC_ACCESS_MODIFY,
    STORAGE_SHARED_KEY_DENY,
    SUBSCRIPTION,
    assignment,
    builtin_definition,
    builtin_initiative,
    definition_id,
    every_builtin_definition,
    exemption,
    needs_builtins,
    set_definition_id,
)

pytestmark = needs_builtins

NOW = datetime(2026, 6, 1, tzinfo=UTC)
COSMOS = "Microsoft.DocumentDB/databaseAccounts"
SEARCH = "Microsoft.Search/searchServices"
STORAGE = "Microsoft.Storage/storageAccounts"


def check(
    assignments: list[dict[str, Any]],
    *,
    definitions: list[dict[str, Any]] | None = None,
    initiatives: list[dict[str, Any]] | None = None,
    exemptions: list[dict[str, Any]] | None = None,
    groups: tuple[str, ...] = (GROUP,),
    now: datetime = NOW,
) -> Report:
    documents = PolicyDocuments.from_bodies(
        assignments=assignments,
        definitions=every_builtin_definition() if definitions is None else definitions,
        set_definitions=initiatives or [],
        exemptions=exemptions or [],
    )
    return find_conflicts(documents, list(groups), now)


def lines(report: Report) -> list[dict[str, Any]]:
    return [conflict.to_json() for conflict in report.conflicts]


def touched(report: Report) -> list[tuple[str, str, Any, str, str]]:
    """(type, property, value, action, kind) of each line: what the assignment does to the group."""
    return [(c["resourceType"], c["property"], c["value"], c["action"], c["kind"]) for c in lines(report)]


def test_the_field_story_cosmos_disable_local_auth_at_the_subscription_names_its_exemption() -> None:
    report = check([assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY), name="no-keys")])
    assert report.problems == []
    [line] = lines(report)
    assert line["assignmentId"] == f"{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/no-keys"
    assert (line["assignmentName"], line["definitionId"]) == (
        "no-keys",
        definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY),
    )
    assert line["definitionName"] == "Configure Cosmos DB database accounts to disable local authentication"
    assert line["definitionReferenceId"] is None
    assert (line["effect"], line["action"], line["resourceType"]) == ("Modify", "writes", COSMOS)
    assert (line["property"], line["value"], line["kind"]) == ("disableLocalAuth", True, "local_auth_disabled")
    assert (line["resourceGroup"], line["enforced"], line["exempted"], line["exemptionId"]) == (
        GROUP,
        True,
        False,
        None,
    )
    # The account's API kind (capabilities) is not known without its body: taken to apply, and said.
    [undecided] = line["undecided"]
    assert "capabilities[*].name" in undecided

    proposal = line["proposal"]
    assert proposal["method"] == "PUT" and proposal["apiVersion"] == "2022-07-01-preview"
    assert proposal["id"].startswith(f"{GROUP}/providers/Microsoft.Authorization/policyExemptions/foundry-guard-")
    properties = proposal["body"]["properties"]
    assert properties["policyAssignmentId"] == line["assignmentId"]
    assert properties["exemptionCategory"] == "Waiver"
    assert "policyDefinitionReferenceIds" not in properties  # one definition: the whole assignment
    assert GROUP.rsplit("/", 1)[-1] in properties["description"]
    assert "writes disableLocalAuth true on databaseAccounts (local_auth_disabled)" in properties["description"]
    assert proposal["command"].startswith("az policy exemption create --name foundry-guard-")
    assert f"--scope {GROUP}" in proposal["command"] and "--exemption-category Waiver" in proposal["command"]


# Microsoft's built-ins, breaking and innocuous: each assigned alone at the subscription, with the
# effect its parameters give it; what it does to the managed group.
BUILTIN_CASES: list[tuple[str, str | None, dict[str, Any], list[tuple[str, str, Any, str, str]]]] = [
    (COSMOS_DISABLE_LOCAL_AUTH_MODIFY, None, {}, [(COSMOS, "disableLocalAuth", True, "writes", "local_auth_disabled")]),
    (COSMOS_DISABLE_LOCAL_AUTH_MODIFY, None, {"effect": "Disabled"}, []),
    (COSMOS_LOCAL_AUTH_DENY, None, {}, []),  # Audit by default
    (
        COSMOS_LOCAL_AUTH_DENY,
        None,
        {"effect": "Deny"},
        [(COSMOS, "disableLocalAuth", False, "refuses", "local_auth_disabled")],
    ),
    (
        COSMOS_PUBLIC_ACCESS_MODIFY,
        None,
        {},
        [(COSMOS, "publicNetworkAccess", "Disabled", "writes", "managed_rg_firewall_locked")],
    ),
    (
        COSMOS_PUBLIC_ACCESS_DENY,
        None,
        {"effect": "Deny"},
        [(COSMOS, "publicNetworkAccess", "Enabled", "refuses", "managed_rg_firewall_locked")],
    ),
    (
        COSMOS_FIREWALL_RULES_DENY,
        None,
        {},  # Deny by default
        [
            (COSMOS, "publicNetworkAccess", "Enabled", "refuses", "managed_rg_firewall_locked"),
            (COSMOS, "isVirtualNetworkFilterEnabled", False, "refuses", "managed_rg_firewall_locked"),
            (COSMOS, "ipRules", [], "refuses", "managed_rg_firewall_locked"),
        ],
    ),
    (
        SEARCH_DISABLE_LOCAL_AUTH_MODIFY,
        "1.0.1",
        {},
        [(SEARCH, "disableLocalAuth", True, "writes", "local_auth_disabled")],
    ),
    (
        SEARCH_DISABLE_LOCAL_AUTH_MODIFY,
        "2.0.0",
        {},
        [
            (SEARCH, "disableLocalAuth", True, "writes", "local_auth_disabled"),
            (SEARCH, "authOptions", None, "writes", "local_auth_disabled"),
        ],
    ),
    (
        SEARCH_LOCAL_AUTH_DENY,
        None,
        {"effect": "Deny"},
        [(SEARCH, "disableLocalAuth", False, "refuses", "local_auth_disabled")],
    ),
    (
        SEARCH_PUBLIC_ACCESS_MODIFY,
        None,
        {},
        [(SEARCH, "publicNetworkAccess", "Disabled", "writes", "managed_rg_firewall_locked")],
    ),
    (
        SEARCH_PUBLIC_ACCESS_DENY,
        None,
        {"effect": "Deny"},
        [(SEARCH, "publicNetworkAccess", "Enabled", "refuses", "managed_rg_firewall_locked")],
    ),
    (STORAGE_SHARED_KEY_DENY, None, {}, []),  # Audit by default
    (
        STORAGE_SHARED_KEY_DENY,
        None,
        {"effect": "Deny"},
        [(STORAGE, "allowSharedKeyAccess", True, "refuses", "local_auth_disabled")],
    ),
    (
        STORAGE_PUBLIC_ACCESS_MODIFY,
        None,
        {},
        [(STORAGE, "publicNetworkAccess", "Disabled", "writes", "managed_rg_firewall_locked")],
    ),
    (
        STORAGE_PUBLIC_ACCESS_DENY,
        None,
        {"effect": "Deny"},
        [(STORAGE, "publicNetworkAccess", "Enabled", "refuses", "managed_rg_firewall_locked")],
    ),
    # The platform leaves the Storage firewall on (defaultAction Deny): nothing to refuse.
    (STORAGE_NETWORK_ACLS_DENY, None, {"effect": "Deny"}, []),
    (STORAGE_CMK_AUDIT, None, {}, []),
    # Not a managed group's type: AI accounts are tightened, never loosened.
    (COGNITIVE_SERVICES_DISABLE_LOCAL_AUTH_MODIFY, None, {}, []),
    # Deny, but on no guarded property: location and resource group tags.
    (ALLOWED_LOCATIONS, None, {"listOfAllowedLocations": ["westeurope"]}, []),
    (RESOURCE_GROUP_TAG_DENY, None, {"tagName": "owner"}, []),
]


@pytest.mark.parametrize(("name", "version", "parameters", "expected"), BUILTIN_CASES)
def test_what_each_builtin_does_to_a_managed_group(
    name: str, version: str | None, parameters: dict[str, Any], expected: list[tuple[str, str, Any, str, str]]
) -> None:
    report = check(
        [assignment(definition_id(name), parameters=parameters, definition_version="*.*.*")],
        definitions=[builtin_definition(name, version)],
    )
    assert report.problems == []
    assert touched(report) == expected


def test_the_definition_version_the_assignment_asks_for_is_the_one_read() -> None:
    both = [builtin_definition(SEARCH_DISABLE_LOCAL_AUTH_MODIFY, v) for v in ("1.0.1", "2.0.0")]
    v1 = check(
        [assignment(definition_id(SEARCH_DISABLE_LOCAL_AUTH_MODIFY), definition_version="1.*.*")], definitions=both
    )
    v2 = check(
        [assignment(definition_id(SEARCH_DISABLE_LOCAL_AUTH_MODIFY), definition_version="2.*.*")], definitions=both
    )
    assert [(c["property"], c["definitionVersion"]) for c in lines(v1)] == [("disableLocalAuth", "1.0.1")]
    assert [(c["property"], c["definitionVersion"]) for c in lines(v2)] == [
        ("disableLocalAuth", "2.0.0"),
        ("authOptions", "2.0.0"),
    ]
    # One exemption stops both of the v2 operations, and its description names both.
    [proposal] = {str(c["proposal"]) for c in lines(v2)}
    assert "disableLocalAuth" in proposal and "authOptions" in proposal


def test_an_initiative_at_a_management_group_covers_the_group_with_its_reference_ids() -> None:
    alz = builtin_initiative(ALZ_COSMOS_GUARDRAILS)
    report = check([assignment(alz["id"], scope=MANAGEMENT_GROUP, name="cosmos-guardrails")], initiatives=[alz])
    found = [(c["definitionReferenceId"], c["effect"], c["property"]) for c in lines(report)]
    assert found == [
        ("Modify-CosmosDb-Local-Auth", "Modify", "disableLocalAuth"),
        ("Deny-CosmosDb-Fw-Rules", "Deny", "publicNetworkAccess"),
        ("Deny-CosmosDb-Fw-Rules", "Deny", "isVirtualNetworkFilterEnabled"),
        ("Deny-CosmosDb-Fw-Rules", "Deny", "ipRules"),
        ("Deny-CosmosDb-Local-Auth", "Deny", "disableLocalAuth"),
        ("Modify-CosmosDb-Public-Network-Access", "Modify", "publicNetworkAccess"),
    ]
    # Dine-CosmosDb-Atp deploys threat protection settings: no guarded property, no line.
    # The library form lacks one member's definition: said, and the others still evaluated.
    [problem] = report.problems
    assert "Append-CosmosDb-Metadata" in problem and "4750c32b-89c0-46af-bfcb-2e4541a818d5" in problem
    [proposal] = {str(c["proposal"]) for c in lines(report)}
    body = lines(report)[0]["proposal"]["body"]["properties"]
    assert body["policyDefinitionReferenceIds"] == [
        "Modify-CosmosDb-Local-Auth",
        "Deny-CosmosDb-Fw-Rules",
        "Deny-CosmosDb-Local-Auth",
        "Modify-CosmosDb-Public-Network-Access",
    ]
    assert "--policy-definition-reference-ids Modify-CosmosDb-Local-Auth Deny-CosmosDb-Fw-Rules" in proposal


def test_an_initiative_passes_its_own_parameters_to_its_members() -> None:
    alz = builtin_initiative(ALZ_COSMOS_GUARDRAILS)
    report = check(
        [
            assignment(
                alz["id"],
                scope=MANAGEMENT_GROUP,
                parameters={
                    "cosmosDbModifyLocalAuth": "Disabled",
                    "cosmosDbFwRules": "Audit",
                    "cosmosDbLocalAuth": "Audit",
                },
            )
        ],
        initiatives=[alz],
    )
    assert [c["definitionReferenceId"] for c in lines(report)] == ["Modify-CosmosDb-Public-Network-Access"]


def test_an_initiative_member_without_parameters_takes_its_definitions_defaults() -> None:
    mission = builtin_initiative(COSMOS_MISSION_PLATFORMS)
    report = check([assignment(mission["id"])], initiatives=[mission])
    assert report.problems == []
    assert [(c["definitionReferenceId"], c["effect"], c["property"]) for c in lines(report)] == [
        ("CosmosDBConfigureDisableLocalAuthentication", "Modify", "disableLocalAuth"),
        ("CosmosDBShouldConfigureDisablePublicNetworkAccess", "Modify", "publicNetworkAccess"),
    ]


def test_the_cloud_security_benchmark_audits_by_default_and_refuses_where_its_parameters_say_deny() -> None:
    benchmark = builtin_initiative(MCSB)
    quiet = check([assignment(benchmark["id"])], initiatives=[benchmark])
    assert (quiet.problems, lines(quiet)) == ([], [])  # 223 members evaluated, none writes or refuses

    effect = "azureCosmosDbAccountsShouldHaveLocalAuthenticationMethodsDisabledMonitoringEffect"
    denying = check([assignment(benchmark["id"], parameters={effect: "Deny"})], initiatives=[benchmark])
    [line] = lines(denying)
    assert (line["definitionReferenceId"], line["effect"], line["property"], line["value"]) == (
        effect,
        "Deny",
        "disableLocalAuth",
        False,
    )
    assert line["proposal"]["body"]["properties"]["policyDefinitionReferenceIds"] == [effect]


def test_overrides_change_the_effect_of_the_members_they_select() -> None:
    alz = builtin_initiative(ALZ_COSMOS_GUARDRAILS)
    # Microsoft's example override (to Audit, selected by reference id), selecting two ALZ members.
    overrides = example("policy/getPolicyAssignmentWithOverrides.json")["properties"]["overrides"]
    overrides[0]["selectors"][0]["in"] = ["Modify-CosmosDb-Local-Auth", "Deny-CosmosDb-Fw-Rules"]
    report = check([assignment(alz["id"], overrides=overrides)], initiatives=[alz])
    assert [c["definitionReferenceId"] for c in lines(report)] == [
        "Deny-CosmosDb-Local-Auth",
        "Modify-CosmosDb-Public-Network-Access",
    ]


def test_an_override_selecting_by_location_is_taken_only_where_it_breaks() -> None:
    by_location = [
        {"kind": "policyEffect", "value": "Audit", "selectors": [{"kind": "resourceLocation", "in": ["eastus"]}]}
    ]
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY), overrides=by_location)
    [line] = lines(check([body]))
    assert line["effect"] == "Modify"
    assert "an override to Audit whose selectors depend on the resource" in line["undecided"]


SEGMENT_CASES = [
    (SUBSCRIPTION, True),
    (SUBSCRIPTION.upper(), True),  # ids compare without regard to case
    (GROUP, True),
    (GROUP.lower() + "/", True),
    (MANAGEMENT_GROUP, True),  # the input's assignments are those that apply, inherited ones included
    ("/subscriptions/00000000-0000-0000-0000-000000000000", False),
    (OTHER_GROUP, False),
    # A prefix of the group's name is another group: containment goes by whole path segments.
    (GROUP.rsplit("_", 1)[0], False),
    (f"{SUBSCRIPTION}/resourceGroups/azureml-rg-contoso", False),
]


@pytest.mark.parametrize(("scope", "covered"), SEGMENT_CASES)
def test_an_assignment_covers_the_groups_its_scope_contains_by_whole_segments(scope: str, covered: bool) -> None:
    report = check([assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY), scope=scope)])
    assert bool(lines(report)) is covered


def test_a_management_group_assignment_from_the_rest_examples_covers_the_group() -> None:
    listed = example("policy/listPolicyAssignmentsForManagementGroup.json")["value"][0]
    listed["properties"]["policyDefinitionId"] = definition_id(COSMOS_PUBLIC_ACCESS_MODIFY)
    [line] = lines(check([listed]))
    assert line["assignmentId"] == listed["id"]
    assert line["assignmentScope"] == "/providers/Microsoft.Management/managementGroups/TestManagementGroup"
    assert line["assignmentDisplayName"] == "Storage Cost Management"


@pytest.mark.parametrize(
    ("not_scopes", "excluded"),
    [
        ([GROUP], True),
        ([GROUP.upper()], True),
        ([SUBSCRIPTION], True),  # an assignment at a management group, its subscription excluded
        ([OTHER_GROUP], False),
        ([GROUP.rsplit("_", 1)[0]], False),
        ([MANAGEMENT_GROUP], False),  # the hierarchy is not in the input: not known to hold the group
        ([f"{GROUP}/providers/{COSMOS}/one-account"], False),  # one resource, not the group
    ],
)
def test_not_scopes_take_out_the_groups_they_contain(not_scopes: list[str], excluded: bool) -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY), scope=MANAGEMENT_GROUP, not_scopes=not_scopes)
    assert (lines(check([body])) == []) is excluded


def test_each_managed_group_gets_its_own_lines_and_its_own_exemption() -> None:
    second = f"{SUBSCRIPTION}/resourceGroups/azureml-rg-fabrikam-ws_0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    found = lines(check([assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))], groups=(GROUP, second)))
    assert [c["resourceGroup"] for c in found] == [GROUP, second]
    assert [c["proposal"]["id"].split("/providers/")[0] for c in found] == [GROUP, second]


@pytest.mark.parametrize("category", ["Waiver", "Mitigated", "waiver"])
def test_a_waiver_or_mitigated_exemption_on_the_group_exempts_it(category: str) -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    exempt = exemption(body["id"].upper(), category=category)
    [line] = lines(check([body], exemptions=[exempt]))
    assert (line["exempted"], line["exemptionId"], line["proposal"]) == (True, exempt["id"], None)


@pytest.mark.parametrize(
    ("scope", "exempts"),
    [
        (GROUP, True),
        (SUBSCRIPTION, True),
        (MANAGEMENT_GROUP, True),
        (OTHER_GROUP, False),
        (GROUP.rsplit("_", 1)[0], False),
    ],
)
def test_an_exemption_covers_the_groups_its_scope_contains(scope: str, exempts: bool) -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    [line] = lines(check([body], exemptions=[exemption(body["id"], scope=scope)]))
    assert line["exempted"] is exempts


@pytest.mark.parametrize(
    ("expires_on", "exempts"),
    [
        (None, True),
        ("2026-06-01T00:00:01Z", True),
        ("2026-06-01T00:00:00Z", False),  # expired at the instant it names
        ("2026-05-31T23:59:59.9999999Z", False),
        ("2026-05-31T20:00:00-05:00", True),  # 01:00 UTC on June 1st
        ("2026-05-31T23:00:00", False),  # no offset: ARM's times are UTC
    ],
)
def test_an_exemption_past_its_expiry_exempts_nothing(expires_on: str | None, exempts: bool) -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    [line] = lines(check([body], exemptions=[exemption(body["id"], expires_on=expires_on)]))
    assert line["exempted"] is exempts
    assert (line["proposal"] is None) is exempts


def test_an_exemption_for_some_members_of_an_initiative_leaves_the_others_proposed() -> None:
    alz = builtin_initiative(ALZ_COSMOS_GUARDRAILS)
    body = assignment(alz["id"])
    exempt = exemption(body["id"], reference_ids=["modify-cosmosdb-local-auth", "Deny-CosmosDb-Fw-Rules"])
    found = lines(check([body], initiatives=[alz], exemptions=[exempt]))
    exempted = {c["definitionReferenceId"] for c in found if c["exempted"]}
    assert exempted == {"Modify-CosmosDb-Local-Auth", "Deny-CosmosDb-Fw-Rules"}
    [proposed] = {
        tuple(c["proposal"]["body"]["properties"]["policyDefinitionReferenceIds"]) for c in found if c["proposal"]
    }
    assert proposed == ("Deny-CosmosDb-Local-Auth", "Modify-CosmosDb-Public-Network-Access")


def test_exemptions_as_the_rest_examples_list_them() -> None:
    # Microsoft's listing for a group: a Waiver at the subscription for one member of CostManagement,
    # and a Mitigated one on the group for all of LimitPorts; both assignments at management group DevOrg.
    listed = example("policy/listPolicyExemptionsForResourceGroup.json")["value"]
    group = "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2/resourceGroups/TestResourceGroup"
    alz = builtin_initiative(ALZ_COSMOS_GUARDRAILS)
    cost = assignment(alz["id"], scope="/providers/Microsoft.Management/managementGroups/DevOrg", name="CostManagement")
    ports = assignment(definition_id(COSMOS_LOCAL_AUTH_DENY), name="LimitPorts", parameters={"effect": "Deny"})
    ports["id"] = listed[1]["properties"]["policyAssignmentId"]
    found = lines(check([cost, ports], initiatives=[alz], exemptions=listed, groups=(group,)))
    assert {c["definitionReferenceId"] for c in found if c["assignmentName"] == "CostManagement"} == {
        "Modify-CosmosDb-Local-Auth",
        "Deny-CosmosDb-Fw-Rules",
        "Deny-CosmosDb-Local-Auth",
        "Modify-CosmosDb-Public-Network-Access",
    }
    assert not any(c["exempted"] for c in found if c["assignmentName"] == "CostManagement")  # Limit_Skus is not one
    [limit_ports] = [c for c in found if c["assignmentName"] == "LimitPorts"]
    assert (limit_ports["exempted"], limit_ports["exemptionId"]) == (True, listed[1]["id"])


def test_an_exemption_narrowed_by_resource_selectors_is_not_known_to_cover_the_group() -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    narrowed = exemption(body["id"])
    narrowed["properties"]["resourceSelectors"] = [
        {"name": "SDPRegions", "selectors": [{"kind": "resourceLocation", "in": ["eastus2euap", "centraluseuap"]}]}
    ]
    [line] = lines(check([body], exemptions=[narrowed]))
    assert line["exempted"] is False


def test_an_exemption_for_another_assignment_exempts_nothing() -> None:
    body = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    other = exemption(body["id"].replace("/guardrails", "/guardrails-2"))
    [line] = lines(check([body], exemptions=[other]))
    assert line["exempted"] is False


def test_do_not_enforce_breaks_nothing_and_proposes_nothing() -> None:
    # Microsoft's example assignment without enforcement, assigning the Cosmos DB Modify built-in.
    body = example("policy/createPolicyAssignmentWithoutEnforcement.json", status="201")
    body["properties"]["policyDefinitionId"] = definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY)
    report = check([body])
    [conflict] = report.conflicts
    assert conflict.breaks is False
    line = conflict.to_json()
    assert (line["enforced"], line["exempted"], line["proposal"]) == (False, False, None)


def test_an_effect_no_parameter_gives_is_taken_to_break_and_says_so() -> None:
    unset = builtin_definition(COSMOS_DISABLE_LOCAL_AUTH_MODIFY)
    del unset["properties"]["parameters"]["effect"]["defaultValue"]
    [line] = lines(check([assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))], definitions=[unset]))
    assert (line["effect"], line["property"], line["value"]) == ("Modify", "disableLocalAuth", True)
    assert any("parameter 'effect' has neither a value nor a default" in u for u in line["undecided"])


def test_what_cannot_be_read_is_a_problem_and_the_rest_is_still_checked() -> None:
    broken = {"id": f"{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/x", "properties": {}}
    missing = assignment(definition_id("00000000-0000-0000-0000-000000000000"), name="custom")
    unknown_initiative = assignment(set_definition_id("nowhere"), name="nowhere")
    good = assignment(definition_id(COSMOS_DISABLE_LOCAL_AUTH_MODIFY))
    report = check([broken, missing, unknown_initiative, good])
    assert len(report.problems) == 3
    assert "assignments[0]" in report.problems[0] and "policyDefinitionId" in report.problems[0]
    assert "00000000-0000-0000-0000-000000000000 is not in the input" in report.problems[1]
    assert "initiative" in report.problems[2]
    assert [c["assignmentName"] for c in lines(report)] == ["guardrails"]
