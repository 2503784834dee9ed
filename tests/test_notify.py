"""Notifications end to end on the local twin: real outcomes from the real pipeline, published with the
real EventGridPublisherClient (a managed-identity token, no keys) to the twin's Event Grid topic, and
posted to the twin's webhook sink as a Teams Workflows message. Payloads are asserted as received.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.twin import Twin
from remediators.arm import Arm, ArmError, credential
from remediators.notify import (
    CHANNEL_EVENTGRID,
    CHANNEL_TEAMS,
    REDACTED,
    Delivery,
    Notice,
    Notifier,
    adaptive_card,
    cloud_event,
    redact,
    should_notify,
)
from remediators.pipeline import Outcome, Pipeline, State
from remediators.scope import ScopeRules
from remediators.signals import parse_signals
from tests.payloads import (
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

ROOT = Path(__file__).parent.parent
COSMOS = in_group(example(COSMOS_GET), MANAGED_RG)
SEARCH = in_group(example(SEARCH_GET), MANAGED_RG)
STORAGE = in_group(example(STORAGE_GET), MANAGED_RG)
OPENAI = ai_account("OpenAI")
ORDINARY_COSMOS = with_properties(in_group(example(COSMOS_GET), ORDINARY_RG), disableLocalAuth=True)
ORDINARY_COSMOS["id"] = ORDINARY_COSMOS["id"].replace("/ddb1", "/ordinary-ddb")
ORDINARY_COSMOS["name"] = "ordinary-ddb"
ADMIN = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555", "idtyp": "user"}

TOPIC = "guard-notifications"
TOPIC_PATH = f"/eventgrid/{TOPIC}/api/events"
SINK = "oncall"
SINK_PATH = f"/_twin/sinks/{SINK}"

# Fake secrets, each placed somewhere a careless notifier would copy it from.
ACCOUNT_KEY = ("c2VjcmV0" * 11)[:86] + "=="
SAS_SIGNATURE = "FAKEsig0Zm9vYmFyYmF6%2Bvalue"
JWT = "eyJhbGciOiJub25lIn0.eyJvaWQiOiJmYWtlLXVzZXIifQ.ZmFrZXNpZ25hdHVyZQ"
WEBHOOK_SIGNATURE = "WebhookSig0123456789abcdef"
SECRETS = (ACCOUNT_KEY, SAS_SIGNATURE, JWT, WEBHOOK_SIGNATURE, "hunter2-password")


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Twin]:
    with Twin.start(
        resources=[COSMOS, SEARCH, STORAGE, OPENAI, ORDINARY_COSMOS, *proving_workspaces(COSMOS, SEARCH, STORAGE)]
    ) as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)  # the real ManagedIdentityCredential asks the twin for tokens
        yield running


def pipeline(twin: Twin, *, retry_total: int = 3) -> Pipeline:
    arm = Arm(
        credential(None),
        endpoint=twin.arm,
        connection_verify=twin.ca_path,
        polling_interval=0,
        retry_total=retry_total,
    )
    return Pipeline(arm, ScopeRules())


def notifier(twin: Twin, **overrides: Any) -> Notifier:
    settings: dict[str, Any] = {
        "eventgrid_endpoint": twin.topic_endpoint(TOPIC),
        "credential": credential(None),
        "teams_webhook_url": twin.sink_url(SINK),
        "connection_verify": twin.ca_path,
        "backoff_seconds": 0.0,
    }
    settings.update(overrides)
    return Notifier(**settings)


def published(twin: Twin) -> list[dict[str, Any]]:
    entries = twin.topic(TOPIC)
    assert all(entry["schema"] == "cloudevents" for entry in entries)
    return [entry["event"] for entry in entries]


def posted(twin: Twin) -> list[dict[str, Any]]:
    return [entry["json"] for entry in twin.sink(SINK)]


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    return content


def texts(card: dict[str, Any]) -> list[str]:
    """Every TextBlock's text, in order, including those inside containers."""
    found: list[str] = []

    def walk(elements: list[dict[str, Any]]) -> None:
        for element in elements:
            if element["type"] == "TextBlock":
                found.append(element["text"])
            walk(element.get("items", []))

    walk(card["body"])
    return found


def facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (fact["title"], fact["value"])
        for element in card["body"]
        if element["type"] == "FactSet"
        for fact in element["facts"]
    ]


