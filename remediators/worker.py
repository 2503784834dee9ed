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
  ``Remediation.Approve`` app role decides, and the ledger names them (object id, name, role).

Every outcome that changes something, or needs a person, is recorded; a notice follows it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .ledger import Ledger, Remediation, Status, utc_now
from .logcontext import set_remediation_id
from .pipeline import Outcome, Pipeline, State
from .principal import APPROVE, Principal, require

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


class Disposition(StrEnum):
    OWN_WRITE = "own-write"  # our own write came back as an event: nothing to do
    BUSY = "busy"  # another worker holds the resource: retry later
    DONE = "done"  # the pipeline ran (see the outcome); recorded when it matters
    QUARANTINED = "quarantined"  # broken again too often: left for a person


@dataclass(frozen=True)
class Processed:
    disposition: Disposition
    outcome: Outcome | None = None
    remediation: Remediation | None = None


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
        lease_seconds: float = 120.0,
        holder: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.own_object_ids = frozenset(oid.casefold() for oid in own_object_ids if oid)
        self.notify = notify
        self.flap_limit = flap_limit
        self.flap_window_seconds = flap_window_seconds
        self.lease_seconds = lease_seconds
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}"

    def is_own_write(self, signal: Signal) -> bool:
        actor = signal.actor
        return actor is not None and (actor.object_id or "").casefold() in self.own_object_ids

    def process(self, signal: Signal) -> Processed:
        if self.is_own_write(signal):
            log.info("own write on %s ignored", signal.resource_id)
            return Processed(Disposition.OWN_WRITE)
        # One holder per call, not per process: a Functions host runs several messages at once.
        holder = f"{self.holder}-{secrets.token_hex(4)}"
        if not self.ledger.acquire(signal.resource_id, holder, seconds=self.lease_seconds):
            return Processed(Disposition.BUSY)
        try:
            return self._process_leased(signal)
        finally:
            self.ledger.release(signal.resource_id, holder)

    def _process_leased(self, signal: Signal) -> Processed:
        history = self.ledger.for_resource(signal.resource_id)
        cutoff = utc_now(offset_seconds=-self.flap_window_seconds)
        recent = [r for r in history if r.created_at >= cutoff]
        fixes = [r for r in recent if r.status in FIXED]
        if len(fixes) >= self.flap_limit:
            return self._quarantine(signal, recent, len(fixes))

        outcome = self.pipeline.remediate(signal.resource_id, signal=signal)
        status = RECORDED.get(outcome.state)
        if status is None:
            return Processed(Disposition.DONE, outcome)
        kinds = outcome.kinds if status is not Status.PROPOSED else _kinds(outcome.proposed)
        if status is Status.PROPOSED:
            open_proposal = next(
                (r for r in history if r.status is Status.PROPOSED and set(r.kinds) == set(kinds)), None
            )
            if open_proposal is not None:  # the same proposal is already waiting for a person
                return Processed(Disposition.DONE, outcome, open_proposal)
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
        another approval moved it first."""
        decided = _decided_by(approver)
        remediation = self._get(remediation_id)
        approved = self.ledger.move(remediation, Status.APPROVED, by=approver.name, **decided)
        applying = self.ledger.move(approved, Status.APPLYING, by=WORKER)
        outcome = self.pipeline.apply_approved(applying.resource_id, dict(applying.plan or {}), applying.kinds)
        final = {
            State.VERIFIED: Status.VERIFIED,
            State.HEALTHY: Status.VERIFIED,  # fixed by someone else meanwhile
            State.REVERTED: Status.REVERTED,
            State.PENDING: Status.APPLIED,
        }.get(outcome.state, Status.FAILED)
        error = outcome.to_json().get("error")
        moved = self.ledger.move(
            applying,
            final,
            by=WORKER,
            note=outcome.reason,
            reason=outcome.reason,
            error=error,
            continuation_token=outcome.continuation_token,
        )
        self._tell(moved, outcome)
        return moved

    def check_pending(self, remediation: Remediation) -> Remediation:
        """A fix recorded ``applied`` while its long-running update still ran: finished now? Verified?

        Moves it to verified, reverted or failed; leaves it ``applied`` while the update runs on (or
        while another worker holds the resource).
        """
        if remediation.status is not Status.APPLIED or not remediation.continuation_token:
            return remediation
        holder = f"{self.holder}-{secrets.token_hex(4)}"
        if not self.ledger.acquire(remediation.resource_id, holder, seconds=self.lease_seconds):
            return remediation
        try:
            outcome = self.pipeline.check_pending(remediation.resource_id, remediation.continuation_token)
            if outcome.state is State.PENDING:
                return remediation
            final = {State.VERIFIED: Status.VERIFIED, State.REVERTED: Status.REVERTED}.get(outcome.state, Status.FAILED)
            moved = self.ledger.move(
                remediation,
                final,
                by=WORKER,
                note=outcome.reason,
                reason=outcome.reason,
                error=outcome.to_json().get("error"),
                continuation_token=None,
            )
        finally:
            self.ledger.release(remediation.resource_id, holder)
        self._tell(moved, outcome)
        return moved

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


def _kinds(findings: Collection[object]) -> list[str]:
    return list(dict.fromkeys(str(getattr(f, "kind", "")) for f in findings))


def _proposed_plan(outcome: Outcome) -> dict[str, object] | None:
    """All proposed findings' patches merged: the bytes an approval will send."""
    from .findings import merge_plans

    plan = merge_plans(outcome.resource_id, outcome.proposed)
    return plan.body if plan is not None else None
