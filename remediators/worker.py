"""The work behind the triggers: one signal in, at most one remediation out, on the record.

Around the pipeline it adds what makes a service safe to run under at-least-once delivery:

* **loop guard**: a write by Foundry Guard's own identity (its object id in the event's claims) is
  recognised and costs nothing, so a fix never triggers another;
* **one worker per resource**: a lease in the ledger, so two deliveries racing on one resource
  give one PATCH (the loser is told to retry later, by when the resource reads healthy);
* **flap guard**: a resource fixed ``flap_limit`` times within ``flap_window_seconds`` is
  quarantined instead of fixed again (something, most likely a policy, keeps undoing it);
* **one open proposal** per resource and set of kinds, however many events point at it;
* **approvals**: a proposal applies exactly the bytes the person approved, once, however many
  times it is approved (the ledger's ETags); only a signed-in person holding the
  ``Remediation.Approve`` app role decides, and the ledger names them (object id, name, role);
* **write-ahead records**: a fix is recorded ``applying``, with the exact bytes, *before* its
  PATCH; the lease is renewed right before the PATCH and a worker that lost it does not write.
  A record left ``applying`` or ``approved`` by a crash is settled by the next delivery for the
  resource (or the sweep): ``verified`` when the planned change is in place, else the same bytes
  are sent again under the same record;
* **one fix in flight**: a delivery for a resource whose long-running fix is still running
  follows that fix (polls it) instead of PATCHing again;
* **one notice per change**: a read or write that ARM throttled, refused as busy, or left
  unanswered is retried later (``retry``) and is not the resource's failure; a resource left
  broken the same way (observed, proposed, failed with the same error) is not recorded or
  announced again until something changes.

Every outcome that changes something, or needs a person, is recorded; a notice follows it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .ledger import Conflict, Ledger, Remediation, Status
from .logcontext import set_remediation_id
from .pipeline import Outcome, Pipeline, State, Write
from .principal import APPROVE, Principal, require

SOURCE_HTTP = "http"  # a person asked for this remediation (POST /api/remediate)

if TYPE_CHECKING:
    from .signals import Signal

log = logging.getLogger("foundry_guard.worker")

WORKER = "foundry-guard"

# Outcome state -> the ledger status it is recorded as; states absent here leave no record.
RECORDED: dict[State, Status] = {
    State.PROPOSED: Status.PROPOSED,
    State.OBSERVED: Status.SUPPRESSED,
    State.VERIFIED: Status.VERIFIED,
    State.REVERTED: Status.REVERTED,
    State.PENDING: Status.APPLIED,
    State.FAILED: Status.FAILED,
}
FIXED = (Status.VERIFIED, Status.REVERTED, Status.APPLIED)
# A write's outcome -> the status its write-ahead record ends in; a state absent here is transient
# (the record stays ``applying`` and the next delivery or the sweep settles it).
WRITTEN: dict[State, Status] = {
    State.VERIFIED: Status.VERIFIED,
    State.HEALTHY: Status.VERIFIED,  # the planned change is in place: put there by us, or by someone
    State.REVERTED: Status.REVERTED,
    State.PENDING: Status.APPLIED,
    State.FAILED: Status.FAILED,
    State.GONE: Status.FAILED,
    State.OBSERVED: Status.FAILED,  # its group is no longer proven managed
    State.NOT_GUARDED: Status.FAILED,
}
# Records a write is in flight for, or was when its worker stopped.
IN_FLIGHT = (Status.APPROVED, Status.APPLYING)


class Disposition(StrEnum):
    OWN_WRITE = "own-write"  # our own write came back as an event: nothing to do
    BUSY = "busy"  # another worker holds the resource: retry later
    DONE = "done"  # the pipeline ran (see the outcome); recorded when it matters
    QUARANTINED = "quarantined"  # broken again too often: left for a person
    RETRY = "retry"  # ARM throttled, was busy or did not answer: try again later; nothing recorded


@dataclass(frozen=True)
class Processed:
    disposition: Disposition
    outcome: Outcome | None = None
    remediation: Remediation | None = None
    retry_after: float | None = None  # BUSY, RETRY: seconds after which trying again makes sense

    @property
    def pending(self) -> bool:
        """A long-running fix still runs: the caller schedules a follow-up (:meth:`Worker.check_pending`)."""
        return self.remediation is not None and self.remediation.status is Status.APPLIED


Notify = Callable[[Remediation, Outcome | None], None]


class Worker:
    def __init__(
        self,
        pipeline: Pipeline,
        ledger: Ledger,
        *,
        own_object_ids: Collection[str] = (),
        notify: Notify | None = None,
        flap_limit: int = 3,
        flap_window_seconds: float = 3600.0,
        lease_seconds: float | None = None,
        holder: str | None = None,
        refusal_quiet_seconds: float = 6 * 3600.0,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.own_object_ids = frozenset(oid.casefold() for oid in own_object_ids if oid)
        self.notify = notify
        self.flap_limit = flap_limit
        self.flap_window_seconds = flap_window_seconds
        # The lease outlives the worst case of what one delivery can do under it (settling a record
        # left in flight, then its own remediation: each bounded by the ARM budget), so a worker
        # never writes after losing it.
        self.lease_seconds = lease_seconds if lease_seconds is not None else 2 * pipeline.arm.worst_case_seconds + 30
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}"
        self.refusal_quiet_seconds = refusal_quiet_seconds

    def is_own_write(self, signal: Signal) -> bool:
        actor = signal.actor
        return actor is not None and (actor.object_id or "").casefold() in self.own_object_ids

    def process(self, signal: Signal) -> Processed:
        if self.is_own_write(signal):
            log.info("own write on %s ignored", signal.resource_id)
            return Processed(Disposition.OWN_WRITE)
        with self._lease(signal.resource_id) as holder:
            if holder is None:
                return Processed(Disposition.BUSY, retry_after=self.ledger.lease_left(signal.resource_id) + 1)
            return self._process_leased(signal, holder)

    def _process_leased(self, signal: Signal, holder: str) -> Processed:
        history = self.ledger.for_resource(signal.resource_id)
        in_flight = next((r for r in history if r.status in IN_FLIGHT or _pending(r)), None)
        if in_flight is not None:  # finish what was started before starting anything new
            return self._finish(in_flight, holder)
        cutoff = self.ledger.now(offset_seconds=-self.flap_window_seconds)
        recent = [r for r in history if r.created_at >= cutoff]
        fixes = [r for r in recent if r.status in FIXED]
        if len(fixes) >= self.flap_limit:
            return self._quarantine(signal, recent, len(fixes))

        outcome, write = self.pipeline.prepare(signal.resource_id, signal=signal)
        if write is not None and signal.source != SOURCE_HTTP:
            refused = self._refused_recently(history, write)
            if refused is not None:  # the same fix was refused a moment ago: nothing has changed
                return Processed(Disposition.DONE, outcome, refused)
        if write is not None:
            record = self.ledger.create(
                signal.resource_id,
                Status.APPLYING,
                kinds=write.kinds,
                trigger=outcome.to_json().get("trigger", {"source": signal.source}),
                plan=write.body,
                reason="the fix is being applied",
                by=WORKER,
            )
            set_remediation_id(record.id)
            return self._write(record, outcome, write, holder)
        if _transient(outcome):
            return Processed(Disposition.RETRY, outcome, retry_after=_retry_after(outcome))
        status = RECORDED.get(outcome.state)
        if status is None:
            return Processed(Disposition.DONE, outcome)
        kinds = outcome.kinds if status is not Status.PROPOSED else _kinds(outcome.proposed)
        unchanged = _same_as_recorded(history, status, kinds, outcome)
        if unchanged is not None:  # already on the record and announced: nothing has changed
            return Processed(Disposition.DONE, outcome, unchanged)
        remediation = self.ledger.create(
            signal.resource_id,
            status,
            kinds=kinds,
            trigger=outcome.to_json().get("trigger", {"source": signal.source}),
            plan=_proposed_plan(outcome) if status is Status.PROPOSED else outcome.applied,
            reason=outcome.reason,
            by=WORKER,
            continuation_token=outcome.continuation_token,
            error=outcome.to_json().get("error"),
        )
        set_remediation_id(remediation.id)
        log.info("%s %s: %s", remediation.status, ", ".join(remediation.kinds), remediation.reason)
        self._tell(remediation, outcome)
        return Processed(Disposition.DONE, outcome, remediation)

    def approve(self, remediation_id: str, approver: Principal) -> Remediation:
        """Apply a proposal exactly as proposed. Raises ``MissingRole`` unless ``approver`` holds
        ``Remediation.Approve``, ``IllegalTransition`` unless it is proposed, ``Conflict`` when
        another approval moved it first or another worker holds the resource right now."""
        decided = _decided_by(approver)
        remediation = self._get(remediation_id)
        with self._lease(remediation.resource_id) as holder:
            if holder is None:
                raise Conflict(
                    f"another worker is remediating {remediation.resource_id} right now: approve again in "
                    f"{self.ledger.lease_left(remediation.resource_id) + 1:.0f} s"
                )
            approved = self.ledger.move(remediation, Status.APPROVED, by=approver.name, **decided)
            processed = self._finish(approved, holder)
        return processed.remediation or approved

    def settle(self, remediation: Remediation) -> Processed:
        """Finish a record a worker left in flight (``approved``, ``applying``, or ``applied`` while
        its long-running update ran): the sweep's backstop. Busy when another worker holds the resource."""
        with self._lease(remediation.resource_id) as holder:
            if holder is None:
                return Processed(Disposition.BUSY, remediation=remediation)
            current = self.ledger.get(remediation.id) or remediation  # it may have moved meanwhile
            if current.status not in IN_FLIGHT and not _pending(current):
                return Processed(Disposition.DONE, remediation=current)
            return self._finish(current, holder)

    def check_pending(self, remediation: Remediation) -> Remediation:
        """A fix recorded ``applied`` while its long-running update still ran: finished now? Verified?

        Moves it to verified, reverted or failed; leaves it ``applied`` while the update runs on (or
        while another worker holds the resource).
        """
        if not _pending(remediation):
            return remediation
        return self.settle(remediation).remediation or remediation

    def _refused_recently(self, history: list[Remediation], write: Write) -> Remediation | None:
        """The newest record, when it is this very fix refused (``failed``) within
        ``refusal_quiet_seconds``: sending it again would be refused again, recorded and announced
        again. A person asking over HTTP, or the quiet time passing, tries again (an exemption may
        have been made meanwhile)."""
        if not history or history[0].status is not Status.FAILED:
            return None
        latest = history[0]
        if latest.plan != write.body or set(latest.kinds) != set(write.kinds):
            return None
        return latest if latest.updated_at >= self.ledger.now(offset_seconds=-self.refusal_quiet_seconds) else None

    def _finish(self, record: Remediation, holder: str) -> Processed:
        """Drive an in-flight record to where it can rest, under the resource's lease."""
        set_remediation_id(record.id)
        if _pending(record):
            return self._follow(record)
        applying = record
        if record.status is Status.APPROVED:
            applying = self.ledger.move(record, Status.APPLYING, by=WORKER)
        # Written ahead of a PATCH that may or may not have landed: re-read, and send the same
        # bytes again only if the resource is still broken the way they fix.
        outcome, write = self.pipeline.prepare_approved(applying.resource_id, dict(applying.plan or {}), applying.kinds)
        if write is None:
            if _transient(outcome):
                return Processed(Disposition.RETRY, outcome, applying, retry_after=_retry_after(outcome))
            if outcome.state is State.HEALTHY:
                outcome.reason = "the planned change is in place"
            return self._settle_record(applying, outcome)
        return self._write(applying, outcome, write, holder)

    def _write(self, record: Remediation, outcome: Outcome, write: Write, holder: str) -> Processed:
        """PATCH under a renewed lease, then move the write-ahead record to its final status."""
        if not self.ledger.renew(record.resource_id, holder, seconds=self.lease_seconds):
            # Another worker took the resource (this one stalled past its lease): it settles the record.
            log.warning("lease on %s lost before the PATCH: not writing", record.resource_id)
            return Processed(Disposition.BUSY, outcome, record, retry_after=self.lease_seconds)
        outcome = self.pipeline.write(outcome, write)
        if _transient(outcome):
            # Not answered, throttled past the budget, or busy: the PATCH may or may not have
            # landed. The record stays ``applying`` and the next try settles it.
            return Processed(Disposition.RETRY, outcome, record, retry_after=_retry_after(outcome))
        return self._settle_record(record, outcome)

    def _settle_record(self, record: Remediation, outcome: Outcome) -> Processed:
        final = WRITTEN.get(outcome.state, Status.FAILED)
        if outcome.state is State.HEALTHY:  # the record's fix is in place: told as the verified fix it is
            outcome.state = State.VERIFIED
            outcome.applied = outcome.applied or record.plan
        moved = self.ledger.move(
            record,
            final,
            by=WORKER,
            note=outcome.reason,
            reason=outcome.reason,
            error=outcome.to_json().get("error"),
            continuation_token=outcome.continuation_token if final is Status.APPLIED else None,
        )
        log.info("%s %s: %s", moved.status, ", ".join(moved.kinds), moved.reason)
        if final is not Status.APPLIED:  # a fix still running is announced once, when it ends
            self._tell(moved, outcome)
        return Processed(Disposition.DONE, outcome, moved)

    def _follow(self, record: Remediation) -> Processed:
        """Poll a long-running fix still running (its continuation token): settle it when it ends."""
        outcome = self.pipeline.check_pending(record.resource_id, record.continuation_token or "")
        if outcome.state is State.PENDING:
            if outcome.continuation_token and outcome.continuation_token != record.continuation_token:
                record = self.ledger.update(record, by=WORKER, continuation_token=outcome.continuation_token)
            return Processed(Disposition.DONE, outcome, record)
        if _transient(outcome):
            return Processed(Disposition.RETRY, outcome, record, retry_after=_retry_after(outcome))
        return self._settle_record(record, outcome)

    @contextlib.contextmanager
    def _lease(self, resource_id: str) -> Iterator[str | None]:
        """The resource's lease for this call (``None`` when another holds it), released on exit."""
        # One holder per call, not per process: a Functions host runs several messages at once.
        holder = f"{self.holder}-{secrets.token_hex(4)}"
        if not self.ledger.acquire(resource_id, holder, seconds=self.lease_seconds):
            yield None
            return
        try:
            yield holder
        finally:
            self.ledger.release(resource_id, holder)

    def reject(self, remediation_id: str, approver: Principal, note: str = "") -> Remediation:
        """Close a proposal unapplied; the same rights and errors as :meth:`approve`."""
        decided = _decided_by(approver)
        remediation = self._get(remediation_id)
        rejected = self.ledger.move(remediation, Status.REJECTED, by=approver.name, note=note, **decided)
        self._tell(rejected, None)
        return rejected

    def _quarantine(self, signal: Signal, recent: list[Remediation], count: int) -> Processed:
        if recent and recent[0].status is Status.QUARANTINED:  # already escalated
            return Processed(Disposition.QUARANTINED, None, recent[0])
        reason = (
            f"fixed {count} times within {self.flap_window_seconds / 60:.0f} minutes and broken again: something "
            "keeps reverting this, most likely an Azure Policy assignment; quarantined for a person"
        )
        remediation = self.ledger.create(
            signal.resource_id,
            Status.QUARANTINED,
            kinds=sorted({kind for r in recent for kind in r.kinds}),
            trigger={"source": signal.source, "eventId": signal.event_id},
            plan=None,
            reason=reason,
            by=WORKER,
        )
        self._tell(remediation, None)
        return Processed(Disposition.QUARANTINED, None, remediation)

    def _get(self, remediation_id: str) -> Remediation:
        remediation = self.ledger.get(remediation_id)
        if remediation is None:
            raise LookupError(f"no remediation {remediation_id!r}")
        return remediation

    def _tell(self, remediation: Remediation, outcome: Outcome | None) -> None:
        if self.notify is None:
            return
        try:
            self.notify(remediation, outcome)
        except Exception:  # a notification never blocks or undoes a fix; the notifier records its failures
            log.exception("notification for remediation %s failed", remediation.id)


