"""The function app end to end, without the Functions host: real trigger objects, the twin, a real Azurite."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from emulator import azurite
from emulator.host import AUTHENTICATION_ON, drain, grid_event, signed_in
from emulator.twin import Twin
from remediators.ledger import Status
from remediators.principal import APPROVE, READ
from tests.log_rows import anonymous_cosmos_row, cosmos_row
from tests.payloads import COSMOS_GET, SEARCH_GET, example, in_group, proving_workspaces
from tests.test_function_app import FUNCTIONS
from tests.test_pipeline_twin import COSMOS, OPENAI, ORDINARY_COSMOS, SEARCH, patches

ADMIN = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555", "idtyp": "user"}
ONCALL_OID = "0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e"
# What App Service authentication sends for the on-call engineer, who holds the approver role.
ONCALL = signed_in(ONCALL_OID, "oncall@contoso.com", APPROVE)


@pytest.fixture
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:  # a fresh account per test: the ledger and baselines start empty
        yield running


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch, storage: azurite.Azurite) -> Iterator[Twin]:
    with Twin.start(
        resources=[COSMOS, SEARCH, OPENAI, ORDINARY_COSMOS, *proving_workspaces(COSMOS, SEARCH)]
    ) as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GUARD_STORAGE", storage.connection_string)
        monkeypatch.setenv("GUARD_WORK_QUEUE", f"work-{secrets.token_hex(4)}")
        monkeypatch.setenv("GUARD_IDENTITY_OBJECT_ID", running.identity.object_id)
        monkeypatch.setenv("GUARD_ARM_POLL_SECONDS", "0")
        for name, value in AUTHENTICATION_ON.items():  # as deployed: App Service authentication is on
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(function_app, "_service", None)  # a fresh wiring per test
        yield running


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].get_user_function()(*args)


def someone_writes(
    twin: Twin, resource: dict[str, Any], properties: dict[str, Any], claims: dict[str, Any], api_version: str
) -> dict[str, Any]:
    """A write by someone else through ARM; returns the event ARM's subscription topic sends for it."""
    before = len(twin.events())
    twin.call("PATCH", resource["id"], {"properties": properties}, claims=claims, api_version=api_version)
    twin.finish_operations()
    return twin.wait_for_events(before + 1)[-1]


def drain_queue() -> int:
    """Hand every queued message to the queue trigger, as the host would; how many there were."""
    return drain(function_app.service().queue, FUNCTIONS["remediate_from_queue"].get_user_function())


def http(
    method: str, route: str, body: Any = None, headers: dict[str, str] = ONCALL, **params: str
) -> func.HttpResponse:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    request = func.HttpRequest(
        method,
        f"/api/{route}",
        headers=headers,
        params=params,
        body=payload,
        route_params=_route_params(route),
    )
    name = {"alerts": "alerts", "remediate": "remediate", "remediations": "remediations", "health": "health"}.get(
        route, "approve" if route.endswith("/approve") else "reject"
    )
    return call(name, request)


def _route_params(route: str) -> dict[str, str]:
    parts = route.split("/")
    return {"remediation_id": parts[1]} if len(parts) == 3 else {}


def test_ten_deliveries_of_an_event_give_one_queued_message_and_one_patch(twin: Twin) -> None:
    event = someone_writes(twin, COSMOS, {"disableLocalAuth": True}, ADMIN, "2026-03-15")
    for _ in range(10):
        call("on_resource_event", grid_event(event))
    assert drain_queue() == 1
    assert patches(twin)[-1:] == [b'{"properties":{"disableLocalAuth":false}}']
    assert len([p for p in twin.requests("PATCH") if (p.caller or {}).get("oid") == twin.identity.object_id]) == 1
    [record] = json.loads(http("GET", "remediations").get_body())["value"]
    assert record["status"] == "verified"
    assert record["trigger"]["actor"]["name"] == "admin@contoso.com"

    # Our own fix comes back as an event: recognised on the trigger path, nothing queued.
    own = twin.wait_for_events(2)[-1]
    call("on_resource_event", grid_event(own))
    assert drain_queue() == 0


def test_an_event_outside_scope_queues_nothing_and_calls_no_arm(twin: Twin) -> None:
    event = someone_writes(twin, ORDINARY_COSMOS, {"disableLocalAuth": True}, ADMIN, "2026-03-15")
    twin.clear_requests()
    call("on_resource_event", grid_event(event))
    assert drain_queue() == 0
    assert [r for r in twin.requests() if r.path.startswith("/subscriptions/")] == []


