"""Every breakage kind, detected on Microsoft's own payloads, with the exact PATCH bytes that fix it.

Each broken case is also checked the other two ways the design demands: the *already fixed*
variant (the plan applied) has nothing left to find, and the same body in an ordinary resource
group is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from remediators.baselines import Baseline, InMemoryBaselines
from remediators.classify import classify
from remediators.findings import Guarded, apply_patch
from remediators.remediator import ConfirmingDenial
from remediators.scope import ScopeRules
from tests.payloads import (
    COGNITIVE_CREATE,
    COGNITIVE_GET,
    COGNITIVE_UPDATE,
    COSMOS_CREATE_MAX,
    COSMOS_GET,
    COSMOS_PATCH,
    MANAGED_RG,
    MANAGED_RG_SHORT_FORM,
    ORDINARY_RG,
    SEARCH_AUTH_OPTIONS,
    SEARCH_DISABLE_LOCAL_AUTH,
    SEARCH_GET,
    SEARCH_IP_RULES,
    SEARCH_PRIVATE_ONLY,
    SEARCH_UPDATE,
    STORAGE_GET,
    STORAGE_PUBLIC_DISABLED,
    STORAGE_UPDATE,
    ai_account,
    example,
    in_group,
    with_properties,
)

RULES = ScopeRules()


def managed(path: str, status: str = "200") -> dict[str, Any]:
    return in_group(example(path, status), MANAGED_RG)


def ordinary(path: str, status: str = "200") -> dict[str, Any]:
    return in_group(example(path, status), ORDINARY_RG)


def storage_acls(**changes: Any) -> dict[str, Any]:
    acls = dict(example(STORAGE_GET)["properties"]["networkAcls"])
    acls.update(changes)
    return acls


@dataclass(frozen=True)
class Case:
    name: str
    resource: Callable[[], dict[str, Any]]
    expected: list[tuple[str, str, str]]  # (kind, property, confidence) in order
    patch: bytes
    population: Guarded = Guarded.MANAGED_RG
    baseline: dict[str, Any] | None = None
    denials: tuple[str, ...] = ()

    def classify(self, resource: dict[str, Any] | None = None) -> Any:
        target = self.resource() if resource is None else resource
        baselines = InMemoryBaselines()
        if self.baseline is not None:
            baselines.record(Baseline(target["id"], self.baseline, "2026-11-01T00:00:00Z", "test"))
        return classify(target, RULES, baselines=baselines, access_denials=self.denials)


LOCAL = "local_auth_disabled"
FIREWALL = "managed_rg_firewall_locked"

BROKEN = [
    # Cosmos DB
    Case(
        "cosmos local auth disabled",
        lambda: with_properties(managed(COSMOS_GET), disableLocalAuth=True),
        [(LOCAL, "properties.disableLocalAuth", "confirmed")],
        b'{"properties":{"disableLocalAuth":false}}',
    ),
    Case(
        "cosmos local auth disabled, as Resource Notifications send it (1)",
        lambda: with_properties(managed(COSMOS_GET), disableLocalAuth=1),
        [(LOCAL, "properties.disableLocalAuth", "confirmed")],
        b'{"properties":{"disableLocalAuth":false}}',
    ),
    Case(
        "cosmos IP rules and VNet filter (Microsoft's PATCH example response)",
        lambda: managed(COSMOS_PATCH),
        [
            (FIREWALL, "properties.ipRules", "suspected"),
            (FIREWALL, "properties.isVirtualNetworkFilterEnabled", "suspected"),
        ],
        b'{"properties":{"ipRules":[],"isVirtualNetworkFilterEnabled":false}}',
    ),
    Case(
        "cosmos create-max example: public access Enabled, but IP rules and VNet filter on",
        lambda: managed(COSMOS_CREATE_MAX),
        [
            (FIREWALL, "properties.ipRules", "suspected"),
            (FIREWALL, "properties.isVirtualNetworkFilterEnabled", "suspected"),
        ],
        b'{"properties":{"ipRules":[],"isVirtualNetworkFilterEnabled":false}}',
    ),
    Case(
        "cosmos public network access disabled",
        lambda: with_properties(managed(COSMOS_GET), publicNetworkAccess="Disabled"),
        [(FIREWALL, "properties.publicNetworkAccess", "suspected")],
        b'{"properties":{"publicNetworkAccess":"Enabled"}}',
    ),
    Case(
        "cosmos secured by perimeter, 403s in the logs",
        lambda: with_properties(managed(COSMOS_GET), publicNetworkAccess="SecuredByPerimeter"),
        [(FIREWALL, "properties.publicNetworkAccess", "confirmed")],
        b'{"properties":{"publicNetworkAccess":"Enabled"}}',
        denials=(ConfirmingDenial("CDBDataPlaneRequests: 12 requests refused 403; the workspace's traffic"),),
    ),
    Case(
        "cosmos public network access disabled, only anonymous 403s in the logs",
        lambda: with_properties(managed(COSMOS_GET), publicNetworkAccess="Disabled"),
        [(FIREWALL, "properties.publicNetworkAccess", "suspected")],
        b'{"properties":{"publicNetworkAccess":"Enabled"}}',
        denials=("CDBDataPlaneRequests: 3 requests refused 403; not the workspace's traffic, listed only",),
    ),
    # AI Search
    Case(
        "search local auth disabled (Microsoft's DisableLocalAuth example)",
        lambda: managed(SEARCH_DISABLE_LOCAL_AUTH),
        [(LOCAL, "properties.disableLocalAuth", "confirmed")],
        b'{"properties":{"disableLocalAuth":false,"authOptions":{"apiKeyOnly":{}}}}',
    ),
    Case(
        "search local auth disabled, aadOrApiKey restored from the baseline",
        lambda: managed(SEARCH_DISABLE_LOCAL_AUTH),
        [(LOCAL, "properties.disableLocalAuth", "confirmed")],
        b'{"properties":{"disableLocalAuth":false,"authOptions":'
        b'{"aadOrApiKey":{"aadAuthFailureMode":"http401WithBearerChallenge"}}}}',
        baseline={"properties.authOptions": example(SEARCH_AUTH_OPTIONS)["properties"]["authOptions"]},
    ),
    Case(
        "search authOptions null with local auth not disabled",
        lambda: with_properties(managed(SEARCH_GET), authOptions=None),
        [(LOCAL, "properties.authOptions", "confirmed")],
        b'{"properties":{"disableLocalAuth":false,"authOptions":{"apiKeyOnly":{}}}}',
    ),
    Case(
        "search public access disabled (Microsoft's private-endpoints example)",
        lambda: managed(SEARCH_PRIVATE_ONLY),
        [(FIREWALL, "properties.publicNetworkAccess", "confirmed")],
        b'{"properties":{"publicNetworkAccess":"Enabled"}}',
    ),
    Case(
        "search public access disabled, lower case as older api-versions write it",
        lambda: with_properties(managed(SEARCH_GET), publicNetworkAccess="disabled"),
        [(FIREWALL, "properties.publicNetworkAccess", "confirmed")],
        b'{"properties":{"publicNetworkAccess":"Enabled"}}',
    ),
    Case(
        "search IP rules (Microsoft's custom-IPs example), bypass kept",
        lambda: managed(SEARCH_IP_RULES),
        [(FIREWALL, "properties.networkRuleSet.ipRules", "confirmed")],
        b'{"properties":{"networkRuleSet":{"bypass":"AzureServices","ipRules":[]}}}',
    ),
    # Storage
    Case(
        "storage shared-key access disabled",
        lambda: with_properties(managed(STORAGE_GET), allowSharedKeyAccess=False),
        [(LOCAL, "properties.allowSharedKeyAccess", "confirmed")],
        b'{"properties":{"allowSharedKeyAccess":true}}',
    ),
    Case(
        "storage shared-key access disabled, as Resource Notifications send it (0)",
        lambda: with_properties(managed(STORAGE_GET), allowSharedKeyAccess=0),
        [(LOCAL, "properties.allowSharedKeyAccess", "confirmed")],
        b'{"properties":{"allowSharedKeyAccess":true}}',
    ),
    Case(
        "storage shared key off for file and table (Microsoft's update example): only suspected",
        lambda: managed(STORAGE_UPDATE),
        [(LOCAL, "properties.allowSharedKeyAccessForServices", "suspected")],
        b'{"properties":{"allowSharedKeyAccessForServices":{"blob":{"enabled":true},"file":{"enabled":true},'
        b'"queue":{"enabled":true},"table":{"enabled":true}}}}',
    ),
    Case(
        "storage shared key off for blob alone, other services untouched",
        lambda: with_properties(
            managed(STORAGE_GET),
            allowSharedKeyAccessForServices={"blob": {"enabled": 0}, "queue": {"enabled": True}, "file": {}},
        ),
        [(LOCAL, "properties.allowSharedKeyAccessForServices", "confirmed")],
        b'{"properties":{"allowSharedKeyAccessForServices":{"blob":{"enabled":true},"queue":{"enabled":true},'
        b'"file":{}}}}',
    ),
    Case(
        "storage public access disabled (Microsoft's example)",
        lambda: managed(STORAGE_PUBLIC_DISABLED),
        [(FIREWALL, "properties.publicNetworkAccess", "suspected")],
        b'{"properties":{"publicNetworkAccess":"Enabled"}}',
    ),
    Case(
        "storage firewall denies without the AzureServices bypass; rules kept",
        lambda: with_properties(
            managed(STORAGE_GET), networkAcls=storage_acls(defaultAction="Deny", bypass="Logging, Metrics")
        ),
        [(FIREWALL, "properties.networkAcls.bypass", "suspected")],
        json.dumps(
            {
                "properties": {
                    "networkAcls": {
                        "defaultAction": "Deny",
                        "ipRules": [],
                        "resourceAccessRules": example(STORAGE_GET)["properties"]["networkAcls"]["resourceAccessRules"],
                        "virtualNetworkRules": [],
                        "bypass": "Logging, Metrics, AzureServices",
                    }
                }
            },
            separators=(",", ":"),
        ).encode(),
    ),
    Case(
        "storage firewall denies with bypass None",
        lambda: with_properties(managed(STORAGE_GET), networkAcls={"defaultAction": "deny", "bypass": "None"}),
        [(FIREWALL, "properties.networkAcls.bypass", "suspected")],
        b'{"properties":{"networkAcls":{"defaultAction":"deny","bypass":"AzureServices"}}}',
    ),
    Case(
        "storage firewall denies and names no bypass at all",
        lambda: with_properties(managed(STORAGE_GET), networkAcls={"defaultAction": "Deny", "ipRules": []}),
        [(FIREWALL, "properties.networkAcls.bypass", "suspected")],
        b'{"properties":{"networkAcls":{"defaultAction":"Deny","ipRules":[],"bypass":"AzureServices"}}}',
    ),
    # AI accounts
    Case(
        "openai outbound restriction removed, list restored from the baseline",
        lambda: with_properties(ai_account("OpenAI"), restrictOutboundNetworkAccess=False, allowedFqdnList=[]),
        [("outbound_restriction_removed", "properties.restrictOutboundNetworkAccess", "confirmed")],
        b'{"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":["microsoft.com"]}}',
        population=Guarded.AI_ACCOUNT,
        baseline={"properties.allowedFqdnList": ["microsoft.com"]},
    ),
    Case(
        "aiservices outbound restriction removed, no baseline: proposal with the account's own list",
        lambda: with_properties(ai_account("AIServices"), restrictOutboundNetworkAccess=False),
        [("outbound_restriction_removed", "properties.restrictOutboundNetworkAccess", "confirmed")],
        b'{"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":["microsoft.com"]}}',
        population=Guarded.AI_ACCOUNT,
    ),
    Case(
        "openai allowlist grew since the baseline",
        lambda: with_properties(ai_account("OpenAI"), allowedFqdnList=["microsoft.com", "exfil.example.net"]),
        [("outbound_allowlist_drift", "properties.allowedFqdnList", "confirmed")],
        b'{"properties":{"allowedFqdnList":["microsoft.com"]}}',
        population=Guarded.AI_ACCOUNT,
        baseline={"properties.allowedFqdnList": ["microsoft.com"]},
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_finding_and_exact_patch_bytes(case: Case) -> None:
    result = case.classify()
    assert result.guarded is case.population
    assert [(str(f.kind), f.property, str(f.confidence)) for f in result.findings] == case.expected
    assert result.plan is not None
    assert result.plan.body_bytes() == case.patch
    for finding in result.findings:
        assert finding.resource_id == result.resource_id
        assert finding.why and finding.evidence
        assert finding.observed != finding.expected
        # Each finding's own plan changes only its own property (and what must travel with it).
        assert set(finding.plan.body) == {"properties"}


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_already_fixed_variant_has_nothing_to_fix(case: Case) -> None:
    broken = case.resource()
    plan = case.classify(broken).plan
    fixed = apply_patch(broken, plan.body)
    after = case.classify(fixed)
    assert after.findings == ()
    assert after.plan is None


@pytest.mark.parametrize("case", [c for c in BROKEN if c.population is Guarded.MANAGED_RG], ids=lambda c: c.name)
def test_same_breakage_outside_a_managed_group_is_left_alone(case: Case) -> None:
    result = case.classify(in_group(case.resource(), ORDINARY_RG))
    assert result.guarded is None
    assert result.findings == ()
    assert result.plan is None
    assert "never loosened" in result.reason


HEALTHY = {
    "cosmos get": lambda: managed(COSMOS_GET),
    "search get": lambda: managed(SEARCH_GET),
    "search update": lambda: managed(SEARCH_UPDATE),
    "search aadOrApiKey, disableLocalAuth absent": lambda: managed(SEARCH_AUTH_OPTIONS),
    "storage get (allowSharedKeyAccess null)": lambda: managed(STORAGE_GET),
    "storage update, shared key allowed for every service": lambda: with_properties(
        managed(STORAGE_UPDATE), allowSharedKeyAccessForServices={"blob": {"enabled": True}, "file": {"enabled": None}}
    ),
    "storage firewall on with AzureServices bypass (the platform default)": lambda: with_properties(
        managed(STORAGE_GET), networkAcls=storage_acls(defaultAction="Deny")
    ),
    "cosmos in the azureml-<ws>_<GUID> form": lambda: in_group(example(COSMOS_GET), MANAGED_RG_SHORT_FORM),
    "openai restricted": lambda: ai_account("OpenAI"),
    "aiservices restricted": lambda: ai_account("AIServices"),
    "openai restricted, list equal to the baseline but for case and trailing dot": lambda: with_properties(
        ai_account("OpenAI"), allowedFqdnList=["Microsoft.COM."]
    ),
}


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_guarded_resources_have_no_findings(name: str) -> None:
    resource = HEALTHY[name]()
    baselines = InMemoryBaselines()
    baselines.record(Baseline(resource["id"], {"properties.allowedFqdnList": ["microsoft.com"]}))
    result = classify(resource, RULES, baselines=baselines)
    assert result.guarded is not None, result.reason
    assert result.findings == ()
    assert result.plan is None


NEVER = {
    "ordinary search, local auth disabled": lambda: ordinary(SEARCH_DISABLE_LOCAL_AUTH),
    "ordinary search, public access disabled": lambda: ordinary(SEARCH_PRIVATE_ONLY),
    "ordinary search, IP rules": lambda: ordinary(SEARCH_IP_RULES),
    "ordinary cosmos, IP rules and VNet filter": lambda: ordinary(COSMOS_PATCH),
    "ordinary cosmos, local auth disabled": lambda: with_properties(
        ordinary(COSMOS_GET), disableLocalAuth=True, publicNetworkAccess="Disabled"
    ),
    "ordinary storage, public access disabled": lambda: ordinary(STORAGE_PUBLIC_DISABLED),
    "ordinary storage, shared key disabled": lambda: with_properties(ordinary(STORAGE_GET), allowSharedKeyAccess=False),
    "cognitive services of kind Emotion, unrestricted": lambda: example(COGNITIVE_GET),
    "cognitive services of kind Bing.Search": lambda: example(COGNITIVE_UPDATE),
    "cognitive services of kind Emotion (create example)": lambda: example(COGNITIVE_CREATE, "201"),
    "cognitive services of kind Emotion in a managed group": lambda: with_properties(
        in_group(example(COGNITIVE_GET), MANAGED_RG), restrictOutboundNetworkAccess=False
    ),
}


@pytest.mark.parametrize("name", NEVER)
def test_never_a_finding(name: str) -> None:
    result = classify(NEVER[name](), RULES)
    assert result.guarded is None
    assert result.findings == ()
    assert result.plan is None


def test_a_group_that_merely_ends_in_a_guid_is_only_an_unproven_candidate() -> None:
    # The <workspace rg><GUID> form: classify reports what it sees, marked unproven; the pipeline
    # loosens nothing there until a workspace names the group (tests/test_trust_boundary.py).
    cosmos = in_group(example(COSMOS_GET), "rg-contoso5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c")
    result = classify(with_properties(cosmos, disableLocalAuth=True), RULES)
    assert result.guarded is Guarded.MANAGED_RG and result.proven is False


def test_outbound_proposal_without_baseline_says_why_and_cannot_be_applied() -> None:
    account = with_properties(ai_account("OpenAI"), restrictOutboundNetworkAccess=None, allowedFqdnList=None)
    result = classify(account, RULES)
    [finding] = result.findings
    assert finding.observed is None
    assert finding.plan.proposal_only
    assert result.plan is not None and result.plan.proposal_only
    assert result.plan.body_bytes() == b'{"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":[]}}'
    assert "no recorded baseline" in result.plan.reasons[0]


def test_outbound_restriction_absent_entirely_is_removed() -> None:
    account = ai_account("OpenAI")
    del account["properties"]["restrictOutboundNetworkAccess"]
    [finding] = classify(account, RULES).findings
    assert finding.kind == "outbound_restriction_removed"
    assert finding.observed is None


def test_drift_when_the_list_is_gone_but_the_restriction_stays() -> None:
    account = ai_account("OpenAI")
    del account["properties"]["allowedFqdnList"]
    baselines = InMemoryBaselines()
    baselines.record(Baseline(account["id"], {"properties.allowedFqdnList": ["microsoft.com"]}))
    result = classify(account, RULES, baselines=baselines)
    [finding] = result.findings
    assert (finding.kind, finding.observed, finding.expected) == ("outbound_allowlist_drift", None, ["microsoft.com"])
    assert "removed ['microsoft.com']" in finding.why
    assert json.loads(json.dumps(result.to_json()))["findings"][0]["observed"] is None


def test_no_drift_finding_without_a_baseline() -> None:
    account = with_properties(ai_account("OpenAI"), allowedFqdnList=["microsoft.com", "anything.example.net"])
    assert classify(account, RULES).findings == ()


def test_several_breakages_on_one_resource_merge_into_one_patch() -> None:
    search = with_properties(
        managed(SEARCH_IP_RULES), disableLocalAuth=True, authOptions=None, publicNetworkAccess="Disabled"
    )
    result = classify(search, RULES)
    assert [f.property for f in result.findings] == [
        "properties.disableLocalAuth",
        "properties.publicNetworkAccess",
        "properties.networkRuleSet.ipRules",
    ]
    assert result.plan is not None
    assert result.plan.body_bytes() == (
        b'{"properties":{"disableLocalAuth":false,"authOptions":{"apiKeyOnly":{}},'
        b'"publicNetworkAccess":"Enabled","networkRuleSet":{"bypass":"AzureServices","ipRules":[]}}}'
    )
    assert result.plan.api_version == "2025-05-01"


def test_property_names_in_any_case_are_read() -> None:
    cosmos = managed(COSMOS_GET)
    cosmos["Properties"] = cosmos.pop("properties")
    cosmos["Properties"]["DisableLocalAuth"] = "True"
    [finding] = classify(cosmos, RULES).findings
    assert finding.kind == "local_auth_disabled"
    assert finding.observed == "True"


@pytest.mark.parametrize("value", ["yes", {}, [], 2, "", "Unknown"])
def test_values_that_are_not_understood_never_loosen(value: Any) -> None:
    cosmos = with_properties(
        managed(COSMOS_GET), disableLocalAuth=value, publicNetworkAccess=value, isVirtualNetworkFilterEnabled=value
    )
    storage = with_properties(managed(STORAGE_GET), allowSharedKeyAccess=value)
    assert classify(cosmos, RULES).findings == ()
    assert classify(storage, RULES).findings == ()
