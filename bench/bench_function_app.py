"""Function app benchmarks: cold start against Cloud Custodian's, the trigger path, an event storm.

    make bench        (or: .venv/bin/python bench/bench_function_app.py [--quick] [--c7n PYTHON])

1. Cold start: ``python -c "import function_app"`` against ``python -c "import c7n_azure.function"``
   (PyPI's c7n and c7n-azure, in a separate virtualenv whose Python ``--c7n`` names), run
   interleaved, medians; and the resident memory after the import. Skipped without ``--c7n``.
2. Trigger path: the Event Grid trigger from event to queued message, p50 and p95, with the two
   storage round trips (the seen-event insert, the queue send) timed and subtracted.
3. Event storm: 1,000 Cosmos DB accounts in a managed resource group (300 broken), one event each
   delivered five times, shuffled: 5,000 deliveries through the Event Grid trigger, then the queue
   drained through the queue trigger. Checked: one remediation per broken account, and no more
   ARM writes than broken accounts. Reported: throughput.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import azure.functions as func  # noqa: E402

from emulator import azurite  # noqa: E402
from emulator.host import drain  # noqa: E402
from emulator.twin import Twin  # noqa: E402
from tests.payloads import COSMOS_GET, MANAGED_RG, example, in_group, proving_workspaces  # noqa: E402


def cold_start(c7n_python: str | None, runs: int) -> dict[str, Any] | None:
    ours = [
        sys.executable,
        "-c",
        "import resource, function_app; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
    ]
    theirs = (
        [
            c7n_python,
            "-c",
            "import resource, c7n_azure.function; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
        ]
        if c7n_python
        else None
    )
    timings: dict[str, list[float]] = {"ours": [], "c7n": []}
    memory: dict[str, list[int]] = {"ours": [], "c7n": []}
    for _ in range(runs):  # interleaved, so a busy moment costs both sides alike
        for name, argv in (("ours", ours), ("c7n", theirs)):
            if argv is None:
                continue
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
            timings[name].append(time.perf_counter() - start)
            memory[name].append(int(done.stdout.split()[-1]))
    result: dict[str, Any] = {
        "oursMs": statistics.median(timings["ours"]) * 1e3,
        "oursRssMiB": statistics.median(memory["ours"]) / 1024,
    }
    if timings["c7n"]:
        result["c7nMs"] = statistics.median(timings["c7n"]) * 1e3
        result["c7nRssMiB"] = statistics.median(memory["c7n"]) / 1024
        result["ratio"] = result["oursMs"] / result["c7nMs"]
    return result


def grid_event(resource_id: str, event_id: str) -> func.EventGridEvent:
    return func.EventGridEvent(
        id=event_id,
        data={"resourceUri": resource_id, "operationName": "Microsoft.DocumentDB/databaseAccounts/write",
              "status": "Succeeded", "claims": {"upn": "nightly@contoso.com"}},
        topic="/subscriptions/subid",
        subject=resource_id,
        event_type="Microsoft.Resources.ResourceWriteSuccess",
        event_time=datetime.datetime.now(datetime.UTC),
        data_version="",
    )  # fmt: skip


class Timed:
    """Wraps a storage client method and adds up the time spent in it."""

    def __init__(self, target: Any, name: str) -> None:
        self.seconds = 0.0
        original = getattr(target, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(target, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller storm and fewer runs")
    parser.add_argument("--c7n", metavar="PYTHON", help="the Python of a virtualenv with c7n and c7n-azure")
    args = parser.parse_args()
    accounts, broken_count, runs = (100, 30, 3) if args.quick else (1000, 300, 11)

    start_up = cold_start(args.c7n, runs)

    base = in_group(example(COSMOS_GET), MANAGED_RG)
    resources = []
    for n in range(accounts):
        body = json.loads(json.dumps(base))
        body["id"] = base["id"].replace("/ddb1", f"/ddb{n:04d}")
        body["name"] = f"ddb{n:04d}"
        if n < broken_count:
            body["properties"]["disableLocalAuth"] = True
        resources.append(body)
    deliveries = [(body["id"], f"event-{n}") for n, body in enumerate(resources) for _ in range(5)]
    random.Random(7).shuffle(deliveries)

    with azurite.running() as storage, Twin.start(resources=[*resources, *proving_workspaces(base)]) as twin:
        os.environ.update(twin.environment())
        os.environ.update({
            "GUARD_STORAGE": storage.connection_string,
            "GUARD_WORK_QUEUE": f"bench-{secrets.token_hex(3)}",
            "GUARD_IDENTITY_OBJECT_ID": twin.identity.object_id,
            "GUARD_ARM_POLL_SECONDS": "0",
        })  # fmt: skip
        import function_app

        functions = {str(f.get_function_name()): f.get_user_function() for f in function_app.app.get_functions()}
        wired = function_app.service()
        # The trigger path's storage round trips: the seen-check, the message, the mark.
        checks, marks = Timed(wired.ledger, "seen"), Timed(wired.ledger, "mark_seen")
        sends = Timed(wired.queue, "send_message")

        trigger_ms = []
        storm_start = time.perf_counter()
        for resource_id, event_id in deliveries:
            before = checks.seconds + marks.seconds + sends.seconds
            start = time.perf_counter()
            functions["on_resource_event"](grid_event(resource_id, event_id))
            elapsed = time.perf_counter() - start
            storage_seconds = checks.seconds + marks.seconds + sends.seconds - before
            trigger_ms.append((elapsed - storage_seconds) * 1e3)
        accepted_at = time.perf_counter()
        twin.clear_requests()
        handled = drain(wired.queue, functions["remediate_from_queue"])
        storm_seconds = time.perf_counter() - storm_start
        work_seconds = time.perf_counter() - accepted_at
        remediations = wired.ledger.list(limit=10 * accounts)
        writes = [r for r in twin.requests("PATCH") if (r.caller or {}).get("oid") == twin.identity.object_id]
        wired.pipeline.arm.close()

    assert handled == accounts, f"{handled} messages queued for {accounts} accounts"
    statuses = sorted({str(r.status) for r in remediations})
    assert len(remediations) == broken_count and statuses == ["verified"], (len(remediations), statuses)
    assert len(writes) == broken_count, f"{len(writes)} ARM writes for {broken_count} broken accounts"

    print(f"Function app (Python {sys.version.split()[0]})")
    if start_up is not None:
        line = f"  cold start, import function_app: {start_up['oursMs']:.0f} ms, {start_up['oursRssMiB']:.0f} MiB RSS"
        if "c7nMs" in start_up:
            line += (
                f"; import c7n_azure.function: {start_up['c7nMs']:.0f} ms, {start_up['c7nRssMiB']:.0f} MiB RSS;"
                f" ratio {start_up['ratio']:.2f}x"
            )
        print(line + f" (medians of {runs}, interleaved)")
    trigger_ms.sort()
    p50, p95 = trigger_ms[len(trigger_ms) // 2], trigger_ms[int(len(trigger_ms) * 0.95)]
    print(f"  trigger path (event -> queued), storage round trips excluded: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(
        f"  storm: {len(deliveries)} deliveries for {accounts} accounts ({broken_count} broken): "
        f"{len(remediations)} remediations, {len(writes)} ARM writes; {storm_seconds:.1f} s in all, "
        f"{len(deliveries) / storm_seconds:.0f} deliveries/s; the queue's {handled} messages in {work_seconds:.1f} s"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "function_app.json").write_text(
        json.dumps(
            {
                "coldStart": start_up,
                "triggerP50Ms": p50,
                "triggerP95Ms": p95,
                "deliveries": len(deliveries),
                "accounts": accounts,
                "broken": broken_count,
                "remediations": len(remediations),
                "writes": len(writes),
                "stormSeconds": storm_seconds,
                "deliveriesPerSecond": len(deliveries) / storm_seconds,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
