"""The ledger on a real Azurite: dedupe, leases and the remediation state machine under concurrency."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator import azurite
from remediators.ledger import Conflict, IllegalTransition, Ledger, Status

RESOURCE = (
    "/subscriptions/subid/resourceGroups/azureml-rg-ws_5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c"
    "/providers/Microsoft.DocumentDB/databaseAccounts/ddb1"
)


@pytest.fixture(scope="module")
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:
        yield running


@pytest.fixture
def ledger(storage: azurite.Azurite) -> Ledger:
    return Ledger.from_connection_string(storage.connection_string, prefix=f"t{secrets.token_hex(4)}")


def test_an_event_is_seen_once_however_many_deliver_it_at_once(ledger: Ledger) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        firsts = list(pool.map(lambda _: ledger.first_delivery("event-1/with?odd#chars"), range(10)))
    assert firsts.count(True) == 1
    assert ledger.first_delivery("event-2")


def test_one_lease_holder_at_a_time_and_an_expired_lease_can_be_taken(ledger: Ledger) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda n: ledger.acquire(RESOURCE, f"worker-{n}"), range(8)))
    assert won.count(True) == 1
    holder = f"worker-{won.index(True)}"
    assert not ledger.acquire(RESOURCE.upper(), "late")  # ids compare case-insensitively
    ledger.release(RESOURCE, "not-the-holder")
    assert not ledger.acquire(RESOURCE, "late")
    ledger.release(RESOURCE, holder)
    assert ledger.acquire(RESOURCE, "late", seconds=0.0)
    assert ledger.acquire(RESOURCE, "later")  # late's lease had expired


def create(ledger: Ledger, status: Status = Status.PROPOSED):  # type: ignore[no-untyped-def]
    return ledger.create(
        RESOURCE,
        status,
        kinds=["local_auth_disabled"],
        trigger={"source": "eventgrid", "eventId": "e1", "actor": {"name": "nightly"}},
        plan={"properties": {"disableLocalAuth": False}},
        reason="local auth disabled",
        by="foundry-guard",
    )


def test_a_remediation_moves_through_its_states_with_history(ledger: Ledger) -> None:
    proposed = create(ledger)
    approved = ledger.move(proposed, Status.APPROVED, by="oncall@contoso.com", approver="oncall@contoso.com")
    applying = ledger.move(approved, Status.APPLYING, by="foundry-guard")
    verified = ledger.move(applying, Status.VERIFIED, by="foundry-guard", note="fixed and verified")
    stored = ledger.get(verified.id)
    assert stored is not None
    assert stored.status is Status.VERIFIED and stored.approver == "oncall@contoso.com"
    assert [h["status"] for h in stored.history] == ["proposed", "approved", "applying", "verified"]
    assert stored.plan == {"properties": {"disableLocalAuth": False}}
    assert ledger.for_resource(RESOURCE)[0].id == stored.id
    assert [r.id for r in ledger.list(status=Status.VERIFIED)] == [stored.id]


def test_the_approver_is_recorded_by_object_id_name_and_role(ledger: Ledger) -> None:
    approved = ledger.move(
        create(ledger),
        Status.APPROVED,
        by="oncall@contoso.com",
        approver="oncall@contoso.com",
        approver_object_id="0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e",
        approver_role="Remediation.Approve",
    )
    stored = ledger.get(approved.id)
    assert stored is not None
    assert (stored.approver, stored.approver_object_id, stored.approver_role) == (
        "oncall@contoso.com",
        "0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e",
        "Remediation.Approve",
    )
    assert stored.history[-1]["by"] == "oncall@contoso.com"
    assert stored.to_json()["approverObjectId"] == "0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e"
    assert stored.to_json()["approverRole"] == "Remediation.Approve"


def test_rows_written_before_approvers_had_object_ids_still_read(ledger: Ledger) -> None:
    from azure.data.tables import UpdateMode

    from remediators.ledger import _entity

    approved = ledger.move(create(ledger), Status.APPROVED, by="oncall", approver="oncall")
    old = {k: v for k, v in _entity(approved).items() if k not in ("ApproverObjectId", "ApproverRole")}
    ledger._remediations.update_entity(old, mode=UpdateMode.REPLACE)
    stored = ledger.get(approved.id)
    assert stored is not None
    assert (stored.approver, stored.approver_object_id, stored.approver_role) == ("oncall", None, None)


def test_illegal_transitions_are_refused(ledger: Ledger) -> None:
    rejected = ledger.move(create(ledger), Status.REJECTED, by="oncall")
    with pytest.raises(IllegalTransition):
        ledger.move(rejected, Status.APPROVED, by="oncall")


def test_two_approvals_of_one_proposal_move_it_once(ledger: Ledger) -> None:
    proposed = create(ledger)

    def approve(who: str) -> str:
        try:
            ledger.move(proposed, Status.APPROVED, by=who, approver=who)
            return "moved"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(approve, ["alice", "bob"]))
    assert results == ["conflict", "moved"]


def test_unknown_and_malformed_ids_are_none(ledger: Ledger) -> None:
    assert ledger.get("zz-123") is None
    assert ledger.get("not an id") is None
    assert ledger.get(create(ledger).id.replace("-", "-0", 1)) is None


def test_resources_sharing_a_partition_keep_their_own_history(ledger: Ledger) -> None:
    """Partition keys are a hash prefix, so many resources share one; a history must not mix them."""
    from remediators.ledger import _hashed

    others = [RESOURCE.replace("/ddb1", f"/ddb{n}") for n in range(2, 2000)]
    neighbour = next(o for o in others if _hashed(o)[0] == _hashed(RESOURCE)[0])
    for _ in range(3):
        ledger.create(
            neighbour,
            Status.VERIFIED,
            kinds=["local_auth_disabled"],
            trigger={},
            plan=None,
            reason="",
            by="foundry-guard",
        )
    assert ledger.for_resource(RESOURCE) == []
    assert len(ledger.for_resource(neighbour.upper())) == 3


def _record(ledger: Ledger, n: int, status: Status = Status.PROPOSED) -> str:
    resource = RESOURCE.replace("ddb1", f"ddb{n}")
    return ledger.create(resource, status, kinds=["local_auth_disabled"], trigger={}, plan=None, reason="", by="t").id


def test_pages_list_newest_first_by_status_from_the_index(storage: azurite.Azurite) -> None:
    now = [1_800_000_000.0]
    # one second apart, so newest-first is unambiguous
    ledger = Ledger.from_connection_string(
        storage.connection_string, prefix=f"t{secrets.token_hex(4)}", clock=lambda: now[0]
    )
    ids = []
    for n in range(7):
        now[0] += 1
        ids.append(_record(ledger, n, Status.PROPOSED if n % 2 else Status.FAILED))
    first = ledger.page(top=3)
    assert [r.id for r in first.records] == ids[::-1][:3] and first.continuation
    second = ledger.page(top=3, continuation=first.continuation)
    third = ledger.page(top=3, continuation=second.continuation)
    assert [r.id for r in (*second.records, *third.records)] == ids[::-1][3:]
    assert third.continuation is None
    proposed = ledger.page(status=Status.PROPOSED, top=10)
    assert [r.id for r in proposed.records] == [ids[5], ids[3], ids[1]] and proposed.continuation is None
    # A move re-files the record under its new status, and only there.
    moved = ledger.move(ledger.get(ids[5]), Status.REJECTED, by="oncall")  # type: ignore[arg-type]
    assert [r.id for r in ledger.page(status=Status.PROPOSED).records] == [ids[3], ids[1]]
    assert [r.id for r in ledger.page(status=Status.REJECTED).records] == [moved.id]
    assert [r.id for r in ledger.every(Status.FAILED, page_size=2)] == [ids[6], ids[4], ids[2], ids[0]]


def test_a_continuation_token_of_another_listing_is_refused(ledger: Ledger) -> None:
    from remediators.ledger import InvalidContinuation

    _record(ledger, 1)
    _record(ledger, 2)
    token = ledger.page(top=1).continuation
    assert token is not None
    with pytest.raises(InvalidContinuation):
        ledger.page(status=Status.FAILED, continuation=token)
    with pytest.raises(InvalidContinuation):
        ledger.page(continuation="not a token")


def test_a_stale_index_row_is_skipped(ledger: Ledger) -> None:
    # A crash between filing the new status's row and updating the record leaves a row that
    # points at a record in another status: readers skip it.
    remediation_id = _record(ledger, 1)
    record = ledger.get(remediation_id)
    assert record is not None
    from remediators.ledger import _index_row, _status_partition

    ledger._index.upsert_entity(_index_row(_status_partition(Status.APPLYING), record))
    assert ledger.page(status=Status.APPLYING).records == ()
    assert [r.id for r in ledger.page(status=Status.PROPOSED).records] == [remediation_id]


def test_a_lease_is_renewed_only_by_its_holder_while_it_holds_it(storage: azurite.Azurite) -> None:
    now = [1_800_000_000.0]
    ledger = Ledger.from_connection_string(
        storage.connection_string, prefix=f"t{secrets.token_hex(4)}", clock=lambda: now[0]
    )
    assert ledger.acquire(RESOURCE, "first", seconds=60)
    assert not ledger.renew(RESOURCE, "second", seconds=60)
    now[0] += 50
    assert ledger.renew(RESOURCE, "first", seconds=60) and ledger.lease_left(RESOURCE) == 60
    now[0] += 61  # first stalls past its lease; second takes the resource
    assert ledger.acquire(RESOURCE, "second", seconds=60)
    assert not ledger.renew(RESOURCE, "first", seconds=60), "a worker that lost its lease must not write"
