"""The ledger: one record per remediation, its state machine, and the primitives that make the
service idempotent, all on Azure Table Storage (Azurite locally).

Event Grid delivers at least once, out of order, for up to 24 hours, and several workers may run
at once. Three table primitives keep that safe, each a conditional write the service itself
arbitrates (409 on a duplicate insert, 412 on a stale ETag):

* **seen events**: an event id is inserted once; a second delivery finds it and stops;
* **resource leases**: one worker at a time per resource; a lease expires, so a crashed worker
  never blocks a resource for good;
* **remediation records**: every state change is an ETag-guarded update, so two writers cannot
  both move a remediation (two approvals of one proposal apply it once).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
import time
from collections.abc import Iterable
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


class Ledger:
    """The service's state in three tables of one storage account."""

    REMEDIATIONS = "remediations"
    EVENTS = "seenevents"
    LEASES = "leases"

    def __init__(self, service: Any, *, prefix: str = "") -> None:
        self._service = service  # an azure.data.tables.TableServiceClient
        self._remediations = service.create_table_if_not_exists(prefix + self.REMEDIATIONS)
        self._events = service.create_table_if_not_exists(prefix + self.EVENTS)
        self._leases = service.create_table_if_not_exists(prefix + self.LEASES)

    @classmethod
    def from_connection_string(cls, connection_string: str, *, prefix: str = "") -> Ledger:
        from azure.data.tables import TableServiceClient

        return cls(TableServiceClient.from_connection_string(connection_string), prefix=prefix)

    # -- seen events ----------------------------------------------------------------------------

    def first_delivery(self, event_key: str) -> bool:
        """True the first time ``event_key`` is seen; False for every later delivery of it."""
        from azure.core.exceptions import ResourceExistsError

        partition, row = _hashed(event_key)
        try:
            self._events.create_entity({"PartitionKey": partition, "RowKey": row, "Key": event_key[:1024]})
        except ResourceExistsError:
            return False
        return True

    # -- leases ---------------------------------------------------------------------------------

    def acquire(self, resource_id: str, holder: str, *, seconds: float = 120.0) -> bool:
        """Take the resource's lease for ``seconds``; False when another live holder has it."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        partition, row = _hashed(resource_id)
        lease = {"PartitionKey": partition, "RowKey": row, "Holder": holder, "Expires": time.time() + seconds}
        try:
            self._leases.create_entity(lease)
            return True
        except ResourceExistsError:
            pass
        try:
            current = self._leases.get_entity(partition, row)
        except ResourceNotFoundError:
            return self.acquire(resource_id, holder, seconds=seconds)  # released in between: try again
        if current["Holder"] != holder and float(current["Expires"]) > time.time():
            return False
        try:  # expired (or ours): take it over, unless someone else does first
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
        now = utc_now()
        remediation = Remediation(
            id=_new_id(_hashed(resource_id)[0]),
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
        return replace(remediation, etag=metadata.get("etag"))

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

    def list(
        self, *, status: Status | None = None, resource_id: str | None = None, limit: int = 100
    ) -> list[Remediation]:
        if resource_id is not None:
            records = self.for_resource(resource_id)
        else:
            records = sorted(
                (_record(row) for row in self._remediations.list_entities()), key=lambda r: r.created_at, reverse=True
            )
        if status is not None:
            records = [r for r in records if r.status is status]
        return records[:limit]

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
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError
        from azure.data.tables import UpdateMode

        if status not in TRANSITIONS[remediation.status]:
            raise IllegalTransition(f"a remediation that is {remediation.status} cannot become {status}")
        now = utc_now()
        moved = replace(
            remediation,
            status=status,
            updated_at=now,
            history=(*remediation.history, {"status": str(status), "at": now, "by": by, "note": note}),
            **changes,
        )
        try:
            metadata = self._remediations.update_entity(
                _entity(moved),
                mode=UpdateMode.REPLACE,
                etag=remediation.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError as error:
            if error.status_code == 412:
                raise Conflict(f"remediation {remediation.id} changed since it was read") from error
            raise
        return replace(moved, etag=metadata.get("etag"))


def _resource_key(resource_id: str) -> str:
    return resource_id.casefold().rstrip("/")


def _hashed(key: str) -> tuple[str, str]:
    """Table keys for an id that may hold characters keys may not (``/``, ``#``, ``?``), case-folded."""
    digest = hashlib.sha256(key.casefold().rstrip("/").encode("utf-8")).hexdigest()
    return digest[:2], digest


def _new_id(partition: str) -> str:
    """The partition (so a lookup by id is a point read), then creation time, then randomness."""
    return f"{partition}-{time.time_ns():x}-{secrets.token_hex(4)}"


def utc_now(offset_seconds: float = 0.0) -> str:
    """The ledger's timestamps: ISO 8601 UTC to the millisecond, so they sort as text."""
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        etag=row.metadata.get("etag"),
    )
