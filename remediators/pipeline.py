"""The remediation pipeline for one resource: scope, read, detect, plan, decide, apply, verify.

Whatever woke it (an event, an alert, an HTTP call, a sweep, the CLI), the pipeline re-reads
the live resource and never trusts the body it was handed for what to write. It makes no ARM
call for a resource the id alone puts out of scope, one GET for a healthy one, and GET, PATCH
(with the provider's polls) and one verifying read for a broken one; a long-running operation's
final read of the resource is that verifying read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .arm import Arm, ArmError
from .baselines import NO_BASELINES, BaselineSource
from .classify import Classification, classify
from .decide import Mode, decide
from .findings import BreakageKind, Confidence, Finding, Guarded, merge_plans, patch_bytes
from .registry import remediators_of_type
from .remediator import SdkBinding
from .resource_ids import InvalidResourceId, ResourceId, parse_resource_id
from .scope import ScopeRules, scope_by_id
from .workspaces import Proof, WorkspaceInventory

if TYPE_CHECKING:
    from .signals import Signal


# (resource id, resource type, the proving workspace's identities) -> diagnostic-log lines of refused
# requests; only those the workspace itself sent confirm (remediators.service._evidence)
Evidence = Callable[[str, str, frozenset[str]], list[str]]


SUBNET_JOIN_ACTION = "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action"


class State(StrEnum):
    NOT_GUARDED = "not-guarded"  # out of scope: nothing read or written beyond what deciding that took
    GONE = "gone"  # the resource no longer exists
    HEALTHY = "healthy"  # nothing to fix
    PROPOSED = "proposed"  # broken; the fix waits for a person (or this is a dry run)
    OBSERVED = "observed"  # broken; recorded and reported only
    VERIFIED = "verified"  # fixed, and a fresh read shows nothing left to fix
    REVERTED = "reverted"  # ARM accepted the fix but the resource is still broken (a Modify policy?)
    PENDING = "pending"  # a long-running fix was still running when the time budget ran out
    FAILED = "failed"  # ARM refused or failed the read or the fix


@dataclass
class Outcome:
    resource_id: str
    state: State
    reason: str
    findings: tuple[Finding, ...] = ()
    applied: dict[str, Any] | None = None  # the PATCH body sent, exactly
    proposed: tuple[Finding, ...] = ()  # findings left for a person
    error: ArmError | None = None
    continuation_token: str | None = None
    signal: Signal | None = None
    arm_calls: list[str] = field(default_factory=list)  # what this outcome asked of ARM, in order
    proven_by: str | None = None  # the workspace id (or the setting) proving a managed group

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(str(f.kind) for f in self.findings))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resourceId": self.resource_id, "kinds": self.kinds, "state": str(self.state)}
        out["reason"] = self.reason
        out["findings"] = [f.to_json() for f in self.findings]
        out["applied"] = self.applied
        out["proposed"] = [
            {"kind": str(f.kind), "property": f.property, "plan": f.plan.to_json()} for f in self.proposed
        ]
        if self.error is not None:
            out["error"] = {"status": self.error.status, "code": self.error.code, "message": self.error.message}
            if self.error.retry_after is not None:
                out["error"]["retryAfter"] = self.error.retry_after
        if self.continuation_token:
            out["continuationToken"] = self.continuation_token
        if self.signal is not None:
            out["trigger"] = _trigger_json(self.signal)
        if self.proven_by is not None:
            out["provenBy"] = self.proven_by
        out["armCalls"] = list(self.arm_calls)
        return out


@dataclass(frozen=True)
class Write:
    """A PATCH decided and not yet sent: exactly the bytes a write-ahead record holds."""

    parsed: ResourceId
    sdk: SdkBinding
    body: dict[str, Any]
    fixing: list[Finding]
    deadline: float  # time.monotonic() by which the remediation must be done

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(str(f.kind) for f in self.fixing))


class Pipeline:
    def __init__(
        self,
        arm: Arm,
        rules: ScopeRules,
        *,
        baselines: BaselineSource = NO_BASELINES,
        dry_run: bool = False,
        modes: Mapping[BreakageKind, Mode] | None = None,
        evidence: Evidence | None = None,
        inventory: WorkspaceInventory | None = None,
    ) -> None:
        self.arm = arm
        self.evidence = evidence
        # Proves managed resource groups before anything in them is loosened; shared by copies.
        self.inventory = inventory if inventory is not None else WorkspaceInventory(arm)
        self.rules = rules
        self.baselines = baselines
        self.dry_run = dry_run
        self.modes = dict(modes or {})

    def copy(self, *, rules: ScopeRules | None = None, dry_run: bool | None = None) -> Pipeline:
        """The same pipeline (ARM client, baselines, modes, evidence) with other rules or dry-run setting."""
        return Pipeline(
            self.arm,
            self.rules if rules is None else rules,
            baselines=self.baselines,
            dry_run=self.dry_run if dry_run is None else dry_run,
            modes=self.modes,
            evidence=self.evidence,
            inventory=self.inventory,
        )

    def handle(self, signals: Iterable[Signal]) -> list[Outcome]:
        """One outcome per resource named by ``signals``: a batch naming a resource twice is one fix."""
        seen: set[str] = set()
        outcomes = []
        for signal in signals:
            if signal.resource_id.casefold() in seen:
                continue
            seen.add(signal.resource_id.casefold())
            outcomes.append(self.remediate(signal.resource_id, signal=signal))
        return outcomes

    def remediate(self, resource_id: str, *, signal: Signal | None = None) -> Outcome:
        """Read, decide and, when a fix is decided, PATCH and verify: :meth:`prepare` then :meth:`write`."""
        outcome, write = self.prepare(resource_id, signal=signal)
        return outcome if write is None else self.write(outcome, write)

    def prepare(self, resource_id: str, *, signal: Signal | None = None) -> tuple[Outcome, Write | None]:
        """Everything up to the PATCH: scope, proof, read, detect, decide. A :class:`Write` when a
        fix is decided (the caller records it before sending it: :meth:`write`), else ``None``
        with the outcome final."""
        deadline = time.monotonic() + self.arm.budget_seconds
        outcome = Outcome(resource_id, State.NOT_GUARDED, "", signal=signal)
        with self.arm.budget(deadline):  # the proof's lists and the read: the remediation's budget
            read = self._read_broken(resource_id, outcome)
        if read is None:
            return outcome, None
        parsed, sdk, before = read
        if not before.proven:
            outcome.state = State.OBSERVED  # reported, never loosened
            return outcome, None
        modes = {id(f): decide(f, dry_run=self.dry_run, modes=self.modes) for f in before.findings}
        to_apply = [f for f in before.findings if modes[id(f)] is Mode.APPLY]
        outcome.proposed = tuple(f for f in before.findings if modes[id(f)] is Mode.PROPOSE)
        plan = merge_plans(before.resource_id, to_apply)
        if plan is None:
            outcome.state = State.PROPOSED if outcome.proposed else State.OBSERVED
            return outcome, None
        return outcome, Write(parsed, sdk, plan.body, to_apply, deadline)

    def prepare_approved(
        self, resource_id: str, body: dict[str, Any], kinds: Collection[str], *, signal: Signal | None = None
    ) -> tuple[Outcome, Write | None]:
        """Exactly the PATCH a person approved (or a write-ahead record holds), up to sending it, if
        the resource is still broken the way it fixes: ``healthy`` when the change is already in
        place. The approved bytes are sent as they are: a proposal may lack what an automatic fix
        needs (an allowlist with no baseline), and the person who approved it supplied that."""
        deadline = time.monotonic() + self.arm.budget_seconds
        outcome = Outcome(resource_id, State.NOT_GUARDED, "", signal=signal)
        with self.arm.budget(deadline):  # the proof's lists and the read: the remediation's budget
            read = self._read_broken(resource_id, outcome)
        if read is None:
            return outcome, None
        parsed, sdk, before = read
        if not before.proven:
            outcome.state = State.OBSERVED  # the group is no longer proven managed: nothing is loosened
            return outcome, None
        approved = [f for f in before.findings if str(f.kind) in kinds]
        if not approved:
            outcome.state = State.HEALTHY
            outcome.reason = "no longer broken the way the plan said: nothing applied"
            return outcome, None
        return outcome, Write(parsed, sdk, body, approved, deadline)

    def write(self, outcome: Outcome, write: Write) -> Outcome:
        """Send exactly the decided PATCH, then verify that none of what it fixes is left."""
        with self.arm.budget(write.deadline):  # the PATCH, its polls and the verifying read
            return self._write(write.parsed, write.sdk, write.body, write.fixing, outcome, write.deadline)

    def screen(self, resource_id: str) -> str | None:
        """Why the id alone puts a resource out of scope, or ``None`` when it may be guarded.

        Triggers call this before queueing anything: an event outside scope costs no ARM call.
        """
        try:
            parsed = parse_resource_id(resource_id)
        except InvalidResourceId as error:
            return str(error)
        candidates = remediators_of_type(parsed.resource_type or "")
        guards = candidates[0].guards if candidates else None
        decision = scope_by_id(parsed, parsed.resource_type or "(none)", guards, self.rules)
        return decision.reason if decision.guarded is None else None

    def _read_broken(self, resource_id: str, outcome: Outcome) -> tuple[ResourceId, SdkBinding, Classification] | None:
        """Scope by id, read, classify. The classification when something is broken; else ``None``
        with ``outcome`` saying why (out of scope, gone, healthy, or ARM failed)."""
        dropped = self.screen(resource_id)
        if dropped is not None:
            outcome.reason = dropped
            return None
        parsed = parse_resource_id(resource_id)
        remediator = remediators_of_type(parsed.resource_type or "")[0]
        proof = None
        if remediator.guards is Guarded.MANAGED_RG and parsed.resource_group:
            proof = self._prove(parsed, outcome)
            if proof is None or proof.guarded is None:
                return None
        sdk = remediator.sdk
        try:
            outcome.arm_calls.append("GET")
            body = self.arm.read(parsed, sdk)
        except ArmError as error:
            _failed(outcome, error)
            return None
        if body is None:
            outcome.state, outcome.reason = State.GONE, "the resource no longer exists"
            return None
        scope = proof.decision() if proof is not None else None
        before = classify(body, self.rules, baselines=self.baselines, proof=scope)
        if self.evidence is not None and any(f.confidence is Confidence.SUSPECTED for f in before.findings):
            # Diagnostic logs can turn a suspicion into a certainty (and the mode from propose to apply).
            workspace = proof.workspace if proof is not None else None
            identities = frozenset(workspace.principal_ids) if workspace is not None else frozenset()
            denials = self.evidence(parsed.text, parsed.resource_type or "", identities)
            if denials:
                before = classify(body, self.rules, baselines=self.baselines, access_denials=denials, proof=scope)
        outcome.findings, outcome.reason = before.findings, before.reason
        if before.guarded is None:
            return None
        if before.plan is None:
            outcome.state = State.HEALTHY
            return None
        return parsed, sdk, before

    def _prove(self, parsed: ResourceId, outcome: Outcome) -> Proof | None:
        """The workspace inventory's word on the resource's group; ``None`` (``outcome`` failed)
        when it cannot be read: unproven, nothing is loosened, and the failure is retried."""
        try:
            inventory, calls = self.inventory.lookup(parsed.subscription)
        except ArmError as error:
            _failed(outcome, error)
            outcome.reason = f"the workspace inventory could not be read, so nothing is loosened: {outcome.reason}"
            return None
        outcome.arm_calls += calls
        proof = inventory.prove(parsed.resource_group or "", self.rules)
        outcome.reason, outcome.proven_by = proof.reason, proof.proven_by
        return proof

    def _write(
        self,
        parsed: ResourceId,
        sdk: SdkBinding,
        body: dict[str, Any],
        fixing: list[Finding],
        outcome: Outcome,
        deadline: float,
    ) -> Outcome:
        """PATCH exactly ``body``, then verify that none of ``fixing`` is left."""
        outcome.applied = body
        try:
            outcome.arm_calls.append("PATCH")
            result = self.arm.patch(parsed, sdk, patch_bytes(body), wait_seconds=max(0.0, deadline - time.monotonic()))
            if not result.done:
                outcome.state, outcome.continuation_token = State.PENDING, result.continuation_token
                outcome.reason = "the update is still running; check it again later"
                return outcome
            after: dict[str, Any] | None = result.body
            if sdk.long_running and after is not None:
                # The operation ended with a read of the resource: that is the verifying read.
                outcome.arm_calls.append("operation polls and final read")
            else:
                outcome.arm_calls.append("GET")
                after = self.arm.read(parsed, sdk)
        except ArmError as error:
            return _failed(outcome, error)
        outcome.state, outcome.reason = _verify(after, fixing, self.rules, self.baselines)
        return outcome

    def check_pending(self, resource_id: str, continuation_token: str, *, signal: Signal | None = None) -> Outcome:
        """Check on a fix left ``pending``: still running, or finished and then verified like any other."""
        with self.arm.budget():  # the polls and the verifying read share one budget
            return self._check_pending(resource_id, continuation_token, signal)

    def _check_pending(self, resource_id: str, continuation_token: str, signal: Signal | None) -> Outcome:
        outcome = Outcome(resource_id, State.PENDING, "", continuation_token=continuation_token, signal=signal)
        parsed = parse_resource_id(resource_id)
        sdk = remediators_of_type(parsed.resource_type or "")[0].sdk
        try:
            outcome.arm_calls.append("operation polls")
            result = self.arm.resume(parsed, sdk, continuation_token, wait_seconds=self.arm.budget_seconds)
            if not result.done:
                outcome.continuation_token = result.continuation_token
                outcome.reason = "the update is still running; check it again later"
                return outcome
            after = result.body  # the operation's final read, when it ended with one
            if after is None:
                outcome.arm_calls.append("GET")
                after = self.arm.read(parsed, sdk)
        except ArmError as error:
            return _failed(outcome, error)
        outcome.continuation_token = None
        if after is None:
            outcome.state, outcome.reason = State.GONE, "the resource disappeared while it was being fixed"
            return outcome
        left = classify(after, self.rules, baselines=self.baselines).findings
        outcome.findings = left
        applicable = [f for f in left if decide(f, modes=self.modes) is Mode.APPLY]
        outcome.state, outcome.reason = _verify(after, applicable, self.rules, self.baselines)
        return outcome


def _verify(
    after: dict[str, Any] | None, applied: list[Finding], rules: ScopeRules, baselines: BaselineSource
) -> tuple[State, str]:
    """Did the fix stick? ARM can accept a PATCH that a Modify policy rewrote into no change."""
    if after is None:
        return State.GONE, "the resource disappeared while it was being fixed"
    remaining = {(f.kind, f.property) for f in classify(after, rules, baselines=baselines).findings}
    still = [f for f in applied if (f.kind, f.property) in remaining]
    if still:
        properties = ", ".join(f.property for f in still)
        return State.REVERTED, (
            f"ARM accepted the fix but {properties} still reads broken: something rewrites it, most likely an "
            "Azure Policy with a Modify effect; exempt the managed resource group from that assignment"
        )
    return State.VERIFIED, "fixed and verified by a fresh read"


def _failed(outcome: Outcome, error: ArmError) -> Outcome:
    outcome.state, outcome.error, outcome.reason = State.FAILED, error, _failure_reason(error)
    return outcome


def _failure_reason(error: ArmError) -> str:
    if error.denied_by_policy:
        return f"an Azure Policy denies the fix: {error.message}"
    if error.status == 429:
        return f"ARM throttled the call beyond the time budget (retry after {error.retry_after or '?'} s)"
    if error.status in (409, 412):
        return f"another update of the resource is in flight: {error.message}"
    if error.timed_out:
        return error.message
    if error.code == "LinkedAuthorizationFailed":
        # ARM checks the caller's rights on every resource a write links to: a Cosmos DB account
        # with VNet rules refuses any change unless the caller may join each rule's subnet
        # (Microsoft's Cosmos DB VNet service endpoint doc).
        return (
            "ARM refused the fix because the resource links to others (a Cosmos DB account's VNet rules name "
            "subnets) on which Foundry Guard's identity lacks a join action such as "
            f"{SUBNET_JOIN_ACTION}: assign the managed-rg role where those subnets' networks live. "
            f"ARM said: {error.message}"
        )
    return f"ARM answered {error.status or 'nothing'} {error.code}: {error.message}"


def _trigger_json(signal: Signal) -> dict[str, Any]:
    from .signals import signal_to_json

    trigger = signal_to_json(signal)
    del trigger["resourceId"]  # the outcome names it already
    return trigger
