"""What the function app's triggers share, built once per host from the GUARD_* settings.

The trigger path (:meth:`Service.accept`) is kept short, because Event Grid waits only 30 s for
an answer and redelivers otherwise: parse, drop what the id puts out of scope, drop a delivery
already seen, queue the rest, and only then mark it seen (so a delivery whose message could not
be queued is queued by its redelivery). The work (the worker) runs from the queue trigger.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .arm import Arm, credential
from .baselines import NO_BASELINES, BaselineSource, TableBaselines
from .ledger import Ledger, Remediation, Status, utc_now
from .limits import MAX_RESOURCES_PER_ALERT
from .pipeline import Evidence, Pipeline
from .settings import arm_options, identity_client_id, load_scope_rules, service_options
from .signals import Signal, parse_signals, signal_to_json
from .storage import StorageUnavailable, clients
from .work_queue import WorkQueue
from .worker import Notify, Processed, Worker

if TYPE_CHECKING:
    from .principal import Principal

log = logging.getLogger("foundry_guard.service")


FOLLOW_UP = "followUp"  # a queue message following up a long-running fix: {"followUp": {"remediationId": ...}}
# Waiting work is re-queued this many times, backing off from FIRST_DELAY_SECONDS (the provider's
# updates take about 30-40 s on Azure) up to MAX_DELAY_SECONDS; then the sweep is the backstop.
MAX_ATTEMPTS = 8
FIRST_DELAY_SECONDS = 15.0
MAX_DELAY_SECONDS = 600.0


def _backoff(attempt: int, first: float = FIRST_DELAY_SECONDS) -> float:
    return float(min(MAX_DELAY_SECONDS, first * 2 ** (attempt - 1)))


class NotConfigured(RuntimeError):
    """GUARD_STORAGE is empty: there is nowhere to keep the ledger or the queue."""


@dataclass
class Accepted:
    """What the trigger path did with one input document."""

    queued: list[str] = field(default_factory=list)  # resource ids queued for work
    duplicates: int = 0  # deliveries already seen
    own_writes: int = 0  # our own fixes coming back as events
    out_of_scope: list[str] = field(default_factory=list)  # "id: reason"
    rejected: list[str] = field(default_factory=list)  # one line per refused item
    validation_code: str | None = None  # Event Grid's subscription handshake

    def to_json(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "duplicates": self.duplicates,
            "ownWrites": self.own_writes,
            "outOfScope": self.out_of_scope,
            "rejected": self.rejected,
        }


@dataclass
class Swept:
    queued: int = 0
    baselines: list[str] = field(default_factory=list)  # AI accounts whose allowlist was recorded
    settled: list[str] = field(default_factory=list)  # long-running fixes checked and now final: "id: status"
    errors: list[str] = field(default_factory=list)
    seen_expired: int = 0  # seen-event marks deleted (older than Event Grid redelivers)

    def to_json(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "baselines": self.baselines,
            "settled": self.settled,
            "errors": self.errors,
            "seenExpired": self.seen_expired,
        }


class Service:
    def __init__(
        self,
        pipeline: Pipeline,
        ledger: Ledger,
        queue: Any,
        worker: Worker,
        baselines: TableBaselines,
        sweep_subscriptions: list[str] | None = None,
        *,
        first_delay_seconds: float = FIRST_DELAY_SECONDS,
        work: WorkQueue | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.queue = queue  # an azure.storage.queue.QueueClient
        self.work = work if work is not None else WorkQueue(queue, None)  # sends with a claim check
        self.worker = worker
        self.baselines = baselines
        self.sweep_subscriptions = list(sweep_subscriptions or [])
        self.first_delay_seconds = first_delay_seconds  # the first re-queue's delay; it doubles after

    @classmethod
    def from_environment(cls) -> Service:
        options = service_options()
        if not options["storage"]:
            raise NotConfigured("GUARD_STORAGE is not set: the ledger and the work queue have nowhere to live")
        token_credential = credential(identity_client_id())
        tables, queue = _storage(options["storage"], options["queue"], token_credential)
        ledger = Ledger(tables)
        baselines = TableBaselines(tables.create_table_if_not_exists(TableBaselines.TABLE))
        pipeline = configured_pipeline(token_credential, options, baselines=baselines)
        own = [options["own_object_id"]] if options["own_object_id"] else []
        notify = _notifier(options, token_credential)
        worker = Worker(pipeline, ledger, own_object_ids=own, notify=notify)
        work = WorkQueue.on(queue, tables)
        return cls(pipeline, ledger, queue, worker, baselines, options["sweep_subscriptions"], work=work)

    def accept(self, document: Any) -> Accepted:
        """The trigger path: no ARM call; per new signal a seen-check, a queue message, a mark.

        Outbox order: a delivery is marked seen only once its message is queued. Storage failing
        in between leaves it unmarked, and its redelivery queues it; at worst a message is queued
        twice, which the worker absorbs (it re-reads the resource under a lease). Raises
        :class:`StorageUnavailable` when storage cannot be reached after the retries, so the
        trigger fails and its caller retries; nothing accepted is dropped.
        """
        from azure.core.exceptions import AzureError

        parsed = parse_signals(document, max_resources=MAX_RESOURCES_PER_ALERT)
        accepted = Accepted(validation_code=parsed.validation_code)
        accepted.rejected = [(f"item {r.index}: " if r.index is not None else "") + r.reason for r in parsed.rejected]
        for signal in parsed.signals:
            if self.worker.is_own_write(signal):
                accepted.own_writes += 1
                continue
            reason = self.pipeline.screen(signal.resource_id)
            if reason is not None:
                accepted.out_of_scope.append(f"{signal.resource_id}: {reason}")
                continue
            key = _delivery_key(signal) if signal.event_id else None
            try:
                if key is not None and self.ledger.seen(key):
                    accepted.duplicates += 1
                    continue
                self.work.send(signal_to_json(signal))
                if key is not None:
                    self.ledger.mark_seen(key)
            except AzureError as error:
                done = f"; {len(accepted.queued)} queued before it" if accepted.queued else ""
                raise StorageUnavailable(
                    f"storage failed while queueing {signal.resource_id}{done}: {type(error).__name__}: "
                    f"{str(error).splitlines()[0] if str(error) else ''}"
                ) from error
            accepted.queued.append(signal.resource_id)
        return accepted

    def for_workspace(self, workspace_id: str) -> tuple[str, list[str]]:
        """A workspace's managed resource group and the guarded resources in it, once the workspace,
        read afresh, proves the group (:mod:`remediators.workspaces`): the same proof every
        remediation of those resources, and the approval of any proposal they lead to, relies on.

        Raises ``LookupError`` when there is no such workspace, ``ValueError`` when it is not a
        workspace id or the workspace proves no managed resource group (it names none, or one its
        key or naming does not account for), ``ArmError`` when ARM cannot be read.
        """
        from .findings import Guarded
        from .registry import REMEDIATORS
        from .resource_ids import parse_resource_id
        from .workspaces import API_VERSION, WORKSPACE_TYPE, Workspace

        parsed = parse_resource_id(workspace_id)
        if not parsed.is_type(WORKSPACE_TYPE):
            raise ValueError(f"{workspace_id} is not a {WORKSPACE_TYPE} id")
        body = self.pipeline.arm.read_raw(parsed, API_VERSION)
        workspace = Workspace.from_body(body) if body is not None else None
        if workspace is None:
            raise LookupError(f"no workspace {workspace_id}")
        if workspace.managed_group is None:
            raise ValueError(
                f"workspace {parsed.name} names no managed resource group (serviceProvisionedResourceGroup)"
            )
        # Read afresh, so a workspace created a minute ago is not missed by a cached inventory.
        inventory = self.pipeline.inventory.refresh(parsed.subscription).with_workspace(workspace)
        self.pipeline.inventory.remember(inventory)
        proof = inventory.prove(workspace.managed_group, self.pipeline.rules)
        if not proof.proven:
            raise ValueError(proof.reason)
        group = workspace.managed_group
        ids = [
            resource_id
            for remediator in REMEDIATORS
            if remediator.guards is Guarded.MANAGED_RG
            for resource_id in self.pipeline.arm.list_ids(parsed.subscription, remediator.sdk, resource_group=group)
        ]
        return group, ids

    def sweep(self) -> Swept:
        """The timer: settle every record a worker left in flight (long-running fixes still
        ``applied``, and ``applying`` or ``approved`` ones older than a lease: their worker
        stopped), queue every guarded resource for a check, record healthy AI accounts' baselines, and
        delete seen-event marks older than Event Grid's redeliveries."""
        from azure.core.exceptions import AzureError

        from .arm import ArmError
        from .baselines import baseline_of
        from .classify import classify
        from .findings import Guarded
        from .registry import REMEDIATORS
        from .resource_ids import parse_resource_id

        swept = Swept()
        now = utc_now()
        self._settle_in_flight(swept)
        try:
            swept.seen_expired = self.ledger.expire_seen()
        except AzureError as error:  # the next sweep deletes them
            swept.errors.append(f"expiring seen events: {type(error).__name__}: {error}")
        for subscription in self.sweep_subscriptions:
            for remediator in REMEDIATORS:
                try:
                    ids = self.pipeline.arm.list_ids(subscription, remediator.sdk)
                except ArmError as error:
                    swept.errors.append(f"{subscription} {remediator.resource_type}: {error}")
                    continue
                for resource_id in ids:
                    if self.pipeline.screen(resource_id) is not None or not self._worth_a_look(resource_id):
                        continue
                    if remediator.guards is Guarded.AI_ACCOUNT:
                        try:
                            body = self.pipeline.arm.read(parse_resource_id(resource_id), remediator.sdk)
                        except ArmError as error:
                            swept.errors.append(f"{resource_id}: {error}")
                            continue
                        if body is None:
                            continue
                        result = classify(body, self.pipeline.rules, baselines=self.baselines)
                        if result.guarded is Guarded.AI_ACCOUNT and not result.findings:
                            recorded = baseline_of(body, recorded_at=now, source="sweep")
                            if recorded.properties:
                                self.baselines.record(recorded)
                                swept.baselines.append(resource_id)
                            continue  # healthy: nothing to queue
                    signal = Signal(resource_id=resource_id, source="timer", event_time=now)
                    self.queue.send_message(json.dumps(signal_to_json(signal), separators=(",", ":")))
                    swept.queued += 1
        return swept

    def _settle_in_flight(self, swept: Swept) -> None:
        """The backstop for follow-ups and write-ahead records, every page of them."""
        from .arm import ArmError
        from .worker import Disposition

        stale_before = self.ledger.now(offset_seconds=-self.worker.lease_seconds)
        for status in (Status.APPLIED, Status.APPLYING, Status.APPROVED):
            for remediation in self.ledger.every(status):
                if status is not Status.APPLIED and remediation.updated_at > stale_before:
                    continue  # its worker may still be at it
                try:
                    processed = self.worker.settle(remediation)
                except ArmError as error:
                    swept.errors.append(f"{remediation.id}: {error}")
                    continue
                settled = processed.remediation
                if processed.disposition is Disposition.DONE and settled is not None and settled.status != status:
                    swept.settled.append(f"{settled.id}: {settled.status}")

    def handle_message(self, document: Any) -> Processed:
        """The queue trigger's work: a signal (resource to look at) or a follow-up of a long-running
        fix. Work that must wait (the resource busy, ARM throttled or unanswered, the fix still
        running) is queued again with a delay instead of failing the message, so waiting never
        poisons it; after :data:`MAX_ATTEMPTS` the sweep is the backstop.

        Raises :class:`remediators.signals.InvalidMessage` for a message this service did not write.
        """
        from .signals import InvalidMessage, signal_from_json
        from .worker import Disposition

        attempt = document.get("attempt", 1) if isinstance(document, dict) else 1
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise InvalidMessage("'attempt' is a whole number from 1")
        follow_up = document.get(FOLLOW_UP) if isinstance(document, dict) else None
        if follow_up is not None:
            remediation_id = follow_up.get("remediationId") if isinstance(follow_up, dict) else None
            if not isinstance(remediation_id, str):
                raise InvalidMessage("a follow-up names a remediationId")
            remediation = self.ledger.get(remediation_id)
            if remediation is None:
                raise InvalidMessage(f"no remediation {remediation_id!r} to follow up")
            processed = self.worker.settle(remediation)
            again: dict[str, Any] = {FOLLOW_UP: {"remediationId": remediation_id}}
        else:
            signal = signal_from_json(document)
            processed = self.worker.process(signal)
            again = signal_to_json(signal)
        if processed.pending:
            assert processed.remediation is not None
            self.follow_up(processed.remediation, attempt=1 if follow_up is None else attempt + 1)
        elif processed.disposition in (Disposition.BUSY, Disposition.RETRY):
            if attempt < MAX_ATTEMPTS:
                delay = min(MAX_DELAY_SECONDS, max(processed.retry_after or 0.0, self._backoff(attempt)))
                self._send(again | {"attempt": attempt + 1}, delay)
            else:
                log.warning("gave up after %d attempts; the sweep will look again: %s", attempt, again)
        return processed

    def process(self, signal: Signal) -> Processed:
        """Run the worker for one signal now (``POST /api/remediate``); a fix still running when the
        budget ends is followed up from the queue."""
        processed = self.worker.process(signal)
        if processed.pending:
            assert processed.remediation is not None
            self.follow_up(processed.remediation)
        return processed

    def approve(self, remediation_id: str, approver: Principal) -> Remediation:
        """Apply a proposal (:meth:`Worker.approve`); a fix still running is followed up from the queue."""
        done = self.worker.approve(remediation_id, approver)
        if done.status is Status.APPLIED and done.continuation_token:
            self.follow_up(done)
        return done

    def follow_up(self, remediation: Remediation, *, attempt: int = 1) -> None:
        """Look at a long-running fix again soon, not at the next sweep (backing off, up to MAX_ATTEMPTS)."""
        if attempt > MAX_ATTEMPTS:
            log.warning(
                "remediation %s still running after %d follow-ups: the sweep settles it", remediation.id, attempt
            )
            return
        self._send({FOLLOW_UP: {"remediationId": remediation.id}, "attempt": attempt}, self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return _backoff(attempt, self.first_delay_seconds)

    def _send(self, message: dict[str, Any], delay_seconds: float) -> None:
        self.queue.send_message(json.dumps(message, separators=(",", ":")), visibility_timeout=int(delay_seconds))

    def _worth_a_look(self, resource_id: str) -> bool:
        """False for a resource in a group the workspace inventory shows is plainly not managed
        (no workspace names it): the sweep need not queue it. An unreadable inventory queues it,
        and the worker reports why nothing was loosened."""
        from .arm import ArmError
        from .findings import Guarded
        from .registry import remediators_of_type
        from .resource_ids import parse_resource_id

        parsed = parse_resource_id(resource_id)
        if remediators_of_type(parsed.resource_type or "")[0].guards is not Guarded.MANAGED_RG:
            return True
        try:
            inventory, _ = self.pipeline.inventory.lookup(parsed.subscription)
        except ArmError:
            return True
        return inventory.prove(parsed.resource_group or "", self.pipeline.rules).guarded is not None


def configured_pipeline(
    token_credential: Any,
    options: dict[str, Any] | None = None,
    *,
    baselines: BaselineSource | None = None,
    dry_run: bool | None = None,
) -> Pipeline:
    """The pipeline as the GUARD_* settings describe it: the same for the function app and the CLI.

    Without ``baselines``, they come from Table Storage when GUARD_STORAGE names one.
    """
    options = service_options() if options is None else options
    if baselines is None and options["storage"]:
        tables, _ = _storage(options["storage"], options["queue"], token_credential)
        baselines = TableBaselines(tables.create_table_if_not_exists(TableBaselines.TABLE))
    return Pipeline(
        Arm(token_credential, **arm_options()),
        load_scope_rules(),
        baselines=baselines if baselines is not None else NO_BASELINES,
        dry_run=options["dry_run"] if dry_run is None else dry_run,
        modes=options["modes"],
        evidence=_evidence(options, token_credential),
    )


def _evidence(options: dict[str, Any], token_credential: Any) -> Evidence | None:
    """Diagnostic-log evidence for the pipeline, or ``None`` when no workspace is configured.

    Every refusal the logs show becomes an evidence line; only the workspace's own refused 403s
    are :class:`ConfirmingDenial` lines, the ones that confirm a suspected firewall lock. A 401 is
    local auth refusing a key (the property confirms that by itself), and an anonymous or unknown
    caller's 403 is what anyone on the internet can produce. The pipeline passes the identities of
    the workspace that proves the resource's group; without them only requests signed with the
    resource's own key count as the workspace's.
    """
    if not options["log_analytics_workspace"]:
        return None
    from .evidence import LogEvidence
    from .remediator import ConfirmingDenial

    logs = LogEvidence(
        options["log_analytics_workspace"],
        token_credential,
        endpoint=options["log_analytics_endpoint"],
        lookback_minutes=options["evidence_lookback_minutes"],
        connection_verify=os.environ.get("REQUESTS_CA_BUNDLE") or None,
    )

    def refused(resource_id: str, resource_type: str, workspace_identities: frozenset[str]) -> list[str]:
        lines: list[str] = []
        for denial in logs.denials(resource_id, resource_type, trusted_principals=workspace_identities):
            confirms = denial.workspace_traffic and denial.status == 403
            lines.append(ConfirmingDenial(denial.describe()) if confirms else denial.describe())
        return lines

    return refused


def _notifier(options: dict[str, Any], token_credential: Any) -> Notify | None:
    """The worker's notice callback, or ``None`` when no channel is configured."""
    if not options["notify_eventgrid"] and not options["notify_teams"]:
        return None
    from .notify import Notice, Notifier
    from .pipeline import Outcome, State

    notifier = Notifier(
        eventgrid_endpoint=options["notify_eventgrid"] or None,
        credential=token_credential,
        teams_webhook_url=options["notify_teams"] or None,
        connection_verify=os.environ.get("REQUESTS_CA_BUNDLE") or None,
    )
    base = options["approval_base_url"]

    def notify(remediation: Remediation, outcome: Outcome | None) -> None:
        if outcome is None:
            if remediation.status is not Status.QUARANTINED:
                return  # a rejection needs no announcement: the person who rejected it knows
            # Quarantine escalates: told as an observation with the reason.
            outcome = Outcome(remediation.resource_id, State.OBSERVED, remediation.reason)
        links = (
            (f"{base}/api/remediations/{remediation.id}/approve", f"{base}/api/remediations/{remediation.id}/reject")
            if base and remediation.status is Status.PROPOSED
            else (None, None)
        )
        for delivery in notifier.send(Notice(remediation.id, outcome, approve_url=links[0], reject_url=links[1])):
            if not delivery.ok:
                log.error("notice for %s over %s failed: %s", remediation.id, delivery.channel, delivery.error)

    return notify


def _delivery_key(signal: Signal) -> str:
    # An alert names several resources under one id; an event names one.
    return f"{signal.source}|{signal.event_id}|{signal.resource_id.casefold()}"


def _storage(setting: str, queue_name: str, token_credential: Any) -> tuple[Any, Any]:
    """Table service and work queue from a connection string (Azurite) or an account name
    (identity), retrying transient errors as the Functions host's own clients do (:mod:`.storage`)."""
    return clients(setting, queue_name, token_credential)
