"""The worker on the twin and a real Azurite: duplicates, races, own writes, proposals, approvals, flapping."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emulator import azurite
from emulator.twin import Twin
from remediators.arm import Arm, credential
from remediators.ledger import IllegalTransition, Ledger, Remediation, Status
from remediators.pipeline import Outcome, Pipeline
from remediators.principal import APPROVE, READ, MissingRole, Principal
from remediators.scope import ScopeRules
from remediators.signals import Actor, Signal
from remediators.worker import Disposition, Worker
from tests.payloads import proving_workspaces
from tests.test_pipeline_twin import COSMOS, OPENAI, SEARCH, break_, patches

APPROVERS = frozenset({APPROVE})
ONCALL = Principal("0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e", "oncall@contoso.com", APPROVERS)


@pytest.fixture(scope="module")
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:
        yield running


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Twin]:
    with Twin.start(resources=[COSMOS, SEARCH, OPENAI, *proving_workspaces(COSMOS, SEARCH)]) as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture
def notices() -> list[tuple[Remediation, Outcome | None]]:
    return []


@pytest.fixture
def worker(twin: Twin, storage: azurite.Azurite, notices: list[Any]) -> Worker:
    arm = Arm(credential(None), endpoint=twin.arm, connection_verify=twin.ca_path, polling_interval=0)
    ledger = Ledger.from_connection_string(storage.connection_string, prefix=f"w{secrets.token_hex(4)}")
    return Worker(
        Pipeline(arm, ScopeRules()),
        ledger,
        own_object_ids=[twin.identity.object_id],
        notify=lambda remediation, outcome: notices.append((remediation, outcome)),
    )


def signal(resource_id: str, actor: Actor | None = None, event_id: str = "e1") -> Signal:
    return Signal(
        resource_id=resource_id,
        source="eventgrid",
        event_id=event_id,
        event_type="Microsoft.Resources.ResourceWriteSuccess",
        actor=actor,
    )


def test_ten_racing_deliveries_give_one_patch_and_one_record(twin: Twin, worker: Worker) -> None:
    resource_id = break_(twin, COSMOS, disableLocalAuth=True)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: worker.process(signal(resource_id, event_id=f"e{n}")), range(10)))
    assert patches(twin) == [b'{"properties":{"disableLocalAuth":false}}']
    recorded = worker.ledger.for_resource(resource_id)
    assert [r.status for r in recorded] == [Status.VERIFIED]
    assert {r.disposition for r in results} <= {Disposition.DONE, Disposition.BUSY}


def test_our_own_write_costs_nothing(twin: Twin, worker: Worker) -> None:
    ours = Actor(
        object_id=twin.identity.object_id.upper(), app_id=None, name="foundry-guard", principal_type="ServicePrincipal"
    )
    result = worker.process(signal(COSMOS["id"], ours))
    assert result.disposition is Disposition.OWN_WRITE
    assert [r for r in twin.requests() if r.path.startswith("/subscriptions/")] == []


def test_a_proposal_is_recorded_once_and_applied_exactly_as_approved(
    twin: Twin, worker: Worker, notices: list[Any]
) -> None:
    resource_id = break_(twin, OPENAI, restrictOutboundNetworkAccess=False)  # no baseline: a proposal
    dev = Actor(object_id="b4c2", app_id=None, name="dev@contoso.com", principal_type="User")
    first = worker.process(signal(resource_id, dev, "e1")).remediation
    again = worker.process(signal(resource_id, dev, "e2")).remediation
    assert first is not None and again is not None and first.id == again.id
    assert first.status is Status.PROPOSED
    assert first.trigger["actor"]["name"] == "dev@contoso.com"
    assert first.plan == {"properties": {"restrictOutboundNetworkAccess": True, "allowedFqdnList": ["microsoft.com"]}}
    assert patches(twin) == []

    done = worker.approve(first.id, ONCALL)
    assert done.status is Status.VERIFIED, done.reason
    assert (done.approver, done.approver_object_id, done.approver_role) == (
        "oncall@contoso.com",
        ONCALL.object_id,
        APPROVE,
    )
    assert done.history[1]["by"] == "oncall@contoso.com"
    assert [h["status"] for h in done.history] == ["proposed", "approved", "applying", "verified"]
    assert patches(twin) == [
        b'{"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":["microsoft.com"]}}'
    ]
    with pytest.raises(IllegalTransition):
        worker.approve(first.id, Principal("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "someone@contoso.com", APPROVERS))
    assert len(patches(twin)) == 1
    assert [n[0].status for n in notices] == [Status.PROPOSED, Status.VERIFIED]


def test_a_rejected_proposal_is_never_applied(twin: Twin, worker: Worker) -> None:
    resource_id = break_(twin, OPENAI, restrictOutboundNetworkAccess=False)
    proposal = worker.process(signal(resource_id)).remediation
    assert proposal is not None
    security = Principal("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "security@contoso.com", APPROVERS)
    rejected = worker.reject(proposal.id, security, "the account is being retired")
    assert rejected.status is Status.REJECTED
    assert (rejected.approver, rejected.approver_object_id) == ("security@contoso.com", security.object_id)
    with pytest.raises(IllegalTransition):
        worker.approve(proposal.id, ONCALL)
    assert patches(twin) == []


def test_unknown_remediation_ids_are_lookup_errors(worker: Worker) -> None:
    with pytest.raises(LookupError):
        worker.approve("ab-123-456", ONCALL)


def test_only_a_holder_of_the_approver_role_decides(twin: Twin, worker: Worker) -> None:
    """The HTTP trigger checks the role; the worker checks it again, for any other caller."""
    resource_id = break_(twin, OPENAI, restrictOutboundNetworkAccess=False)
    proposal = worker.process(signal(resource_id)).remediation
    assert proposal is not None
    reader = Principal("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "analyst@contoso.com", frozenset({READ}))
    for decide in (worker.approve, worker.reject):
        with pytest.raises(MissingRole):
            decide(proposal.id, reader)
    stored = worker.ledger.get(proposal.id)
    assert stored is not None and (stored.status, stored.approver) == (Status.PROPOSED, None)
    assert patches(twin) == []


def test_a_resource_broken_again_and_again_is_quarantined(twin: Twin, worker: Worker, notices: list[Any]) -> None:
    for _ in range(3):
        twin.patch_resource(SEARCH["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
        assert worker.process(signal(SEARCH["id"])).remediation.status is Status.VERIFIED  # type: ignore[union-attr]
    twin.patch_resource(SEARCH["id"], {"properties": {"publicNetworkAccess": "Disabled"}})
    quarantined = worker.process(signal(SEARCH["id"]))
    assert quarantined.disposition is Disposition.QUARANTINED
    assert quarantined.remediation is not None and "Azure Policy" in quarantined.remediation.reason
    again = worker.process(signal(SEARCH["id"]))
    assert again.remediation is not None and again.remediation.id == quarantined.remediation.id
    assert len(patches(twin)) == 3
    assert notices[-1][0].status is Status.QUARANTINED
