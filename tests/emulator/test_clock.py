"""The twin's clock: real by default, frozen and advanced by a test; what follows it."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from emulator import Twin, TwinClock
from emulator.config import ConfigError, LroSettings

from .seeds import COSMOS, GROUP_ID, SUBSCRIPTION

NOW = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
ASSIGNMENT = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/cosmos-local-auth"


def test_a_frozen_clock_moves_only_when_told() -> None:
    clock = TwinClock(frozen_at=NOW.replace(tzinfo=None))  # naive means UTC
    assert clock.now() == NOW and clock.frozen
    assert clock.advance(31) == NOW + datetime.timedelta(seconds=31)
    assert clock.now() == NOW + datetime.timedelta(seconds=31)
    clock.set(NOW)
    assert clock.now() == NOW
    clock.follow_real_time()
    assert not clock.frozen


def test_the_default_clock_is_the_real_one_shifted_by_what_was_advanced() -> None:
    clock = TwinClock()
    before = datetime.datetime.now(datetime.UTC)
    clock.advance(3600)
    assert clock.now() >= before + datetime.timedelta(seconds=3600)  # a lower bound: never timing-sensitive
    frozen = clock.freeze()
    assert clock.now() == frozen


def test_the_clock_over_the_admin_route(seed_dir: Path) -> None:
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as twin:
        assert twin.call("GET", "/_twin/clock", api_version=None).json() == {
            "now": "2026-03-02T09:30:00Z",
            "frozen": True,
        }
        advanced = twin.call("POST", "/_twin/clock", {"advance": 90}, api_version=None)
        assert advanced.json()["now"] == "2026-03-02T09:31:30Z"
        assert twin.call("POST", "/_twin/clock", {"set": "2026-03-03T00:00:00Z"}, api_version=None).status == 200
        assert twin.clock.now() == datetime.datetime(2026, 3, 3, tzinfo=datetime.UTC)
        assert twin.call("POST", "/_twin/clock", {"freeze": False}, api_version=None).json()["frozen"] is False
        for wrong in ({"advance": "soon"}, {"set": "tomorrow"}, {"freeze": 1}, {"advance": 1, "set": "x"}, []):
            assert twin.call("POST", "/_twin/clock", wrong, api_version=None).status == 400, wrong


def test_long_running_operations_and_events_are_stamped_by_the_twins_clock(seed_dir: Path) -> None:
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as twin:
        twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": True}})
        [operation] = twin.call("GET", "/_twin/operations", api_version=None).json()
        assert operation["started"] == operation["settlesAt"] == "2026-03-02T09:30:00Z"
        twin.clock.advance(5)
        twin.finish_operations()
        [event] = twin.wait_for_events(1)
        assert event["eventTime"].startswith("2026-03-02T09:30:05")


def test_a_policy_exemption_expires_on_the_twins_clock(seed_dir: Path) -> None:
    with Twin.start(seed_dir, clock=TwinClock(frozen_at=NOW)) as twin:
        twin.add_fault(
            {
                "kind": "modify",
                "policyAssignmentId": ASSIGNMENT,
                "resourceType": "Microsoft.DocumentDB/databaseAccounts",
                "operations": [{"operation": "addOrReplace", "field": "properties.disableLocalAuth", "value": True}],
            }
        )
        exemption = f"{GROUP_ID}/providers/Microsoft.Authorization/policyExemptions/for-an-hour"
        twin.call(
            "PUT", exemption, {"properties": {"policyAssignmentId": ASSIGNMENT, "expiresOn": "2026-03-02T10:30:00Z"}}
        )
        twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": False}})
        twin.finish_operations()
        assert twin.faults()[0]["fired"] == 0  # exempted
        twin.clock.advance(2 * 3600)
        twin.call("PATCH", COSMOS, {"properties": {"disableLocalAuth": False}})
        twin.finish_operations()
        assert twin.faults()[0]["fired"] == 1  # the exemption has expired


def test_lro_settings_take_settle_seconds_and_an_optional_retry_after(seed_dir: Path) -> None:
    (seed_dir / "_twin.json").write_text(
        json.dumps({"lro": {"cosmosSettleSeconds": 31, "cognitiveSettleSeconds": 37.5, "retryAfter": None}})
    )
    with Twin.start(seed_dir) as twin:
        lro = twin.call("GET", "/_twin/lro", api_version=None).json()
        assert (lro["cosmosSettleSeconds"], lro["cognitiveSettleSeconds"], lro["retryAfter"]) == (31, 37.5, None)
        assert twin.call("PUT", "/_twin/lro", {"retryAfter": 2}, api_version=None).json()["retryAfter"] == 2


@pytest.mark.parametrize(
    "document",
    [
        {"cosmosSettleSeconds": -1},
        {"cognitiveSettleSeconds": "31"},
        {"cosmosSettleSeconds": float("nan")},
        {"cosmosPolls": 1.5},
        {"retryAfter": -1},
        {"cosmosPolls": None},
        {"settleSeconds": 31},
    ],
)
def test_lro_settings_refuse_what_they_cannot_use_and_change_nothing(document: dict[str, object]) -> None:
    settings = LroSettings()
    with pytest.raises(ConfigError):
        settings.update({"cognitivePolls": 5, **document})
    assert settings == LroSettings()  # all or nothing
