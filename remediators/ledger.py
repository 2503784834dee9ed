"""The ledger: one record per remediation, its state machine, and the primitives that make the
service idempotent, all on Azure Table Storage (Azurite locally).

Event Grid delivers at least once, out of order, for up to 24 hours, and several workers may run
at once. Three table primitives keep that safe, each a conditional write the service itself
arbitrates (409 on a duplicate insert, 412 on a stale ETag):

* **seen events**: a delivery is marked seen once its message is queued; a later delivery finds
  the mark and stops. Marks are partitioned by UTC day and looked up in today's and yesterday's
  partitions, since Event Grid redelivers for at most 24 hours; the sweep deletes older days;
* **resource leases**: one worker at a time per resource; a lease expires, so a crashed worker
  never blocks a resource for good;
* **remediation records**: every state change is an ETag-guarded update, so two writers cannot
  both move a remediation (two approvals of one proposal apply it once).

Listing newest first, by status or not, reads an **index** table instead of scanning the records:
a row per record in partition ``all`` and one in ``status-<status>``, each keyed by the inverted
creation time and holding a copy of the record, so a page is one ordered query of ``top`` rows,
whatever the table's size. The record is the truth and is written first; its index rows follow.
A copy can only be stale while its record is *open* (proposed, approved, applying, applied:
terminal records never change again), so a page re-reads the open ones and repairs their rows;
a crash between the two writes leaves at worst a row that a reader repairs or skips.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import datetime
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    DETECTED = "detected"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLYING = "applying"
    APPLIED = "applied"  # ARM accepted the fix; a long-running one is still being checked
    VERIFIED = "verified"
    FAILED = "failed"
    REVERTED = "reverted"  # accepted by ARM but did not stick
    QUARANTINED = "quarantined"  # fixed too often: something keeps undoing it; a person must look
    SUPPRESSED = "suppressed"  # observed only, by configuration


# Which state may follow which. Terminal states have no successors.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DETECTED: frozenset(
        {Status.PROPOSED, Status.APPLYING, Status.QUARANTINED, Status.SUPPRESSED, Status.FAILED, Status.VERIFIED}
    ),
    Status.PROPOSED: frozenset({Status.APPROVED, Status.REJECTED, Status.VERIFIED}),
    Status.APPROVED: frozenset({Status.APPLYING, Status.FAILED}),
    Status.APPLYING: frozenset({Status.APPLIED, Status.VERIFIED, Status.REVERTED, Status.FAILED}),
    Status.APPLIED: frozenset({Status.VERIFIED, Status.REVERTED, Status.FAILED}),
    Status.REJECTED: frozenset(),
    Status.VERIFIED: frozenset(),
    Status.FAILED: frozenset(),
    Status.REVERTED: frozenset(),
    Status.QUARANTINED: frozenset(),
    Status.SUPPRESSED: frozenset(),
}


# Statuses a record can still leave; every other status is terminal (no successor in TRANSITIONS).
OPEN = frozenset(status for status, successors in TRANSITIONS.items() if successors)


class IllegalTransition(ValueError):
    """A state change the machine does not allow (e.g. approving what was already rejected)."""


class Conflict(RuntimeError):
    """Someone else changed the record first (412): re-read and decide again."""


@dataclass(frozen=True)
class Remediation:
    id: str
    resource_id: str
    status: Status
    kinds: tuple[str, ...]
    trigger: dict[str, Any]  # source, event id and type, operation, who made the change
    plan: dict[str, Any] | None  # the PATCH body applied or proposed
    reason: str
    created_at: str
    updated_at: str
    history: tuple[dict[str, Any], ...] = ()  # [{"status", "at", "by", "note"}]
    approver: str | None = None  # the person who approved or rejected it, by name
    approver_object_id: str | None = None  # their Entra ID object id
    approver_role: str | None = None  # the app role they decided with
    error: dict[str, Any] | None = None
    continuation_token: str | None = None
    etag: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resourceId": self.resource_id,
            "status": str(self.status),
            "kinds": list(self.kinds),
            "trigger": self.trigger,
            "plan": self.plan,
            "reason": self.reason,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "history": list(self.history),
            "approver": self.approver,
            "approverObjectId": self.approver_object_id,
            "approverRole": self.approver_role,
            "error": self.error,
        }


@dataclass(frozen=True)
class Page:
    """One page of a listing, newest first; ``continuation`` fetches the next (``None``: the last)."""

    records: tuple[Remediation, ...]
    continuation: str | None


class InvalidContinuation(ValueError):
    """A continuation token this ledger did not hand out."""


class Ledger:
    """The service's state in four tables of one storage account."""

    REMEDIATIONS = "remediations"
    INDEX = "remediationindex"
    EVENTS = "seenevents"
    LEASES = "leases"

    def __init__(self, service: Any, *, prefix: str = "", clock: Callable[[], float] = time.time) -> None:
        self._service = service  # an azure.data.tables.TableServiceClient
        self._clock = clock  # seconds since the epoch: lease expiry and every timestamp
        self._remediations = service.create_table_if_not_exists(prefix + self.REMEDIATIONS)
        self._index = service.create_table_if_not_exists(prefix + self.INDEX)
        self._events = service.create_table_if_not_exists(prefix + self.EVENTS)
        self._leases = service.create_table_if_not_exists(prefix + self.LEASES)

    def now(self, offset_seconds: float = 0.0) -> str:
        """The ledger's time as its timestamps write it (ISO 8601 UTC, milliseconds; sorts as text)."""
        return _iso(self._clock() + offset_seconds)

    @classmethod
    def from_connection_string(
        cls, connection_string: str, *, prefix: str = "", clock: Callable[[], float] = time.time
    ) -> Ledger:
        from azure.data.tables import TableServiceClient

        return cls(TableServiceClient.from_connection_string(connection_string), prefix=prefix, clock=clock)

    # -- seen events ----------------------------------------------------------------------------
    # Event Grid retries a delivery for up to 24 hours (Microsoft's "Event Grid message delivery and
    # retry"): a mark is looked up in today's and yesterday's partitions (UTC days), and partitions
    # older than SEEN_DAYS_KEPT days are deleted by the sweep, so the table holds about three days.

    SEEN_DAYS_KEPT = 2

    def seen(self, event_key: str) -> bool:
        """Whether a delivery of ``event_key`` was marked seen today or yesterday (UTC)."""
        from azure.core.exceptions import ResourceNotFoundError

        _, row = _hashed(event_key)
        for day in (self._day(0), self._day(-1)):
            try:
                self._events.get_entity(day, row, select=["RowKey"])
            except ResourceNotFoundError:
                continue
            return True
        return False

    def mark_seen(self, event_key: str) -> bool:
        """Mark ``event_key`` seen today; False when it already was (a racing delivery marked it)."""
        from azure.core.exceptions import ResourceExistsError

        _, row = _hashed(event_key)
        try:
            self._events.create_entity({"PartitionKey": self._day(0), "RowKey": row, "Key": event_key[:1024]})
        except ResourceExistsError:
            return False
        return True

    def first_delivery(self, event_key: str) -> bool:
        """True the first time ``event_key`` is seen (and marks it); False for every later delivery."""
        return not self.seen(event_key) and self.mark_seen(event_key)

    def expire_seen(self, *, page_size: int = 1000) -> int:
        """Delete the seen-event marks of days older than :attr:`SEEN_DAYS_KEPT`, a page at a time
        (a batch of up to 100 deletions per partition, the most one Table transaction holds); how many."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import TableTransactionError

        cutoff = self._day(-self.SEEN_DAYS_KEPT)
        pages = self._events.query_entities(
            "PartitionKey lt @cutoff",
            parameters={"cutoff": cutoff},
            select=["PartitionKey", "RowKey"],
            results_per_page=page_size,
        ).by_page()
        deleted = 0
        for page in pages:
            by_day: dict[str, builtins.list[str]] = {}
            for row in page:
                by_day.setdefault(row["PartitionKey"], []).append(row["RowKey"])
            for day, rows in by_day.items():
                for start in range(0, len(rows), 100):
                    batch = [("delete", {"PartitionKey": day, "RowKey": key}) for key in rows[start : start + 100]]
                    try:
                        self._events.submit_transaction(batch)
                    except TableTransactionError:  # another sweep deleted some first: one by one
                        for _, entity in batch:
                            with contextlib.suppress(ResourceNotFoundError):
                                self._events.delete_entity(entity["PartitionKey"], entity["RowKey"])
                    deleted += len(batch)
        return deleted

    def _day(self, offset_days: int) -> str:
        moment = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC) + datetime.timedelta(days=offset_days)
        return moment.strftime("%Y%m%d")

    # -- leases ---------------------------------------------------------------------------------

    def acquire(self, resource_id: str, holder: str, *, seconds: float = 120.0) -> bool:
        """Take the resource's lease for ``seconds``; False when another live holder has it."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        partition, row = _hashed(resource_id)
        lease = {"PartitionKey": partition, "RowKey": row, "Holder": holder, "Expires": self._clock() + seconds}
        try:
            self._leases.create_entity(lease)
            return True
        except ResourceExistsError:
            pass
        try:
            current = self._leases.get_entity(partition, row)
        except ResourceNotFoundError:
            return self.acquire(resource_id, holder, seconds=seconds)  # released in between: try again
        if current["Holder"] != holder and float(current["Expires"]) > self._clock():
            return False
        return self._replace_lease(lease, current)  # expired (or ours): take it over, unless someone else does first

    def renew(self, resource_id: str, holder: str, *, seconds: float) -> bool:
        """Extend ``holder``'s lease by ``seconds`` from now, if it still holds it; False when it has
        lost it (expired and taken by another). A worker renews right before it writes to Azure, and
        does not write when this is False: the fence between two workers on one resource."""
        from azure.core.exceptions import ResourceNotFoundError

        partition, row = _hashed(resource_id)
        try:
            current = self._leases.get_entity(partition, row)
        except ResourceNotFoundError:
            return False
        if current["Holder"] != holder:
            return False
        lease = {"PartitionKey": partition, "RowKey": row, "Holder": holder, "Expires": self._clock() + seconds}
        return self._replace_lease(lease, current)

    def _replace_lease(self, lease: dict[str, Any], current: Any) -> bool:
        """Write ``lease`` over the row as read (``current``); False when another writer changed it first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError
        from azure.data.tables import UpdateMode

        try:
            self._leases.update_entity(
                lease,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError as error:
            if error.status_code in (404, 412):
                return False
            raise
        return True

    def lease_left(self, resource_id: str) -> float:
        """Seconds until the resource's current lease expires (0 when none is held)."""
        from azure.core.exceptions import ResourceNotFoundError

        partition, row = _hashed(resource_id)
        try:
            current = self._leases.get_entity(partition, row)
        except ResourceNotFoundError:
            return 0.0
        return max(0.0, float(current["Expires"]) - self._clock())

    def release(self, resource_id: str, holder: str) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        partition, row = _hashed(resource_id)
        try:
            current = self._leases.get_entity(partition, row)
        except ResourceNotFoundError:
            return
        if current["Holder"] != holder:
            return
        try:
            self._leases.delete_entity(
                partition, row, etag=current.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )
        except HttpResponseError as error:
            if error.status_code not in (404, 412):
                raise

    # -- remediations -----------------------------------------------------------------------------

    def create(
        self,
        resource_id: str,
        status: Status,
        *,
        kinds: Iterable[str],
        trigger: dict[str, Any],
        plan: dict[str, Any] | None,
        reason: str,
        by: str,
        continuation_token: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> Remediation:
        now = self.now()
        remediation = Remediation(
            id=_new_id(_hashed(resource_id)[0], self._clock()),
            resource_id=resource_id,
            status=status,
            kinds=tuple(kinds),
            trigger=trigger,
            plan=plan,
            reason=reason,
            created_at=now,
            updated_at=now,
            history=({"status": str(status), "at": now, "by": by, "note": reason},),
            continuation_token=continuation_token,
            error=error,
        )
        metadata = self._remediations.create_entity(_entity(remediation))
        self._file(remediation)
        return replace(remediation, etag=metadata.get("etag"))

    def _file(self, remediation: Remediation, *, previous: Status | None = None) -> None:
        """Index rows for ``remediation`` as it now is (under ``all`` and its status), and none under
        ``previous``. Written after the record, so a row never shows what was not recorded."""
        self._index.upsert_entity(_index_row(_ALL, remediation))
        self._index.upsert_entity(_index_row(_status_partition(remediation.status), remediation))
        if previous is not None and previous is not remediation.status:
            self._forget_index_row(_status_partition(previous), remediation)

    def get(self, remediation_id: str) -> Remediation | None:
        """The remediation with this id; ``None`` for an unknown or malformed id."""
        from azure.core.exceptions import ResourceNotFoundError

        partition = remediation_id.split("-", 1)[0]
        if len(partition) != 2 or not all(c in "0123456789abcdef" for c in partition):
            return None
        try:
            return _record(self._remediations.get_entity(partition, remediation_id))
        except (ResourceNotFoundError, ValueError):
            return None

    def for_resource(self, resource_id: str) -> list[Remediation]:
        """Every remediation of a resource, newest first (one query)."""
        # A partition holds many resources (its key is a hash prefix): filter on the resource too.
        partition, _ = _hashed(resource_id)
        query = "PartitionKey eq @p and ResourceKey eq @k"
        rows = self._remediations.query_entities(query, parameters={"p": partition, "k": _resource_key(resource_id)})
        return sorted((_record(row) for row in rows), key=lambda r: r.created_at, reverse=True)

    def page(self, *, status: Status | None = None, top: int = 50, continuation: str | None = None) -> Page:
        """One page of remediations, newest first, of one status or all: one ordered query of the
        index (and a point read per *open* record, whose copy may be stale), so its cost does not
        grow with the table."""
        if not 1 <= top <= 1000:
            raise ValueError("top must be between 1 and 1000")
        partition = _ALL if status is None else _status_partition(status)
        after = _continuation_row(continuation, partition) if continuation else ""
        rows = self._index.query_entities(
            "PartitionKey eq @p and RowKey gt @after", parameters={"p": partition, "after": after}, results_per_page=top
        )
        copies: builtins.list[tuple[str, Remediation]] = []
        for row in rows:
            copies.append((row["RowKey"], _copy(row)))
            if len(copies) == top:
                break
        records = [self._current(copy) for _, copy in copies]
        wanted = [r for r in records if r is not None and (status is None or r.status is status)]
        last = copies[-1][0] if len(copies) == top else None
        return Page(tuple(wanted), _continuation(partition, last) if last else None)

    def _current(self, copy: Remediation) -> Remediation | None:
        """The record an index row's copy stands for: the copy itself once terminal (a terminal
        record never changes), else the record re-read, its rows repaired if they fell behind."""
        if copy.status not in OPEN:
            return copy
        record = self.get(copy.id)
        if record is None:  # written before its record, by an older version: nothing to show
            self._forget_index_row(_ALL, copy)
            self._forget_index_row(_status_partition(copy.status), copy)
            return None
        if record.status is not copy.status or record.updated_at != copy.updated_at:
            self._file(record, previous=copy.status)  # a crash fell between the record and its rows
        return record

    def every(self, status: Status, *, page_size: int = 200) -> Iterator[Remediation]:
        """Every remediation in ``status``, newest first, page by page (what the sweep settles)."""
        continuation: str | None = None
        while True:
            page = self.page(status=status, top=page_size, continuation=continuation)
            yield from page.records
            if page.continuation is None:
                return
            continuation = page.continuation

    def list(
        self, *, status: Status | None = None, resource_id: str | None = None, limit: int = 100
    ) -> list[Remediation]:
        """Up to ``limit`` remediations, newest first: of one resource (one query), or from the index."""
        if resource_id is not None:
            records = self.for_resource(resource_id)
            if status is not None:
                records = [r for r in records if r.status is status]
            return records[:limit]
        found: builtins.list[Remediation] = []
        continuation: str | None = None
        while len(found) < limit:
            page = self.page(status=status, top=min(1000, limit - len(found)), continuation=continuation)
            found += page.records
            if page.continuation is None:
                break
            continuation = page.continuation
        return found[:limit]

    def move(
        self,
        remediation: Remediation,
        status: Status,
        *,
        by: str,
        note: str = "",
        **changes: Any,
    ) -> Remediation:
        """Move to ``status`` if the machine allows it and nobody moved it first (ETag)."""
        if status not in TRANSITIONS[remediation.status]:
            raise IllegalTransition(f"a remediation that is {remediation.status} cannot become {status}")
        return self._rewrite(remediation, status=status, by=by, note=note, noted=True, **changes)

    def update(self, remediation: Remediation, *, by: str, note: str = "", **changes: Any) -> Remediation:
        """Change a record's fields without changing its status (a long-running fix's new
        continuation token); ETag-guarded like :meth:`move`. A ``note`` goes into the history."""
        return self._rewrite(remediation, status=remediation.status, by=by, note=note, noted=bool(note), **changes)

    def _rewrite(
        self, remediation: Remediation, *, status: Status, by: str, note: str, noted: bool, **changes: Any
    ) -> Remediation:
        """Replace the record if nobody changed it since it was read (412: :class:`Conflict`), then file it."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError
        from azure.data.tables import UpdateMode

        now = self.now()
        entry = {"status": str(status), "at": now, "by": by, "note": note}
        history = (*remediation.history, entry) if noted else remediation.history
        rewritten = replace(remediation, status=status, updated_at=now, history=history, **changes)
        try:
            metadata = self._remediations.update_entity(
                _entity(rewritten),
                mode=UpdateMode.REPLACE,
                etag=remediation.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError as error:
            if error.status_code == 412:
                raise Conflict(f"remediation {remediation.id} changed since it was read") from error
            raise
        rewritten = replace(rewritten, etag=metadata.get("etag"))
        self._file(rewritten, previous=remediation.status)
        return rewritten

    def _forget_index_row(self, partition: str, remediation: Remediation) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):  # a reader skips a stale row anyway
            self._index.delete_entity(partition, _index_key(remediation))


def _resource_key(resource_id: str) -> str:
    return resource_id.casefold().rstrip("/")


def _hashed(key: str) -> tuple[str, str]:
    """Table keys for an id that may hold characters keys may not (``/``, ``#``, ``?``), case-folded."""
    digest = hashlib.sha256(key.casefold().rstrip("/").encode("utf-8")).hexdigest()
    return digest[:2], digest


def _new_id(partition: str, now: float) -> str:
    """The partition (so a lookup by id is a point read), then creation time, then randomness."""
    return f"{partition}-{int(now * 1e9):x}-{secrets.token_hex(4)}"


def utc_now(offset_seconds: float = 0.0) -> str:
    """The wall clock as the ledger's timestamps write it: ISO 8601 UTC to the millisecond, so they
    sort as text. A :class:`Ledger` uses its own (injectable) clock: :meth:`Ledger.now`."""
    return _iso(time.time() + offset_seconds)


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_ALL = "all"
_NEVER = 10**15  # milliseconds since the epoch, far past any creation time: inverted keys sort newest first


def _status_partition(status: Status) -> str:
    return f"status-{status}"


def _index_key(remediation: Remediation) -> str:
    created = datetime.datetime.fromisoformat(remediation.created_at.replace("Z", "+00:00"))
    return f"{_NEVER - int(created.timestamp() * 1000):015d}-{remediation.id}"


def _index_row(partition: str, remediation: Remediation) -> dict[str, Any]:
    """An index row: the record's own columns, a copy as of now, keyed for newest-first order."""
    return {**_entity(remediation), "PartitionKey": partition, "RowKey": _index_key(remediation), "Id": remediation.id}


def _copy(row: Any) -> Remediation:
    """The record an index row holds a copy of; without an ETag (only the record's own may guard a write)."""
    return replace(_record({**row, "RowKey": row["Id"]}), etag=None)


def _continuation(partition: str, row_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([partition, row_key]).encode()).decode().rstrip("=")


def _continuation_row(token: str, partition: str) -> str:
    """The index row a continuation token resumes after, if it is one of this listing's."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        named, row_key = json.loads(text)
    except (ValueError, UnicodeDecodeError, TypeError, binascii.Error):
        raise InvalidContinuation("not a continuation token of this listing") from None
    if named != partition or not isinstance(row_key, str) or len(row_key) > 200:
        raise InvalidContinuation("the continuation token belongs to another listing")
    return row_key


def _entity(remediation: Remediation) -> dict[str, Any]:
    partition, _ = _hashed(remediation.resource_id)
    return {
        "PartitionKey": partition,
        "RowKey": remediation.id,
        "ResourceId": remediation.resource_id,
        "ResourceKey": _resource_key(remediation.resource_id),
        "Status": str(remediation.status),
        "Kinds": json.dumps(list(remediation.kinds)),
        "Trigger": json.dumps(remediation.trigger, separators=(",", ":")),
        "Plan": json.dumps(remediation.plan, separators=(",", ":")),
        "Reason": remediation.reason[:4000],
        "CreatedAt": remediation.created_at,
        "UpdatedAt": remediation.updated_at,
        "History": json.dumps(list(remediation.history), separators=(",", ":")),
        "Approver": remediation.approver or "",
        "ApproverObjectId": remediation.approver_object_id or "",
        "ApproverRole": remediation.approver_role or "",
        "Error": json.dumps(remediation.error, separators=(",", ":")),
        "ContinuationToken": remediation.continuation_token or "",
    }


def _record(row: Any) -> Remediation:
    return Remediation(
        id=row["RowKey"],
        resource_id=row["ResourceId"],
        status=Status(row["Status"]),
        kinds=tuple(json.loads(row["Kinds"])),
        trigger=json.loads(row["Trigger"]),
        plan=json.loads(row["Plan"]),
        reason=row["Reason"],
        created_at=row["CreatedAt"],
        updated_at=row["UpdatedAt"],
        history=tuple(json.loads(row["History"])),
        approver=row.get("Approver") or None,
        # Rows written before approvers were identified by object id and role have neither column.
        approver_object_id=row.get("ApproverObjectId") or None,
        approver_role=row.get("ApproverRole") or None,
        error=json.loads(row["Error"]),
        continuation_token=row.get("ContinuationToken") or None,
        etag=getattr(row, "metadata", {}).get("etag"),
    )
