"""Sinks that record what the product sends: an Event Grid topic and incoming webhooks (Teams)."""

from __future__ import annotations

from emulator import Twin

EVENT_GRID_EVENT = {
    "id": "1",
    "subject": "/remediations/1",
    "eventType": "FoundryGuard.RemediationApplied",
    "eventTime": "2026-01-01T00:00:00Z",
    "data": {"kind": "local_auth_disabled"},
    "dataVersion": "1",
}
CLOUD_EVENT = {"id": "2", "source": "/foundry-guard", "type": "FoundryGuard.RemediationProposed", "specversion": "1.0"}


def test_event_grid_topic_accepts_both_schemas_and_records_them(twin: Twin) -> None:
    path = twin.topic_endpoint("guard-outcomes").removeprefix(twin.arm)
    sent = twin.call("POST", path, [EVENT_GRID_EVENT], api_version="2018-01-01", headers={"aeg-sas-key": "secret"})
    assert (sent.status, sent.body) == (200, b"")
    batch = twin.call(
        "POST",
        path,
        [CLOUD_EVENT, {**CLOUD_EVENT, "id": "3"}],
        api_version="2018-01-01",
        headers={"Content-Type": "application/cloudevents-batch+json; charset=utf-8"},
    )
    assert batch.status == 200
    single = twin.call(
        "POST", path, {**CLOUD_EVENT, "id": "4"}, headers={"Content-Type": "application/cloudevents+json"}
    )
    assert single.status == 200
    received = twin.topic("guard-outcomes")
    assert [(entry["schema"], entry["event"]["id"]) for entry in received] == [
        ("eventgrid", "1"),
        ("cloudevents", "2"),
        ("cloudevents", "3"),
        ("cloudevents", "4"),
    ]
    assert twin.call("GET", "/_twin/topics/guard-outcomes", api_version=None).json() == received
    assert "aeg-sas-key" not in twin.requests("POST")[0].headers


def test_event_grid_topic_refuses_a_bad_batch_whole(twin: Twin) -> None:
    path = twin.topic_endpoint("guard-outcomes").removeprefix(twin.arm)
    incomplete = {key: value for key, value in EVENT_GRID_EVENT.items() if key != "eventType"}
    refused = twin.call("POST", path, [EVENT_GRID_EVENT, incomplete])
    assert refused.status == 400
    assert "index 1" in refused.json()["error"]["message"] and "'eventType'" in refused.json()["error"]["message"]
    assert twin.call("POST", path, {"not": "an array"}).status == 400
    assert twin.topic("guard-outcomes") == []


def test_webhook_sink_answers_like_teams_and_records_the_card(twin: Twin) -> None:
    card = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive"}]}
    answer = twin.call("POST", "/_twin/sinks/teams", card, api_version=None)
    assert (answer.status, answer.body) == (200, b"1")
    (entry,) = twin.sink("teams")
    assert entry["json"] == card
    assert twin.call("GET", "/_twin/sinks/teams", api_version=None).json() == [entry]
    assert twin.call("DELETE", "/_twin/sinks/teams", api_version=None).status == 204
    assert twin.sink("teams") == []


def test_faults_reach_sinks_too(twin: Twin) -> None:
    twin.add_fault({"kind": "error", "status": 502, "resourceId": "/_twin/sinks/teams", "times": 1})
    assert twin.call("POST", "/_twin/sinks/teams", {"text": "hi"}, api_version=None).status == 502
    assert twin.call("POST", "/_twin/sinks/teams", {"text": "hi"}, api_version=None).status == 200
    assert len(twin.sink("teams")) == 1
