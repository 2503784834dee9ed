"""The twin's notion of now: the real clock by default, or one a test sets and advances.

Everything in the twin that asks "what time is it" asks this clock: ``ago()`` in KQL, a seeded
row's relative ``TimeGenerated``, a query's ``timespan``, when a long-running update settles, when
a policy exemption expires, the time stamped on events, operations and recorded requests. So a test
can freeze time, seed rows "4 minutes ago", and advance exactly 30 seconds, and never race the
machine's clock however slowly the suite runs::

    with Twin.start(clock=TwinClock(frozen_at=NOW)) as twin:
        twin.clock.advance(31)        # a 31 s Cosmos DB update has now settled

What stays on the real clock: bearer tokens (their ``exp`` is checked against the time the real
clients use), latency faults (they hold a real socket open), and the product's own time budget.
"""

from __future__ import annotations

import datetime
import threading


class TwinClock:
    """A clock that follows the real one, shifted by what was advanced, or stands still when frozen.

    ``frozen_at``: start frozen at that moment (naive datetimes are taken as UTC). Frozen, ``now()``
    moves only by :meth:`advance` and :meth:`set`; following the real clock, :meth:`advance` shifts
    it by a fixed offset.
    """

    def __init__(self, frozen_at: datetime.datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen_at = _aware(frozen_at) if frozen_at is not None else None
        self._offset = datetime.timedelta()

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen_at is not None

    def now(self) -> datetime.datetime:
        """The twin's current time, timezone-aware UTC."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else datetime.datetime.now(datetime.UTC)
            return base + self._offset

    def advance(self, seconds: float) -> datetime.datetime:
        """Move the clock forward (or back, with a negative number); returns the new now."""
        with self._lock:
            self._offset += datetime.timedelta(seconds=seconds)
        return self.now()

    def set(self, moment: datetime.datetime) -> None:
        """Freeze the clock at ``moment``."""
        with self._lock:
            self._frozen_at = _aware(moment)
            self._offset = datetime.timedelta()

    def freeze(self) -> datetime.datetime:
        """Stop following the real clock at the current now; returns it."""
        moment = self.now()
        self.set(moment)
        return moment

    def follow_real_time(self) -> None:
        """Follow the real clock again, with no offset."""
        with self._lock:
            self._frozen_at = None
            self._offset = datetime.timedelta()

    def to_json(self) -> dict[str, object]:
        return {"now": iso(self.now()), "frozen": self.frozen}


def iso(moment: datetime.datetime) -> str:
    """ARM's timestamp form: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