def test_a_proposal_is_approved_over_http_once(twin: Twin) -> None:
    dev = {"upn": "dev@contoso.com", "oid": "b4c2d3e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"}
    event = someone_writes(twin, OPENAI, {"restrictOutboundNetworkAccess": False}, dev, "2025-09-01")
    call("on_resource_event", grid_event(event))
    assert drain_queue() == 1
    [proposal] = json.loads(http("GET", "remediations", status="proposed").get_body())["value"]
    assert proposal["plan"] == {
        "properties": {"restrictOutboundNetworkAccess": True, "allowedFqdnList": ["microsoft.com"]}
    }
    approved = http("POST", f"remediations/{proposal['id']}/approve")
    assert approved.status_code == 200, approved.get_body()
    done = json.loads(approved.get_body())
    assert (done["status"], done["approver"]) == ("verified", "oncall@contoso.com")
    assert (done["approverObjectId"], done["approverRole"]) == (ONCALL_OID, APPROVE)
    assert done["history"][1] == {**done["history"][1], "status": "approved", "by": "oncall@contoso.com"}
    [stored] = json.loads(http("GET", "remediations").get_body())["value"]  # as the ledger recorded it
    assert (stored["approver"], stored["approverObjectId"], stored["approverRole"]) == (
        "oncall@contoso.com",
        ONCALL_OID,
        APPROVE,
    )
    again = http("POST", f"remediations/{proposal['id']}/approve")
    assert again.status_code == 409
    assert json.loads(again.get_body())["title"] == "Conflict"
    assert len([p for p in twin.requests("PATCH") if (p.caller or {}).get("oid") == twin.identity.object_id]) == 1


