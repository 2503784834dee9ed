"""The remediations listing at scale: the first page, newest first, against Azurite.

    make bench        (or: .venv/bin/python bench/bench_ledger.py [--sizes 1000,10000,100000])

The ledger is filled with 1,000 and then 10,000 records by default (each with its index rows,
written in batches of 100 per partition, as the ledger itself would have written them one by
one). Then, at each size, the time of ``Ledger.page(top=50)`` (all statuses) and
``page(status=failed)``, median of repeated runs, against the same work done the way the listing
worked before the index: read every record and sort (measured at the first size; it grows with
the table). ``--sizes`` takes larger tables: Azurite's in-memory table store slows as it grows,
so filling 100,000 records took over an hour on a loaded 2-core machine.

What the figure leaves out: the HTTP function's own JSON encoding, and a real storage account's
latency (Azurite is on loopback: each point read costs well under a millisecond more on Azure's
network than here, and the page's 50 point reads run 16 at a time).
"""

from __future__ import annotations

import argparse
import datetime
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator import azurite  # noqa: E402
from remediators.ledger import (  # noqa: E402
    _ALL,
    Ledger,
    Remediation,
    Status,
    _entity,
    _hashed,
    _index_row,
    _iso,
    _record,
    _status_partition,
)

RESOURCE = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/azureml-rg-ws_"
    "5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c/providers/Microsoft.DocumentDB/databaseAccounts/ddb{n}"
)
STATUSES = (Status.VERIFIED, Status.VERIFIED, Status.VERIFIED, Status.PROPOSED, Status.FAILED, Status.SUPPRESSED)


def fill(ledger: Ledger, start: int, count: int) -> None:
    """``count`` more records, one second apart, each with its two index rows, in batches."""
    base = 1_800_000_000.0
    batches: dict[tuple[str, str], list[dict[str, object]]] = {}

    def add(table: str, row: dict[str, object]) -> None:
        key = (table, str(row["PartitionKey"]))
        batch = batches.setdefault(key, [])
        batch.append(row)
        if len(batch) == 100:
            flush(table, batches.pop(key))

    def flush(table: str, rows: list[dict[str, object]]) -> None:
        client = ledger._remediations if table == "records" else ledger._index
        client.submit_transaction([("upsert", row) for row in rows])

    for n in range(start, start + count):
        created = _iso(base + n)
        resource_id = RESOURCE.format(n=n)
        status = STATUSES[n % len(STATUSES)]
        remediation = Remediation(
            id=f"{_hashed(resource_id)[0]}-{int((base + n) * 1e9):x}-{secrets.token_hex(4)}",
            resource_id=resource_id,
            status=status,
            kinds=("local_auth_disabled",),
            trigger={"source": "eventgrid"},
            plan={"properties": {"disableLocalAuth": False}},
            reason="fixed and verified by a fresh read",
            created_at=created,
            updated_at=created,
            history=({"status": str(status), "at": created, "by": "foundry-guard", "note": ""},),
        )
        add("records", _entity(remediation))
        add("index", _index_row(_ALL, remediation))
        add("index", _index_row(_status_partition(status), remediation))
    for (table, _), rows in batches.items():
        flush(table, rows)


def timed(action: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def scan_and_sort(ledger: Ledger) -> list[Remediation]:
    """The listing before the index: every record read and sorted, for the newest 50."""
    records = (_record(row) for row in ledger._remediations.list_entities())
    return sorted(records, key=lambda r: r.created_at, reverse=True)[:50]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="table sizes to measure at, ascending")
    parser.add_argument("--runs", type=int, default=15, help="runs per median")
    args = parser.parse_args()
    sizes, runs = tuple(int(size) for size in args.sizes.split(",")), args.runs
    print(f"Remediations listing on Azurite (Python {sys.version.split()[0]})")
    with azurite.running() as storage:
        ledger = Ledger.from_connection_string(storage.connection_string, prefix=f"b{secrets.token_hex(3)}")
        filled = 0
        for size in sizes:
            started = time.perf_counter()
            fill(ledger, filled, size - filled)
            filled = size
            took = time.perf_counter() - started
            first = ledger.page(top=50)
            assert len(first.records) == 50 and first.records[0].created_at > first.records[-1].created_at
            page = timed(lambda: ledger.page(top=50), runs)
            failed = timed(lambda: ledger.page(status=Status.FAILED, top=50), runs)
            line = f"  {size:>7,} records (filled in {took:.0f} s): first page {page * 1e3:.0f} ms"
            line += f", first page of failed {failed * 1e3:.0f} ms"
            if size == sizes[0]:
                before = timed(lambda: scan_and_sort(ledger), 3)
                line += f"; read-all-and-sort {before * 1e3:.0f} ms ({before / page:.0f}x the page)"
            print(line)
    print(f"  (medians of {runs} runs; {datetime.datetime.now(datetime.UTC):%Y-%m-%d})")


if __name__ == "__main__":
    main()