def documented_data_fields() -> set[str]:
    """The top-level ``data`` fields docs/notifications.md documents (rows of its data table)."""
    page = (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8")
    section = page.split("## The CloudEvent's `data`", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", section, flags=re.MULTILINE))


def admin_locks_the_search_firewall(twin: Twin) -> Outcome:
    """Someone else's write, ARM's event for it, and the pipeline's real outcome."""
    answer = twin.call(
        "PATCH",
        SEARCH["id"],
        {"properties": {"publicNetworkAccess": "Disabled"}},
        claims=ADMIN,
        api_version="2025-05-01",
    )
    assert answer.status == 200
    [event] = twin.wait_for_events(1)
    [outcome] = pipeline(twin).handle(parse_signals([event]).signals)
    assert outcome.state is State.VERIFIED, outcome.reason
    return outcome


# -- which outcomes notify ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "applied", "notify"),
    [
        (State.NOT_GUARDED, None, False),
        (State.GONE, None, False),
        (State.HEALTHY, None, False),
        (State.VERIFIED, {"properties": {"disableLocalAuth": False}}, True),
        (State.PROPOSED, None, True),
        (State.OBSERVED, None, True),
        (State.REVERTED, {"properties": {"disableLocalAuth": False}}, True),
        (State.FAILED, None, True),
        (State.PENDING, {"properties": {"disableLocalAuth": False}}, True),  # the PATCH was just sent
        (State.PENDING, None, False),  # a later check: still running, nothing new
    ],
)
def test_which_outcomes_notify(state: State, applied: dict[str, Any] | None, notify: bool) -> None:
    assert should_notify(Outcome(COSMOS["id"], state, "why", applied=applied)) is notify


def test_nothing_is_sent_for_not_guarded_or_healthy_resources(twin: Twin) -> None:
    ordinary = pipeline(twin).remediate(ORDINARY_COSMOS["id"])
    healthy = pipeline(twin).remediate(COSMOS["id"])
    assert (ordinary.state, healthy.state) == (State.NOT_GUARDED, State.HEALTHY)
    twin.clear_requests()
    guard = notifier(twin)
    assert guard.send(Notice("rem-ordinary", ordinary)) == []
    assert guard.send(Notice("rem-healthy", healthy)) == []
    assert published(twin) == [] and posted(twin) == []
    assert twin.requests() == []  # not even a token was asked for


# -- what is sent --------------------------------------------------------------------------------


def test_a_verified_fix_is_published_as_a_cloud_event_with_a_managed_identity_token(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    with caplog.at_level(logging.WARNING):
        deliveries = notifier(twin).send(Notice("rem-0001", outcome))
    assert caplog.records == []  # not even the SDK's noise about options passed per send()
    assert deliveries == [Delivery(CHANNEL_EVENTGRID, True, 1, None), Delivery(CHANNEL_TEAMS, True, 1, None)]

    [event] = published(twin)
    assert event["specversion"] == "1.0"
    assert event["type"] == "FoundryGuard.Remediation.Verified"
    assert event["source"] == "/foundry-guard"
    assert event["subject"] == SEARCH["id"]
    assert event["id"] == "rem-0001:verified"
    assert event["time"].endswith("Z")
    data = event["data"]
    assert set(data) == documented_data_fields()
    assert data["remediationId"] == "rem-0001"
    assert data["resourceId"] == SEARCH["id"]
    assert data["resourceType"] == "Microsoft.Search/searchServices"
    assert data["resourceGroup"] == MANAGED_RG
    assert (data["state"], data["kinds"]) == ("verified", ["managed_rg_firewall_locked"])
    assert data["reason"] == "fixed and verified by a fresh read"
    [finding] = data["findings"]
    assert (finding["property"], finding["observed"], finding["expected"]) == (
        "properties.publicNetworkAccess",
        "Disabled",
        "Enabled",
    )
    assert finding["confidence"] == "confirmed" and finding["evidence"]
    assert data["applied"] == {
        "method": "PATCH",
        "apiVersion": "2025-05-01",
        "body": {"properties": {"publicNetworkAccess": "Enabled"}},
    }
    assert data["proposed"] == [] and data["error"] is None
    assert data["trigger"]["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert data["trigger"]["actor"] == {
        "name": "admin@contoso.com",
        "objectId": ADMIN["oid"],
        "appId": None,
        "principalType": "User",
    }
    assert data["trigger"]["operationName"] == "Microsoft.Search/searchServices/write"

    # Entra ID, not access keys: the publish carried a bearer token for Event Grid, from the managed identity.
    [publish] = twin.requests("POST", TOPIC_PATH)
    assert publish.caller is not None
    assert publish.caller["aud"] == "https://eventgrid.azure.net"
    assert publish.caller["oid"] == twin.identity.object_id
    assert publish.headers["content-type"].startswith("application/cloudevents-batch+json")


def test_a_verified_fix_is_posted_to_teams_as_an_adaptive_card(twin: Twin) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    notifier(twin, eventgrid_endpoint=None).send(Notice("rem-0002", outcome))

    [message] = posted(twin)
    assert message["type"] == "message"
    card = card_of(message)
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    lines = texts(card)
    assert lines[0] == "Foundry Guard: Fixed and verified"
    assert lines[1] == "managed_rg_firewall_locked on mysearchservice"
    shown = dict(facts(card))
    assert shown["Resource"] == SEARCH["id"]
    assert shown["Kind"] == "managed_rg_firewall_locked"
    assert shown["State"] == "verified"
    assert shown["Changed by"] == "admin@contoso.com (User)"
    assert shown["When"]
    assert shown["Remediation id"] == "rem-0002"
    assert (shown["Property"], shown["Observed"], shown["Expected"]) == (
        "properties.publicNetworkAccess",
        '"Disabled"',
        '"Enabled"',
    )
    assert any(title == "Evidence" and "managed resource group" in value for title, value in facts(card))
    assert "PATCH applied" in lines
    assert f"PATCH {SEARCH['id']}?api-version=2025-05-01" in lines
    assert '{"properties": {"publicNetworkAccess": "Enabled"}}' in lines
    # No approval for a fix already made: only the portal link.
    assert [(a["type"], a["title"]) for a in card["actions"]] == [("Action.OpenUrl", "Open in the Azure portal")]
    assert card["actions"][0]["url"] == f"https://portal.azure.com/#resource{SEARCH['id']}"


def test_a_proposal_carries_the_plan_and_approve_and_reject_buttons(twin: Twin) -> None:
    twin.set_resource(with_properties(OPENAI, restrictOutboundNetworkAccess=False))
    outcome = pipeline(twin).remediate(OPENAI["id"])
    assert outcome.state is State.PROPOSED  # no recorded allowlist: a person must confirm it
    approve = "https://guard.contoso.com/api/approvals/rem-0003?decision=approve"
    reject = "https://guard.contoso.com/api/approvals/rem-0003?decision=reject"
    deliveries = notifier(twin).send(Notice("rem-0003", outcome, approve_url=approve, reject_url=reject))
    assert [d.ok for d in deliveries] == [True, True]

    [event] = published(twin)
    assert event["type"] == "FoundryGuard.Remediation.Proposed"
    assert event["id"] == "rem-0003:proposed"
    data = event["data"]
    assert (data["approveUrl"], data["rejectUrl"]) == (approve, reject)
    assert data["applied"] is None
    [proposal] = data["proposed"]
    assert proposal["kind"] == "outbound_restriction_removed"
    assert proposal["body"]["properties"]["restrictOutboundNetworkAccess"] is True
    assert proposal["proposalOnly"] is True and "baseline" in proposal["reason"]

    card = card_of(posted(twin)[0])
    assert texts(card)[0] == "Foundry Guard: Fix proposed: waiting for a person"
    assert "PATCH proposed for outbound_restriction_removed" in texts(card)
    buttons = {a["title"]: a for a in card["actions"]}
    assert buttons["Approve"] == {"type": "Action.OpenUrl", "title": "Approve", "url": approve, "style": "positive"}
    assert buttons["Reject"] == {"type": "Action.OpenUrl", "title": "Reject", "url": reject, "style": "destructive"}


# -- retries and failures ------------------------------------------------------------------------


def test_failing_sinks_are_retried_until_they_answer(twin: Twin) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    twin.add_fault({"kind": "error", "status": 503, "resourceId": TOPIC_PATH, "times": 2})
    twin.add_fault({"kind": "throttle", "resourceId": SINK_PATH, "times": 2, "retryAfter": 0})
    deliveries = notifier(twin).send(Notice("rem-0004", outcome))
    assert deliveries == [Delivery(CHANNEL_EVENTGRID, True, 3, None), Delivery(CHANNEL_TEAMS, True, 3, None)]
    assert len(twin.requests("POST", TOPIC_PATH)) == 3  # our attempts only: the SDK's own retries are off
    assert len(twin.requests("POST", SINK_PATH)) == 3
    assert len(published(twin)) == 1 and len(posted(twin)) == 1


def test_a_sink_that_keeps_failing_is_a_recorded_failure_and_send_returns(twin: Twin) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    twin.add_fault({"kind": "error", "status": 503, "resourceId": TOPIC_PATH})
    twin.add_fault({"kind": "error", "status": 500, "resourceId": SINK_PATH})
    eventgrid, teams = notifier(twin, attempts=2).send(Notice("rem-0005", outcome))
    assert (eventgrid.channel, eventgrid.ok, eventgrid.attempts) == (CHANNEL_EVENTGRID, False, 2)
    assert eventgrid.error is not None and "503" in eventgrid.error and "\n" not in eventgrid.error
    assert (teams.channel, teams.ok, teams.attempts) == (CHANNEL_TEAMS, False, 2)
    assert teams.error == "Teams webhook answered 500 Internal Server Error"
    assert published(twin) == [] and posted(twin) == []


def test_a_refusal_that_asking_again_cannot_change_is_not_retried(twin: Twin) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    twin.add_fault({"kind": "conflict", "status": 409, "method": "POST", "resourceId": SINK_PATH})
    [teams] = notifier(twin, eventgrid_endpoint=None).send(Notice("rem-0006", outcome))
    assert (teams.ok, teams.attempts) == (False, 1)
    assert teams.error is not None and "409" in teams.error


def test_channels_not_configured_are_skipped_and_a_missing_credential_is_reported(twin: Twin) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    assert notifier(twin, eventgrid_endpoint=None, teams_webhook_url=None).send(Notice("rem-0007", outcome)) == []
    [eventgrid] = notifier(twin, credential=None, teams_webhook_url=None).send(Notice("rem-0007", outcome))
    assert (eventgrid.ok, eventgrid.attempts) == (False, 0)
    assert eventgrid.error is not None and "no token credential" in eventgrid.error
    assert published(twin) == []


class NoToken:
    """A credential that cannot get a token (no managed identity, no CLI login)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError("ManagedIdentityCredential: no identity endpoint")


def test_a_credential_that_cannot_get_a_token_is_reported_once_not_retried(twin: Twin) -> None:
    outcome = admin_locks_the_search_firewall(twin)
    [eventgrid] = notifier(twin, credential=NoToken(), teams_webhook_url=None).send(Notice("rem-0009", outcome))
    assert (eventgrid.ok, eventgrid.attempts) == (False, 1)
    assert eventgrid.error == "no token for Event Grid: ManagedIdentityCredential: no identity endpoint"
    assert twin.requests("POST", TOPIC_PATH) == []


# -- secrets -------------------------------------------------------------------------------------


def test_no_key_token_connection_string_or_sas_reaches_either_channel(
    twin: Twin, caplog: pytest.LogCaptureFixture
) -> None:
    """Secrets planted where they could leak: ARM's error message, evidence, an observed value, the
    approve link, and the webhook URL itself (a Workflows URL carries its signature)."""
    twin.set_resource(with_properties(STORAGE, allowSharedKeyAccess=False))
    twin.add_fault(
        {
            "kind": "error",
            "status": 500,
            "method": "PATCH",
            "resourceId": STORAGE["id"],
            "message": (
                "backend failed: DefaultEndpointsProtocol=https;AccountName=st1;"
                f"AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net; SAS "
                f"https://st1.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig={SAS_SIGNATURE} Bearer {JWT}"
            ),
        }
    )
    outcome = pipeline(twin, retry_total=0).remediate(STORAGE["id"])
    assert outcome.state is State.FAILED and isinstance(outcome.error, ArmError)
    assert ACCOUNT_KEY in outcome.error.message  # the secret really is in what the notifier is handed
    leaky = dataclasses.replace(
        outcome.findings[0],
        evidence=(*outcome.findings[0].evidence, f"a log row said password=hunter2-password key {ACCOUNT_KEY}"),
        observed={"allowSharedKeyAccess": False, "primaryKey": ACCOUNT_KEY, "token": JWT},
    )
    outcome.findings = (leaky,)
    notice = Notice("rem-0008", outcome, approve_url=f"https://guard.contoso.com/approve?sig={SAS_SIGNATURE}")
    webhook = f"{twin.sink_url(SINK)}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig={WEBHOOK_SIGNATURE}"
    twin.add_fault({"kind": "error", "status": 503, "resourceId": SINK_PATH, "times": 1})

    with caplog.at_level(logging.DEBUG, logger="foundry_guard"):
        deliveries = notifier(twin, teams_webhook_url=webhook).send(notice)
        refused = Notifier(
            eventgrid_endpoint=None,
            credential=None,
            teams_webhook_url=f"https://127.0.0.1:1/workflows/x?sig={WEBHOOK_SIGNATURE}",  # nothing listens
            connection_verify=twin.ca_path,
            attempts=2,
            backoff_seconds=0.0,
        ).send(notice)
    assert [(d.ok, d.attempts) for d in deliveries] == [(True, 1), (True, 2)]
    [unreachable] = refused
    assert (unreachable.ok, unreachable.attempts) == (False, 2)

    sent = [r.body.decode("utf-8") for r in twin.requests("POST", TOPIC_PATH) + twin.requests("POST", SINK_PATH)]
    local = [json.dumps(cloud_event(notice)), json.dumps(adaptive_card(notice))]
    logged = [record.getMessage() for record in caplog.records if record.name.startswith("foundry_guard")]
    assert len(logged) == 1 and "unreachable" in logged[0]  # the failed delivery, without its URL
    said = [*sent, *local, *(str(d) for d in deliveries + refused), *logged]
    for secret in SECRETS:
        assert not any(secret in text for text in said), secret
    assert all(REDACTED in text for text in sent)
    [event] = published(twin)
    assert event["type"] == "FoundryGuard.Remediation.Failed"
    error = event["data"]["error"]
    assert (error["status"], error["code"]) == (500, "InternalServerError")
    assert f"AccountKey={REDACTED}" in error["message"] and f"sig={REDACTED}" in error["message"]
    assert event["data"]["findings"][0]["observed"] == {
        "allowSharedKeyAccess": False,  # a setting named like a key is kept: it is not a secret
        "primaryKey": REDACTED,
        "token": REDACTED,
    }
    card = card_of(posted(twin)[0])
    assert texts(card)[0] == "Foundry Guard: Fix failed"
    assert "PATCH sent, not applied" in texts(card)
    assert any(line.startswith("ARM answered 500 InternalServerError") for line in texts(card))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"AccountEndpoint=https://a.documents.azure.com:443/;AccountKey={ACCOUNT_KEY};", REDACTED),
        (f"https://a.blob.core.windows.net/c/b?sv=2022-11-02&se=2030-01-01&sig={SAS_SIGNATURE}", f"sig={REDACTED}"),
        (f"Authorization: Bearer {JWT}", f"Bearer {REDACTED}"),
        (f"the token {JWT} expired", f"the token {REDACTED} expired"),
        (f"key {ACCOUNT_KEY}", f"key {REDACTED}"),
        ('{"primaryMasterKey": "abc123def456"}', f'{{"primaryMasterKey": "{REDACTED}"}}'),
        ("https://user:hunter2-password@proxy.contoso.com", f"https://{REDACTED}@proxy.contoso.com"),
        ("https://fn.azurewebsites.net/api/approve?code=abcDEF123==&id=1", f"code={REDACTED}&id=1"),
    ],
)
def test_redact_removes_credentials(text: str, expected: str) -> None:
    assert expected in redact(text)
    for secret in (*SECRETS, "abc123def456", "abcDEF123"):
        assert secret not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "properties.allowSharedKeyAccess is false",
        "properties.disableLocalAuth is true",
        f"{SEARCH['id']} is in a workspace's managed resource group (azureml-rg-<workspace>_<guid>)",
        "ARM answered 409 AnotherOperationInProgress: Another operation is in progress on the resource 'ddb1'.",
        "https://guard.contoso.com/api/approvals/rem-1?decision=approve",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text