def test_a_forged_missing_or_unentitled_principal_cannot_approve_reject_or_apply(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = {"upn": "dev@contoso.com", "oid": "b4c2d3e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"}
    event = someone_writes(twin, OPENAI, {"restrictOutboundNetworkAccess": False}, dev, "2025-09-01")
    call("on_resource_event", grid_event(event))
    assert drain_queue() == 1
    [proposal] = json.loads(http("GET", "remediations", status="proposed").get_body())["value"]
    reader = signed_in("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "analyst@contoso.com", READ)
    forged_name = signed_in(ONCALL_OID, "oncall@contoso.com\nINFO approved by security@contoso.com", APPROVE)
    refusals = {
        "no principal": ({}, 401),
        "the readable name alone": ({"X-MS-CLIENT-PRINCIPAL-NAME": "oncall@contoso.com"}, 401),
        "a newline in the name": (forged_name, 401),
        "not base64": ({"X-MS-CLIENT-PRINCIPAL": "eyJhdXRoX3R5cCI6"}, 401),
        "a reader": (reader, 403),
    }
    decisions = [f"remediations/{proposal['id']}/approve", f"remediations/{proposal['id']}/reject"]
    apply = {"resourceId": OPENAI["id"], "action": "apply"}
    for why, (headers, status) in refusals.items():
        for route in decisions:
            answer = http("POST", route, headers=headers)
            assert (answer.status_code, json.loads(answer.get_body())["status"]) == (status, status), (why, route)
        assert http("POST", "remediate", apply, headers=headers).status_code == status, why
    # The reader may still read and plan.
    assert http("GET", "remediations", headers=reader).status_code == 200
    planned = http("POST", "remediate", {"resourceId": OPENAI["id"], "action": "plan"}, headers=reader)
    assert json.loads(planned.get_body())["state"] == "proposed"
    # With App Service authentication off, even the on-call engineer's headers are anyone's to send.
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED")
    for route in decisions:
        answer = http("POST", route)
        assert answer.status_code == 401
        assert "App Service authentication is not enabled" in json.loads(answer.get_body())["detail"]
    assert http("GET", "remediations").status_code == 401
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    [still] = json.loads(http("GET", "remediations").get_body())["value"]
    assert (still["id"], still["status"], still["approver"]) == (proposal["id"], "proposed", None)
    assert [h["status"] for h in still["history"]] == ["proposed"]
    assert [p for p in twin.requests("PATCH") if (p.caller or {}).get("oid") == twin.identity.object_id] == []


def test_manual_plan_and_apply(twin: Twin) -> None:
    twin.patch_resource(SEARCH["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
    planned = json.loads(http("POST", "remediate", {"resourceId": SEARCH["id"], "action": "plan"}).get_body())
    assert planned["state"] == "proposed" and patches(twin) == []
    applied = json.loads(http("POST", "remediate", {"resourceId": SEARCH["id"], "action": "apply"}).get_body())
    assert applied["state"] == "verified"
    assert applied["remediation"]["trigger"]["actor"]["name"] == "oncall@contoso.com"
    assert applied["remediation"]["trigger"]["actor"]["objectId"] == ONCALL_OID
    assert patches(twin) == [b'{"properties":{"publicNetworkAccess":"Enabled"}}']


@pytest.mark.parametrize(
    ("method", "route", "body", "status", "detail"),
    [
        ("POST", "alerts", b"{not json", 400, "not JSON"),
        ("POST", "alerts", {"hello": "world"}, 400, ""),
        ("POST", "remediate", b"[]", 400, "expected"),
        ("POST", "remediate", {"resourceId": "nope", "action": "apply"}, 400, "not an ARM resource id"),
        ("POST", "remediate", {"resourceId": ORDINARY_COSMOS["id"], "action": "apply"}, 403, "never loosened"),
        ("POST", "remediate", {"resourceId": SEARCH["id"], "action": "delete"}, 400, "plan or apply"),
        ("POST", "remediations/ab-1-2/approve", None, 404, "no remediation"),
        ("POST", "remediations/garbage/reject", None, 404, "no remediation"),
    ],
)
def test_bad_requests_get_a_problem_body(
    twin: Twin, method: str, route: str, body: Any, status: int, detail: str
) -> None:
    answer = http(method, route, body)
    assert answer.status_code == status, answer.get_body()
    problem = json.loads(answer.get_body())
    assert detail in json.dumps(problem)


def test_health_and_not_configured(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    assert json.loads(http("GET", "health").get_body())["status"] == "ok"
    monkeypatch.setattr(function_app, "_service", None)
    monkeypatch.setenv("GUARD_STORAGE", "")
    answer = http("GET", "health")
    assert answer.status_code == 503
    assert "GUARD_STORAGE" in json.loads(answer.get_body())["detail"]


def test_the_sweep_queues_guarded_resources_and_records_healthy_accounts_baselines(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARD_SWEEP_SUBSCRIPTIONS", "subid,00000000-1111-2222-3333-444444444444")
    twin.patch_resource(COSMOS["id"], {"properties": {"disableLocalAuth": True}})
    call("sweep", None)
    wired = function_app.service()
    recorded = wired.baselines.baseline_for(OPENAI["id"])
    assert recorded is not None and recorded.get("properties.allowedFqdnList") == ["microsoft.com"]
    assert recorded.source == "sweep"
    assert drain_queue() == 2  # the managed Cosmos DB and Search; not the ordinary Cosmos DB, not the healthy account
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']


def test_on_call_is_told_over_both_channels_with_approval_links(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_NOTIFY_EVENTGRID_ENDPOINT", twin.topic_endpoint("guard-notices"))
    monkeypatch.setenv("GUARD_NOTIFY_TEAMS_WEBHOOK_URL", twin.sink_url("teams"))
    monkeypatch.setenv("GUARD_APPROVAL_BASE_URL", "https://guard.contoso.com")
    dev = {"upn": "dev@contoso.com", "oid": "b4c2d3e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"}
    event = someone_writes(twin, OPENAI, {"restrictOutboundNetworkAccess": False}, dev, "2025-09-01")
    call("on_resource_event", grid_event(event))
    assert drain_queue() == 1
    [published] = twin.topic("guard-notices")
    assert published["event"]["type"] == "FoundryGuard.Remediation.Proposed"
    assert published["event"]["subject"] == OPENAI["id"]
    [card] = twin.sink("teams")
    text = json.dumps(card["json"])
    assert "dev@contoso.com" in text
    [proposal] = json.loads(http("GET", "remediations", status="proposed").get_body())["value"]
    assert f"https://guard.contoso.com/api/remediations/{proposal['id']}/approve" in text


def test_refused_requests_in_the_logs_turn_a_suspected_cosmos_lock_into_a_fix(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARD_LOG_ANALYTICS_WORKSPACE_ID", "5f0b3c2a-1111-4a4a-9b9b-00000000e71d")
    monkeypatch.setenv("GUARD_LOG_ANALYTICS_ENDPOINT", f"{twin.arm}/v1")
    twin.patch_resource(COSMOS["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
    planned = json.loads(http("POST", "remediate", {"resourceId": COSMOS["id"], "action": "apply"}).get_body())
    assert planned["state"] == "proposed"  # suspected: no log shows it biting yet
    now = twin.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")  # the twin's now: what ago() counts from
    # Microsoft's sample DataPlaneRequests row: the workspace's request, signed with the account's key, refused.
    twin.add_log_rows("CDBDataPlaneRequests", [cosmos_row(now, COSMOS["id"], 403)])
    planned = json.loads(http("POST", "remediate", {"resourceId": COSMOS["id"], "action": "plan"}).get_body())
    assert planned["findings"][0]["confidence"] == "confirmed"  # a plan weighs the same evidence as a fix
    assert planned["state"] == "proposed" and patches(twin) == []
    fixed = json.loads(http("POST", "remediate", {"resourceId": COSMOS["id"], "action": "apply"}).get_body())
    assert fixed["state"] == "verified", fixed["reason"]
    assert fixed["findings"][0]["confidence"] == "confirmed"
    assert any("CDBDataPlaneRequests" in line for line in fixed["findings"][0]["evidence"])
    assert patches(twin) == [b'{"properties":{"publicNetworkAccess":"Enabled"}}']


def log_alert_for(resource_id: str) -> dict[str, Any]:
    """Microsoft's Log Alerts V2 sample, its dimension naming our resource as a log search alert on a
    diagnostic table would (the sample's own dimension is a computer name)."""
    from tests.payloads import FIXTURES

    alert = json.loads((FIXTURES / "events" / "alert-test-log-v2.json").read_text(encoding="utf-8"))
    alert["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "_ResourceId", "value": resource_id.lower()}
    ]
    return alert


@pytest.mark.parametrize(
    ("rows", "status"),
    [
        (lambda now: [], "proposed"),
        (lambda now: [cosmos_row(now, COSMOS["id"], 403)], "verified"),
        # Three requests with no credential from anywhere on the internet: seen, never enough to open a firewall.
        (lambda now: [anonymous_cosmos_row(now, COSMOS["id"])] * 3, "proposed"),
    ],
    ids=["no-log-rows", "the-workspace-s-403s", "anonymous-403s"],
)
def test_an_alert_is_queued_and_its_evidence_decides(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, rows: Any, status: str
) -> None:
    monkeypatch.setenv("GUARD_LOG_ANALYTICS_WORKSPACE_ID", "5f0b3c2a-1111-4a4a-9b9b-00000000e71d")
    monkeypatch.setenv("GUARD_LOG_ANALYTICS_ENDPOINT", f"{twin.arm}/v1")
    twin.patch_resource(COSMOS["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
    now = twin.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")  # the twin's now: what ago() counts from
    twin.add_log_rows("CDBDataPlaneRequests", rows(now))
    answer = http("POST", "alerts", log_alert_for(COSMOS["id"]))
    assert answer.status_code == 202, answer.get_body()
    assert json.loads(answer.get_body())["queued"] == [COSMOS["id"].lower()]
    assert drain_queue() == 1
    [record] = json.loads(http("GET", "remediations").get_body())["value"]
    assert record["status"] == status
    assert record["trigger"]["source"] == "alert"
    assert len(patches(twin)) == (status == "verified")


def test_unknown_payloads_on_the_event_and_queue_triggers_are_refused_without_a_crash(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    odd = func.EventGridEvent(
        id="x1",
        data={"hello": "world"},
        topic="/subscriptions/subid",
        subject="not-an-id",
        event_type="Contoso.Something.Happened",
        event_time=None,
        data_version="1",
    )
    call("on_resource_event", odd)
    call("remediate_from_queue", func.QueueMessage(id="m1", body=b"{not json"))
    call("remediate_from_queue", func.QueueMessage(id="m2", body=b'{"resourceId": "nope"}'))
    assert drain_queue() == 0
    refusals = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("event x1 refused" in line for line in refusals)
    assert any("queue message m1 refused" in line for line in refusals)
    assert any("queue message m2 refused" in line and "not an ARM resource id" in line for line in refusals)


def test_a_proposal_rejected_over_http_is_never_applied(twin: Twin) -> None:
    twin.patch_resource(OPENAI["id"], {"properties": {"restrictOutboundNetworkAccess": False}})
    proposed = json.loads(http("POST", "remediate", {"resourceId": OPENAI["id"], "action": "apply"}).get_body())
    remediation_id = proposed["remediation"]["id"]
    assert proposed["remediation"]["status"] == "proposed"
    rejected = http("POST", f"remediations/{remediation_id}/reject")
    assert rejected.status_code == 200
    assert json.loads(rejected.get_body())["status"] == "rejected"
    assert http("POST", f"remediations/{remediation_id}/approve").status_code == 409
    assert patches(twin) == []


def workspace_with_group(group: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Microsoft's workspace example (customer-managed key) as contoso-ws in rg-contoso-ml, naming
    ``group`` as its managed resource group, and a broken Cosmos DB and a Search service in it."""
    from tests.payloads import with_properties, workspace

    subscription = "00000000-1111-2222-3333-444444444444"
    cosmos = with_properties(in_group(example(COSMOS_GET), group), disableLocalAuth=True)
    search = in_group(example(SEARCH_GET), group)
    for body in (cosmos, search):
        body["id"] = body["id"].replace("/subscriptions/subid/", f"/subscriptions/{subscription}/")
    return workspace(group, subscription), [cosmos, search]


# The CMK how-to's form, <workspace resource group><GUID>: no name rule alone would let it be loosened.
OWN_GROUP_FORM = "rg-contoso-ml5a1f3c9e2b7d4e8a9c0f1d2e3f4a5b6c"


def test_a_workspace_id_remediates_the_group_the_workspace_proves(twin: Twin) -> None:
    workspace, resources = workspace_with_group(OWN_GROUP_FORM)
    for body in [workspace, *resources]:
        twin.set_resource(body)
    planned = http("POST", "remediate", {"resourceId": workspace["id"], "action": "plan"})
    assert planned.status_code == 200, planned.get_body()
    plan = json.loads(planned.get_body())
    assert plan["managedResourceGroup"] == OWN_GROUP_FORM
    assert sorted(r["state"] for r in plan["results"]) == ["healthy", "proposed"]
    assert {r["provenBy"] for r in plan["results"]} == {workspace["id"]}
    assert patches(twin) == []
    applied = json.loads(http("POST", "remediate", {"resourceId": workspace["id"], "action": "apply"}).get_body())
    assert sorted(r["state"] for r in applied["results"]) == ["healthy", "verified"]
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']


def test_a_proposal_from_a_workspace_scoped_remediation_is_approved_later(twin: Twin) -> None:
    # The group is managed because the workspace proves it, not by any name rule: the approval,
    # which runs later and apart from the workspace call, relies on the same proof.
    workspace, resources = workspace_with_group(OWN_GROUP_FORM)
    cosmos = {**resources[0], "properties": {**resources[0]["properties"], "disableLocalAuth": False}}
    cosmos["properties"]["publicNetworkAccess"] = "Disabled"  # a suspected lock: proposed for a person
    for body in [workspace, cosmos, resources[1]]:
        twin.set_resource(body)
    applied = json.loads(http("POST", "remediate", {"resourceId": workspace["id"], "action": "apply"}).get_body())
    [proposal] = [r["remediation"] for r in applied["results"] if r["state"] == "proposed"]
    function_app._service = None  # a later call, on a fresh host: nothing remembers the workspace call
    approved = http("POST", f"remediations/{proposal['id']}/approve")
    assert approved.status_code == 200, approved.get_body()
    assert json.loads(approved.get_body())["status"] == "verified"
    assert patches(twin) == [b'{"properties":{"publicNetworkAccess":"Enabled"}}']


@pytest.mark.parametrize("action", ["plan", "apply"])
def test_a_workspace_naming_an_ordinary_group_loosens_nothing_there(twin: Twin, action: str) -> None:
    # The field's property is read-only, but a tool that loosens must not rest on one field: the
    # workspace's word made the guard turn local auth back on in an ordinary group's Cosmos DB.
    workspace, resources = workspace_with_group("rg-contoso-prod")
    for body in [workspace, *resources]:
        twin.set_resource(body)
    answer = http("POST", "remediate", {"resourceId": workspace["id"], "action": action})
    assert answer.status_code == 422
    assert "fits none of the forms" in json.loads(answer.get_body())["detail"]
    assert patches(twin) == []


def test_a_workspace_naming_a_group_of_no_form_for_it_proves_nothing(twin: Twin) -> None:
    # Microsoft's own example names "testworkspace_0000111122223333": no documented form (16 hex
    # digits are no GUID), so the workspace alone does not make the group loosenable.
    workspace, resources = workspace_with_group("testworkspace_0000111122223333")
    for body in [workspace, *resources]:
        twin.set_resource(body)
    answer = http("POST", "remediate", {"resourceId": workspace["id"], "action": "apply"})
    assert answer.status_code == 422
    assert "fits none of the forms" in json.loads(answer.get_body())["detail"]
    assert patches(twin) == []


def test_a_workspace_without_a_managed_group_or_that_does_not_exist(twin: Twin) -> None:
    workspace, _ = workspace_with_group("")
    del workspace["properties"]["serviceProvisionedResourceGroup"]
    twin.set_resource(workspace)
    answer = http("POST", "remediate", {"resourceId": workspace["id"], "action": "plan"})
    assert answer.status_code == 422
    assert "names no managed resource group" in json.loads(answer.get_body())["detail"]
    missing = http("POST", "remediate", {"resourceId": workspace["id"] + "x", "action": "plan"})
    assert missing.status_code == 404


def test_401s_in_the_logs_do_not_confirm_a_firewall_lock(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace's key refused with 401 proves local auth bites, not the firewall: the lock stays a proposal."""
    monkeypatch.setenv("GUARD_LOG_ANALYTICS_WORKSPACE_ID", "5f0b3c2a-1111-4a4a-9b9b-00000000e71d")
    monkeypatch.setenv("GUARD_LOG_ANALYTICS_ENDPOINT", f"{twin.arm}/v1")
    twin.patch_resource(COSMOS["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
    now = twin.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")  # the twin's now: what ago() counts from
    twin.add_log_rows("CDBDataPlaneRequests", [cosmos_row(now, COSMOS["id"], 401)])
    answer = json.loads(http("POST", "remediate", {"resourceId": COSMOS["id"], "action": "apply"}).get_body())
    assert answer["state"] == "proposed"
    assert answer["findings"][0]["confidence"] == "suspected"
    assert patches(twin) == []


def test_a_long_running_fix_left_applied_is_settled_by_the_next_sweep(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARD_ARM_BUDGET_SECONDS", "1")
    twin.patch_resource(COSMOS["id"], {"properties": {"disableLocalAuth": True}})
    twin.set_lro(cosmos_polls=10_000)
    twin.add_fault({"kind": "latency", "method": "GET", "ms": 100})
    applied = json.loads(http("POST", "remediate", {"resourceId": COSMOS["id"], "action": "apply"}).get_body())
    assert applied["state"] == "pending"
    assert applied["remediation"]["status"] == "applied"
    call("sweep", None)  # still running: left as it is
    [still] = json.loads(http("GET", "remediations").get_body())["value"]
    assert still["status"] == "applied"
    twin.clear_faults()
    twin.finish_operations()
    call("sweep", None)
    [settled] = json.loads(http("GET", "remediations").get_body())["value"]
    assert settled["status"] == "verified"
    assert [h["status"] for h in settled["history"]] == ["applying", "applied", "verified"]  # written ahead
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']


def test_the_ledger_is_listed_page_by_page(twin: Twin) -> None:
    ledger = function_app.service().ledger
    made = [
        ledger.create(
            COSMOS["id"], Status.FAILED, kinds=["local_auth_disabled"], trigger={}, plan=None, reason="", by="t"
        )
        for _ in range(3)
    ]
    first = json.loads(http("GET", "remediations", top="2").get_body())
    assert len(first["value"]) == 2 and first["continuationToken"]
    rest = json.loads(http("GET", "remediations", top="2", continuationToken=first["continuationToken"]).get_body())
    assert "continuationToken" not in rest
    assert {r["id"] for r in first["value"] + rest["value"]} == {r.id for r in made}
    assert http("GET", "remediations", continuationToken="forged").status_code == 400
    assert http("GET", "remediations", top="0").status_code == 400
