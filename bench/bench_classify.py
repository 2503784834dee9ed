"""Benchmarks for classification: speed and memory, as ratios to a baseline where one exists.

    make bench        (or: .venv/bin/python bench/bench_classify.py [--quick])

1. classify() per resource, against json.loads() of the same body: what detection costs on top
   of merely reading the resource. The bodies are the example payloads the tests use, broken and
   healthy, in and out of managed resource groups.
2. CLI start-up: ``python -m remediators classify FILE`` against ``python -c pass``: what the
   import path costs a one-shot invocation (the cold-start concern of the function app).
3. Memory: peak bytes allocated (tracemalloc) while classifying one resource, against the bytes
   json.loads allocates for the same body.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediators.classify import classify  # noqa: E402
from remediators.scope import ScopeRules  # noqa: E402
from tests.test_detect_and_plan import BROKEN, HEALTHY, NEVER  # noqa: E402


def corpus() -> list[dict[str, Any]]:
    bodies = [case.resource() for case in BROKEN]
    bodies += [make() for make in HEALTHY.values()]
    bodies += [make() for make in NEVER.values()]
    return bodies


def per_call_seconds(function: Callable[[], object], repeat: int, number: int) -> float:
    """Best-of-``repeat`` mean over ``number`` calls: the least disturbed measurement."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def bench_classify(bodies: list[dict[str, Any]], repeat: int, number: int) -> dict[str, float]:
    rules = ScopeRules()
    texts = [json.dumps(body) for body in bodies]
    classify_s = per_call_seconds(lambda: [classify(body, rules) for body in bodies], repeat, number) / len(bodies)
    parse_s = per_call_seconds(lambda: [json.loads(text) for text in texts], repeat, number) / len(bodies)
    return {"classify_us": classify_s * 1e6, "json_loads_us": parse_s * 1e6, "ratio": classify_s / parse_s}


def bench_startup(runs: int) -> dict[str, float]:
    example = ROOT / "examples" / "broken-managed-rg" / "cosmos-db.json"

    def median_wall(argv: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    cli = median_wall([sys.executable, "-m", "remediators", "classify", str(example)])
    bare = median_wall([sys.executable, "-c", "pass"])
    return {"cli_ms": cli * 1e3, "python_ms": bare * 1e3, "ratio": cli / bare}


def peak_bytes(function: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_memory(bodies: list[dict[str, Any]]) -> dict[str, float]:
    rules = ScopeRules()
    texts = [json.dumps(body) for body in bodies]
    classify_kib = statistics.median(peak_bytes(partial(classify, body, rules)) for body in bodies) / 1024
    parse_kib = statistics.median(peak_bytes(partial(json.loads, text)) for text in texts) / 1024
    return {"classify_peak_kib": classify_kib, "json_loads_peak_kib": parse_kib, "ratio": classify_kib / parse_kib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    repeat, number, runs = (3, 20, 5) if args.quick else (7, 200, 21)

    bodies = corpus()
    speed = bench_classify(bodies, repeat, number)
    startup = bench_startup(runs)
    memory = bench_memory(bodies)
    results = {
        "python": sys.version.split()[0],
        "resources": len(bodies),
        "classify": speed,
        "startup": startup,
        "memory": memory,
    }

    print(f"Foundry Guard benchmarks (Python {results['python']}, {len(bodies)} example resources)")
    print(
        f"  classify per resource  {speed['classify_us']:8.1f} us   json.loads {speed['json_loads_us']:7.1f} us"
        f"   ratio {speed['ratio']:.2f}x"
    )
    print(
        f"  CLI classify, median   {startup['cli_ms']:8.1f} ms   python -c pass {startup['python_ms']:5.1f} ms"
        f"   ratio {startup['ratio']:.2f}x"
    )
    print(
        f"  peak memory, median    {memory['classify_peak_kib']:8.1f} KiB  "
        f"json.loads {memory['json_loads_peak_kib']:6.1f} KiB"
        f"  ratio {memory['ratio']:.2f}x"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
