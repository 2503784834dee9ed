"""Seen-event marks on a real Azurite: partitioned per UTC day, looked up for as long as Event Grid
redelivers (24 hours), and deleted by the sweep after that. The clock is injected: no test here
reads the wall clock."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterator

import pytest

from emulator import azurite
from remediators.ledger import Ledger

MIDNIGHT = datetime.datetime(2026, 3, 14, tzinfo=datetime.UTC).timestamp()
HOUR, DAY = 3600.0, 86400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(MIDNIGHT + 23 * HOUR)  # late in the day: a redelivery lands tomorrow


@pytest.fixture
def ledger(storage: azurite.Azurite, clock: Clock) -> Ledger:
    return Ledger.from_connection_string(storage.connection_string, prefix=f"s{secrets.token_hex(4)}", clock=clock)


def test_a_mark_is_seen_for_as_long_as_event_grid_redelivers(ledger: Ledger, clock: Clock) -> None:
    assert not ledger.seen("eventgrid|e1|/x")
    assert ledger.mark_seen("eventgrid|e1|/x")
    assert not ledger.mark_seen("eventgrid|e1|/x")  # a racing delivery marked it first
    clock.now += 24 * HOUR  # Event Grid's last retry, in the next UTC day
    assert ledger.seen("eventgrid|e1|/x")
    clock.now += 2 * HOUR  # two UTC days later: no delivery of it can come any more
    assert not ledger.seen("eventgrid|e1|/x")


def test_first_delivery_is_true_once(ledger: Ledger) -> None:
    assert ledger.first_delivery("alert|a1|/y")
    assert not ledger.first_delivery("alert|a1|/y")


def test_the_sweep_deletes_days_older_than_two_in_pages_and_keeps_the_rest(ledger: Ledger, clock: Clock) -> None:
    """Before: a mark was kept for ever (a row per delivery, never deleted)."""
    old = [f"eventgrid|old-{n}|/x" for n in range(230)]
    for key in old:
        ledger.mark_seen(key)
    clock.now += 2 * DAY
    recent = [f"eventgrid|recent-{n}|/x" for n in range(5)]
    for key in recent:
        ledger.mark_seen(key)
    assert ledger.expire_seen(page_size=100) == 0  # two days old: still kept
    clock.now += DAY
    assert ledger.expire_seen(page_size=100) == len(old)  # three pages, batches of up to 100
    assert ledger.expire_seen(page_size=100) == 0
    clock.now -= 3 * DAY  # back on the first day: its marks are gone, the later ones are not
    assert not any(ledger.seen(key) for key in old)
    clock.now += 3 * DAY
    assert all(ledger.seen(key) for key in recent)
