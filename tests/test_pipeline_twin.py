"""The pipeline end to end on the local twin: real azure-mgmt clients, real HTTPS, a real credential.

Every write is asserted byte for byte from what the twin received (``/_twin/requests``), and
every call ARM would bill is counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.twin import Twin
from remediators.arm import Arm, credential
from remediators.baselines import Baseline, InMemoryBaselines
from remediators.decide import Mode
from remediators.findings import BreakageKind
from remediators.pipeline import Pipeline, State
from remediators.scope import ScopeRules
from remediators.signals import parse_signals
from tests.payloads import (
    COGNITIVE_GET,
    COSMOS_GET,
    MANAGED_RG,
    ORDINARY_RG,
    SEARCH_GET,
    STORAGE_GET,
    ai_account,
    example,
    in_group,
    proving_workspaces,
    with_properties,
)

COSMOS = in_group(example(COSMOS_GET), MANAGED_RG)
SEARCH = in_group(example(SEARCH_GET), MANAGED_RG)
STORAGE = in_group(example(STORAGE_GET), MANAGED_RG)
OPENAI = ai_account("OpenAI")
ORDINARY_COSMOS = with_properties(in_group(example(COSMOS_GET), ORDINARY_RG), disableLocalAuth=True)
EMOTION = example(COGNITIVE_GET)  # a Cognitive Services kind that is not guarded
# The twin keeps resources by id: give the ordinary Cosmos DB its own name.
ORDINARY_COSMOS["id"] = ORDINARY_COSMOS["id"].replace("/ddb1", "/ordinary-ddb")
ORDINARY_COSMOS["name"] = "ordinary-ddb"
EMOTION["id"] = EMOTION["id"].replace("/myAccount", "/emotion")
ASSIGNMENTS = "/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments"


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Twin]:
    with Twin.start(
        resources=[
            COSMOS,
            SEARCH,
            STORAGE,
            OPENAI,
            ORDINARY_COSMOS,
            EMOTION,
            *proving_workspaces(COSMOS, SEARCH, STORAGE),
        ]
    ) as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)  # the real ManagedIdentityCredential asks the twin for tokens
        yield running


def pipeline(twin: Twin, *, budget: float = 10.0, baselines: InMemoryBaselines | None = None, **kw: Any) -> Pipeline:
    arm = Arm(
        credential(None),
        endpoint=twin.arm,
        budget_seconds=budget,
        connection_verify=twin.ca_path,
        polling_interval=0,
        retry_total=kw.pop("retry_total", 3),
    )
    return Pipeline(arm, ScopeRules(), baselines=baselines or InMemoryBaselines(), **kw)


def arm_requests(twin: Twin) -> list[Any]:
    """What ARM would have billed: every call under /subscriptions (not the token endpoint)."""
    return [r for r in twin.requests() if r.path.casefold().startswith("/subscriptions/")]


def patches(twin: Twin) -> list[bytes]:
    return [r.body for r in twin.requests("PATCH")]


def write_event(resource_id: str, event_id: str = "e1") -> dict[str, Any]:
    """A minimal ResourceWriteSuccess event in the Event Grid schema, naming only the resource."""
    return {
        "id": event_id,
        "subject": resource_id,
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": "2026-11-23T00:00:00Z",
        "dataVersion": "",
        "metadataVersion": "1",
        "topic": "/subscriptions/subid",
        "data": {"resourceUri": resource_id},
    }


def break_(twin: Twin, resource: dict[str, Any], **properties: Any) -> str:
    twin.set_resource(with_properties(resource, **properties))
    return str(resource["id"])


@pytest.mark.parametrize(
    ("resource", "broken", "patch"),
    [
        (COSMOS, {"disableLocalAuth": True}, b'{"properties":{"disableLocalAuth":false}}'),
        (
            SEARCH,
            {"disableLocalAuth": True, "authOptions": None},
            b'{"properties":{"disableLocalAuth":false,"authOptions":{"apiKeyOnly":{}}}}',
        ),
        (SEARCH, {"publicNetworkAccess": "Disabled"}, b'{"properties":{"publicNetworkAccess":"Enabled"}}'),
        (STORAGE, {"allowSharedKeyAccess": False}, b'{"properties":{"allowSharedKeyAccess":true}}'),
    ],
    ids=["cosmos-local-auth (long-running)", "search-local-auth", "search-firewall", "storage-shared-key"],
)
def test_each_managed_fix_lands_with_the_exact_bytes_and_is_verified(
    twin: Twin, resource: dict[str, Any], broken: dict[str, Any], patch: bytes
) -> None:
    resource_id = break_(twin, resource, **broken)
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.VERIFIED, outcome.reason
    assert patches(twin) == [patch]
    assert twin.resource(resource_id) is not None
    assert pipeline(twin).remediate(resource_id).state is State.HEALTHY


def test_openai_outbound_restriction_comes_back_from_the_baseline_through_a_202_operation(twin: Twin) -> None:
    resource_id = break_(twin, OPENAI, restrictOutboundNetworkAccess=False, allowedFqdnList=[])
    baselines = InMemoryBaselines()
    baselines.record(Baseline(resource_id, {"properties.allowedFqdnList": ["microsoft.com"]}))
    outcome = pipeline(twin, baselines=baselines).remediate(resource_id)
    assert outcome.state is State.VERIFIED, outcome.reason
    assert patches(twin) == [
        b'{"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":["microsoft.com"]}}'
    ]
    stored = twin.resource(resource_id)
    assert stored is not None
    assert stored["properties"]["restrictOutboundNetworkAccess"] is True
    assert stored["properties"]["allowedFqdnList"] == ["microsoft.com"]


def test_without_a_baseline_the_outbound_fix_is_only_proposed(twin: Twin) -> None:
    resource_id = break_(twin, OPENAI, restrictOutboundNetworkAccess=False)
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.PROPOSED
    assert [f.kind for f in outcome.proposed] == ["outbound_restriction_removed"]
    assert patches(twin) == []


def test_arm_calls_per_event(twin: Twin) -> None:
    """0 calls out of scope; the workspace inventory (2 lists) once per subscription while cached;
    then 1 GET when healthy, GET + PATCH + polls + 1 verifying GET when broken."""
    guard = pipeline(twin)
    assert guard.remediate(ORDINARY_COSMOS["id"]).state is State.NOT_GUARDED
    assert arm_requests(twin) == []

    assert guard.remediate(COSMOS["id"]).state is State.HEALTHY
    listed = [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in arm_requests(twin)]
    assert listed == ["GET workspaces", "GET registries", f"GET {COSMOS['name']}"]

    twin.clear_requests()
    assert guard.remediate(COSMOS["id"]).state is State.HEALTHY
    assert [r.method for r in arm_requests(twin)] == ["GET"]  # the inventory is cached

    twin.clear_requests()
    twin.set_lro(cosmos_polls=2)
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    assert guard.remediate(resource_id).state is State.VERIFIED
    methods = [(r.method, "operation" in r.path.casefold()) for r in arm_requests(twin)]
    assert methods[0] == ("GET", False) and methods[1] == ("PATCH", False)
    assert methods[-1] == ("GET", False)
    polls = [m for m in methods[2:-1] if m[1]]
    assert len(polls) >= 2


def test_a_kind_that_is_not_guarded_costs_one_read_and_no_write(twin: Twin) -> None:
    outcome = pipeline(twin).remediate(EMOTION["id"])
    assert outcome.state is State.NOT_GUARDED
    assert [r.method for r in arm_requests(twin)] == ["GET"]


def test_a_deleted_resource_ends_cleanly(twin: Twin) -> None:
    gone = COSMOS["id"].replace("/ddb1", "/deleted-ddb")
    outcome = pipeline(twin).remediate(gone)
    assert outcome.state is State.GONE
    assert [r.method for r in arm_requests(twin)][-1:] == ["GET"]


def test_throttling_is_retried_as_arm_asks(twin: Twin) -> None:
    resource_id = break_(twin, STORAGE, allowSharedKeyAccess=False)
    twin.add_fault({"kind": "throttle", "method": "PATCH", "resourceId": resource_id, "times": 2, "retryAfter": 0})
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.VERIFIED, outcome.reason
    assert patches(twin) == [b'{"properties":{"allowSharedKeyAccess":true}}'] * 3


def test_a_throttle_longer_than_the_budget_is_not_slept_through(twin: Twin) -> None:
    resource_id = break_(twin, STORAGE, allowSharedKeyAccess=False)
    twin.add_fault({"kind": "throttle", "method": "PATCH", "resourceId": resource_id, "retryAfter": 120})
    outcome = pipeline(twin, budget=2.0).remediate(resource_id)
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.status == 429 and outcome.error.retry_after == 120
    assert len(patches(twin)) == 1


def test_server_errors_are_retried(twin: Twin) -> None:
    resource_id = break_(twin, SEARCH, publicNetworkAccess="Disabled")
    twin.add_fault(
        {"kind": "error", "status": 503, "method": "PATCH", "resourceId": resource_id, "times": 1, "retryAfter": 0}
    )
    assert pipeline(twin).remediate(resource_id).state is State.VERIFIED
    assert len(patches(twin)) == 2


def test_a_server_error_that_persists_fails_with_arms_code(twin: Twin) -> None:
    resource_id = break_(twin, SEARCH, publicNetworkAccess="Disabled")
    twin.add_fault({"kind": "error", "status": 500, "method": "PATCH", "resourceId": resource_id})
    outcome = pipeline(twin, retry_total=0).remediate(resource_id)
    assert outcome.state is State.FAILED
    assert outcome.error is not None and (outcome.error.status, outcome.error.code) == (500, "InternalServerError")


def test_a_conflict_while_another_update_runs_is_reported_not_forced(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    twin.add_fault({"kind": "conflict", "method": "PATCH", "resourceId": resource_id})
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.code == "AnotherOperationInProgress"
    assert "in flight" in outcome.reason


def test_a_modify_policy_that_silently_reverts_the_fix_is_reported_as_reverted(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    twin.add_fault(
        {
            "kind": "modify",
            "policyAssignmentId": f"{ASSIGNMENTS.format(sub='subid')}/cosmos-local-auth",
            "if": [{"field": "type", "equals": "Microsoft.DocumentDB/databaseAccounts"}],
            "operations": [{"operation": "addOrReplace", "field": "properties.disableLocalAuth", "value": True}],
        }
    )
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.REVERTED
    assert "Modify effect" in outcome.reason
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']


def test_a_deny_policy_fails_the_fix_with_the_policy_named(twin: Twin) -> None:
    resource_id = break_(twin, STORAGE, allowSharedKeyAccess=False)
    twin.add_fault(
        {
            "kind": "deny",
            "policyAssignmentId": f"{ASSIGNMENTS.format(sub='{subscription-id}')}/no-shared-key",
            "if": [{"field": "properties.allowSharedKeyAccess", "equals": True}],
        }
    )
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.denied_by_policy
    assert "no-shared-key" in outcome.reason


def test_a_long_running_fix_past_the_budget_is_pending_with_a_token(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    twin.set_lro(cosmos_polls=10_000)
    twin.add_fault({"kind": "latency", "method": "GET", "ms": 100})
    outcome = pipeline(twin, budget=1.0).remediate(resource_id)
    assert outcome.state is State.PENDING
    assert outcome.continuation_token


def test_a_pending_fix_is_checked_later_and_verified(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    twin.set_lro(cosmos_polls=10_000)
    twin.add_fault({"kind": "latency", "method": "GET", "ms": 100})
    pending = pipeline(twin, budget=1.0).remediate(resource_id)
    assert pending.state is State.PENDING and pending.continuation_token
    still = pipeline(twin, budget=1.0).check_pending(resource_id, pending.continuation_token)
    assert still.state is State.PENDING and still.continuation_token
    twin.clear_faults()
    twin.finish_operations()
    done = pipeline(twin).check_pending(resource_id, still.continuation_token)
    assert done.state is State.VERIFIED, done.reason
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']


def test_a_write_arriving_while_another_update_runs_is_refused_by_cosmos(twin: Twin) -> None:
    """Someone else's long-running update is still in flight: Cosmos DB answers 412, nothing is forced."""
    twin.set_lro(cosmos_polls=10_000)
    someone = {"upn": "ops@contoso.com", "oid": "22222222-3333-4444-5555-666666666666"}
    twin.call(
        "PATCH", COSMOS["id"], {"properties": {"disableLocalAuth": True}}, claims=someone, api_version="2026-03-15"
    )
    twin.patch_resource(COSMOS["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
    outcome = pipeline(twin, modes={BreakageKind.MANAGED_RG_FIREWALL_LOCKED: Mode.APPLY}).remediate(COSMOS["id"])
    assert outcome.state is State.FAILED
    assert outcome.error is not None and outcome.error.status in (409, 412)
    assert "in flight" in outcome.reason


def test_allowlist_drift_applied_when_its_mode_says_so(twin: Twin) -> None:
    resource_id = break_(twin, OPENAI, allowedFqdnList=["microsoft.com", "exfil.example.net"])
    baselines = InMemoryBaselines()
    baselines.record(Baseline(resource_id, {"properties.allowedFqdnList": ["microsoft.com"]}))
    proposed = pipeline(twin, baselines=baselines).remediate(resource_id)
    assert proposed.state is State.PROPOSED and patches(twin) == []
    applied = pipeline(twin, baselines=baselines, modes={BreakageKind.OUTBOUND_ALLOWLIST_DRIFT: Mode.APPLY})
    outcome = applied.remediate(resource_id)
    assert outcome.state is State.VERIFIED, outcome.reason
    assert patches(twin) == [b'{"properties":{"allowedFqdnList":["microsoft.com"]}}']


def test_a_suspected_cosmos_firewall_lock_is_proposed_not_applied(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, publicNetworkAccess="Disabled", disableLocalAuth=True)
    outcome = pipeline(twin).remediate(resource_id)
    assert outcome.state is State.VERIFIED  # local auth fixed...
    assert [(f.kind, f.confidence) for f in outcome.proposed] == [("managed_rg_firewall_locked", "suspected")]
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']  # ...the firewall only proposed


def test_dry_run_proposes_and_writes_nothing(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    outcome = pipeline(twin, dry_run=True).remediate(resource_id)
    assert outcome.state is State.PROPOSED
    assert patches(twin) == []


def test_events_from_someone_elses_write_flow_through_the_pipeline(twin: Twin) -> None:
    """An admin locks the Search firewall; the twin emits ARM's event; the pipeline puts it right."""
    admin = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555", "idtyp": "user"}
    answer = twin.call(
        "PATCH",
        SEARCH["id"],
        {"properties": {"publicNetworkAccess": "Disabled"}},
        claims=admin,
        api_version="2025-05-01",
    )
    assert answer.status == 200
    [event] = twin.wait_for_events(1)
    parsed = parse_signals([event])
    assert not parsed.rejected
    [outcome] = pipeline(twin).handle(parsed.signals)
    assert outcome.state is State.VERIFIED
    assert outcome.signal is not None and outcome.signal.actor is not None
    assert outcome.signal.actor.name == "admin@contoso.com"
    trigger = outcome.to_json()["trigger"]
    assert trigger["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    # Our own fix came back as an event too, carrying our identity's claims, not the admin's.
    events = twin.wait_for_events(2)
    assert json.dumps(events[-1]["data"]["claims"]).count(twin.identity.object_id) >= 1


def test_a_batch_naming_a_resource_twice_is_fixed_once(twin: Twin) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    event = write_event(resource_id)
    parsed = parse_signals([event, {**event, "id": "e2"}])
    outcomes = pipeline(twin).handle(parsed.signals)
    assert [o.state for o in outcomes] == [State.VERIFIED]
    assert len(patches(twin)) == 1


def run_cli(twin: Twin, *args: str, stdin: str | None = None) -> Any:
    """``python -m remediators`` in its own process, configured only by environment, as deployed."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARD_", "IDENTITY_"))}
    env.update(twin.environment())
    env["GUARD_ARM_POLL_SECONDS"] = "0"  # the twin finishes operations at once
    return subprocess.run(
        [sys.executable, "-m", "remediators", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


def test_handle_runs_the_pipeline_for_an_event_batch_from_the_command_line(twin: Twin) -> None:
    admin = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555"}
    twin.call("PATCH", COSMOS["id"], {"properties": {"disableLocalAuth": True}}, claims=admin, api_version="2026-03-15")
    twin.call(
        "PATCH",
        ORDINARY_COSMOS["id"],
        {"properties": {"disableLocalAuth": True}},
        claims=admin,
        api_version="2026-03-15",
    )
    twin.finish_operations()
    events = twin.wait_for_events(2)
    twin.clear_requests()
    done = run_cli(twin, "handle", "-", stdin=json.dumps([*events, {"not": "an event"}]))
    assert done.returncode == 2  # one item refused; the good ones were still handled
    [refusal] = done.stderr.splitlines()
    assert "item 2" in refusal
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(o["resourceId"], o["state"]) for o in outcomes] == [
        (COSMOS["id"], "verified"),
        (ORDINARY_COSMOS["id"], "not-guarded"),
    ]
    assert outcomes[0]["trigger"]["actor"]["name"] == "admin@contoso.com"
    assert outcomes[0]["applied"] == {"properties": {"disableLocalAuth": False}}
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']


def test_handle_dry_run_writes_nothing(twin: Twin) -> None:
    resource_id = break_(twin, SEARCH, publicNetworkAccess="Disabled")
    event = write_event(resource_id)
    done = run_cli(twin, "handle", "--dry-run", "-", stdin=json.dumps(event))
    assert done.returncode == 0, done.stderr
    [outcome] = [json.loads(line) for line in done.stdout.splitlines()]
    assert outcome["state"] == "proposed"
    assert outcome["proposed"][0]["plan"]["body"] == {"properties": {"publicNetworkAccess": "Enabled"}}
    assert patches(twin) == []


def outcome_states(stdout: str) -> dict[str, str]:
    """``scan``'s outcome lines (``resourceId``), without its inventory lines (tests/test_scan_roles.py)."""
    outcomes = [line for line in map(json.loads, stdout.splitlines()) if "resourceId" in line]
    return {outcome["resourceId"]: outcome["state"] for outcome in outcomes}


def test_scan_sweeps_every_guarded_resource_of_a_subscription(twin: Twin) -> None:
    break_(twin, COSMOS, disableLocalAuth=True)
    break_(twin, SEARCH, publicNetworkAccess="Disabled")
    proposed = run_cli(twin, "scan", "--subscription", "subid")
    assert proposed.returncode == 0, proposed.stderr
    states = outcome_states(proposed.stdout)
    assert states[COSMOS["id"]] == "proposed"
    assert states[SEARCH["id"]] == "proposed"
    assert states[ORDINARY_COSMOS["id"]] == "not-guarded"
    assert patches(twin) == []

    applied = run_cli(twin, "scan", "--subscription", "subid", "--apply")
    states = outcome_states(applied.stdout)
    assert states[COSMOS["id"]] == states[SEARCH["id"]] == "verified"
    assert len(patches(twin)) == 2


def test_a_refused_subnet_join_is_explained() -> None:
    # ARM's LinkedAuthorizationFailed, in the shape of its message (azure-cli#23447 quotes one):
    # a Cosmos DB account with VNet rules refuses any change from a caller who may not join the subnets.
    from remediators.arm import ArmError
    from remediators.pipeline import SUBNET_JOIN_ACTION, _failure_reason

    message = (
        "The client 'foundry-guard' with object id '0f0e0d0c-0b0a-4909-8807-060504030201' has permission to perform "
        "action 'Microsoft.DocumentDB/databaseAccounts/write' on scope '/subscriptions/subid/resourceGroups/rg1/"
        "providers/Microsoft.DocumentDB/databaseAccounts/ddb1'; however, it does not have permission to perform "
        f"action '{SUBNET_JOIN_ACTION}' on the linked scope(s) '/subscriptions/subid/resourceGroups/net/providers/"
        "Microsoft.Network/virtualNetworks/vnet1/subnets/default' or the linked scope(s) are invalid."
    )
    reason = _failure_reason(ArmError(403, "LinkedAuthorizationFailed", message))
    assert SUBNET_JOIN_ACTION in reason and "assign the managed-rg role" in reason and message in reason