def _decided_by(approver: Principal) -> dict[str, str]:
    """The ledger fields naming who decided; checked here too, so no caller of the worker can skip the role."""
    role = require(approver, APPROVE)
    return {"approver": approver.name, "approver_object_id": approver.object_id, "approver_role": role}


def _pending(remediation: Remediation) -> bool:
    return remediation.status is Status.APPLIED and bool(remediation.continuation_token)


def _transient(outcome: Outcome) -> bool:
    """ARM did not answer, throttled past the budget, or had another update in flight: try later."""
    return outcome.state is State.FAILED and outcome.error is not None and outcome.error.retryable


def _retry_after(outcome: Outcome) -> float:
    error = outcome.error
    return max(5.0, float(error.retry_after)) if error is not None and error.retry_after else 30.0


def _same_as_recorded(
    history: list[Remediation], status: Status, kinds: list[str], outcome: Outcome
) -> Remediation | None:
    """The record already saying this (same status and kinds, nothing recorded since), or ``None``."""
    if status is Status.PROPOSED:  # the same proposal may still wait for a person behind newer records
        return next((r for r in history if r.status is Status.PROPOSED and set(r.kinds) == set(kinds)), None)
    if not history or history[0].status is not status or set(history[0].kinds) != set(kinds):
        return None
    latest = history[0]
    if status is Status.SUPPRESSED:
        return latest
    if status is Status.FAILED:
        code = outcome.error.code if outcome.error is not None else None
        return latest if (latest.error or {}).get("code") == code and latest.plan == outcome.applied else None
    return None


def _kinds(findings: Collection[object]) -> list[str]:
    return list(dict.fromkeys(str(getattr(f, "kind", "")) for f in findings))


def _proposed_plan(outcome: Outcome) -> dict[str, object] | None:
    """All proposed findings' patches merged: the bytes an approval will send."""
    from .findings import merge_plans

    plan = merge_plans(outcome.resource_id, outcome.proposed)
    return plan.body if plan is not None else None
