"""Pipeline benchmarks on the local twin: ARM calls per event, and the pipeline's own overhead.

    make bench        (or: .venv/bin/python bench/bench_pipeline.py [--quick])

1. ARM calls per event, counted from what the twin received (``/_twin/requests``): an event
   outside scope, a healthy guarded resource (with the workspace inventory that proves its group
   read, and with it cached), and one per broken kind (inventory cached). The inventory is two
   lists per subscription, read again when older than five minutes: that cost is per
   subscription and time, not per event.
2. Overhead: with 50 ms of latency injected into every ARM call, the time each event spends in
   the pipeline's own code (wall time minus time inside HTTP calls, measured by a per-try policy
   on the SDK pipeline) as a fraction of the time spent waiting on ARM. Events after the first
   (which pays the SDK imports and client construction, reported separately).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from azure.core.pipeline.policies import SansIOHTTPPolicy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.twin import Twin  # noqa: E402
from remediators.arm import Arm, credential  # noqa: E402
from remediators.baselines import Baseline, InMemoryBaselines  # noqa: E402
from remediators.pipeline import Pipeline  # noqa: E402
from remediators.scope import ScopeRules  # noqa: E402
from tests.payloads import proving_workspaces, with_properties  # noqa: E402
from tests.test_pipeline_twin import COSMOS, OPENAI, ORDINARY_COSMOS, SEARCH, STORAGE  # noqa: E402

LATENCY_MS = 50
BROKEN = {
    "cosmos local auth (long-running)": (COSMOS, {"disableLocalAuth": True}),
    "search firewall": (SEARCH, {"publicNetworkAccess": "Disabled"}),
    "storage shared key": (STORAGE, {"allowSharedKeyAccess": False}),
    "openai outbound (long-running)": (OPENAI, {"restrictOutboundNetworkAccess": False}),
}


class TransportTimer(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Adds up the time each try spends between sending a request and receiving its response."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: dict[int, float] = {}

    def on_request(self, request: Any) -> None:
        self._started[id(request.http_request)] = time.perf_counter()

    def on_response(self, request: Any, response: Any) -> None:
        self.seconds += time.perf_counter() - self._started.pop(id(request.http_request), time.perf_counter())


def arm_calls(twin: Twin) -> list[str]:
    return [
        _call_name(r.path.casefold(), r.method)
        for r in twin.requests()
        if r.path.casefold().startswith("/subscriptions/")
    ]


def _call_name(path: str, method: str) -> str:
    if "operation" in path:
        return "poll"
    if path.endswith(("/workspaces", "/registries")):
        return "LIST"  # the workspace inventory
    return method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    rounds = 2 if parser.parse_args().quick else 10

    with Twin.start(
        resources=[COSMOS, SEARCH, STORAGE, OPENAI, ORDINARY_COSMOS, *proving_workspaces(COSMOS, SEARCH, STORAGE)]
    ) as twin:
        os.environ.update(twin.environment())
        timer = TransportTimer()
        baselines = InMemoryBaselines()
        baselines.record(Baseline(OPENAI["id"], {"properties.allowedFqdnList": ["microsoft.com"]}))
        arm = Arm(
            credential(None),
            endpoint=twin.arm,
            connection_verify=twin.ca_path,
            polling_interval=0,
            per_retry_policies=[timer],
        )
        pipeline = Pipeline(arm, ScopeRules(), baselines=baselines)

        counts: dict[str, list[str]] = {}
        cold_start = time.perf_counter()
        twin.clear_requests()
        pipeline.remediate(COSMOS["id"])  # the first event imports the SDK and builds the client
        cold = time.perf_counter() - cold_start
        counts["healthy, inventory read"] = arm_calls(twin)
        for name, resource_id in [
            ("outside scope", ORDINARY_COSMOS["id"]),
            ("healthy, inventory cached", SEARCH["id"]),
        ]:
            twin.clear_requests()
            pipeline.remediate(resource_id)
            counts[name] = arm_calls(twin)
        pipeline.inventory.lookup(STORAGE["id"].split("/")[2])  # Microsoft's Storage example: another subscription
        for name, (resource, broken) in BROKEN.items():
            twin.set_resource(with_properties(resource, **broken))
            twin.clear_requests()
            pipeline.remediate(resource["id"])
            counts[name] = arm_calls(twin)

        twin.add_fault({"kind": "latency", "ms": LATENCY_MS})
        ratios, walls = [], []
        for _ in range(rounds):
            for resource, broken in [*BROKEN.values(), (SEARCH, {})]:
                twin.set_resource(with_properties(resource, **broken))
                timer.seconds = 0.0
                start = time.perf_counter()
                pipeline.remediate(resource["id"])
                wall = time.perf_counter() - start
                walls.append(wall)
                ratios.append((wall - timer.seconds) / timer.seconds)
        arm.close()

    print(f"Pipeline on the twin (Python {sys.version.split()[0]})")
    print("  ARM calls per event (from /_twin/requests):")
    for name, calls in counts.items():
        print(f"    {name:<34} {len(calls):>2}  {' '.join(calls) or '-'}")
    print(f"  first event (SDK import + client): {cold * 1e3:.0f} ms")
    print(
        f"  with {LATENCY_MS} ms per ARM call, {len(ratios)} events: pipeline overhead / ARM wait "
        f"median {statistics.median(ratios):.1%}, max {max(ratios):.1%}; "
        f"median event {statistics.median(walls) * 1e3:.0f} ms"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "pipeline.json").write_text(
        json.dumps(
            {
                "calls": counts,
                "coldMs": cold * 1e3,
                "overheadMedian": statistics.median(ratios),
                "overheadMax": max(ratios),
                "eventMsMedian": statistics.median(walls) * 1e3,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
