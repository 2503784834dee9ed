"""From event to ``verified`` for the long-running fixes, with Azure's real settle times.

    make bench        (or: .venv/bin/python bench/bench_settle.py [--quick])

The twin settles a Cosmos DB update in 31 s and a Cognitive Services update in 37 s of real time
(about what Azure's recorded traffic shows: emulator/README.md), longer than the default 25 s
budget. Someone breaks a managed Cosmos DB and removes an OpenAI account's outbound restriction;
each write's event goes to the function app's Event Grid trigger, and a host loop hands every
visible queue message to the queue trigger, as the Functions host does, until both remediations
read ``verified``. Reported: the time from each event to ``verified``, against the provider's
settle time (the goal: under 2x, where waiting for the hourly sweep took up to an hour).

What it leaves out: Event Grid's own delivery delay (seconds on Azure) and the host's queue
polling back-off (the loop here polls every half second).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import azure.functions as func  # noqa: E402

from emulator import azurite  # noqa: E402
from emulator.host import AUTHENTICATION_ON, grid_event  # noqa: E402
from emulator.twin import Twin  # noqa: E402
from remediators.ledger import Status  # noqa: E402
from tests.payloads import proving_workspaces  # noqa: E402
from tests.test_pipeline_twin import COSMOS, OPENAI  # noqa: E402

ADMIN = {"upn": "admin@contoso.com", "oid": "11111111-2222-3333-4444-555555555555", "idtyp": "user"}
BREAKS = {  # resource, the change, its api-version, the provider's settle time (s)
    "Cosmos DB local auth": (COSMOS, {"disableLocalAuth": True}, "2026-03-15", 31.0),
    "OpenAI outbound restriction": (OPENAI, {"restrictOutboundNetworkAccess": False}, "2025-09-01", 37.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="settle times of 3 s and 4 s, a 2 s budget")
    quick = parser.parse_args().quick
    scale = 0.1 if quick else 1.0
    lro = {"cosmosSettleSeconds": 31.0 * scale, "cognitiveSettleSeconds": 37.0 * scale, "cosmosPolls": 0,
           "cognitivePolls": 0}  # fmt: skip
    resources = [COSMOS, OPENAI, *proving_workspaces(COSMOS)]
    with azurite.running() as storage, Twin.start(resources=resources, config={"lro": lro}) as twin:
        os.environ.update({**twin.environment(), **AUTHENTICATION_ON})
        os.environ.update({
            "GUARD_STORAGE": storage.connection_string,
            "GUARD_WORK_QUEUE": f"settle-{secrets.token_hex(3)}",
            "GUARD_IDENTITY_OBJECT_ID": twin.identity.object_id,
        })  # fmt: skip
        if quick:
            os.environ.update({"GUARD_ARM_BUDGET_SECONDS": "2", "GUARD_ARM_POLL_SECONDS": "0.5"})
        import function_app

        functions = {str(f.get_function_name()): f.get_user_function() for f in function_app.app.get_functions()}
        wired = function_app.service()
        if quick:
            wired.first_delay_seconds = 1.5
        wired.baselines.record(_baseline(OPENAI["id"]))

        started: dict[str, float] = {}
        for name, (resource, change, api_version, _) in BREAKS.items():
            before = len(twin.events())
            twin.call("PATCH", resource["id"], {"properties": change}, claims=ADMIN, api_version=api_version)
            started[name] = time.monotonic()
            twin.finish_operations()  # the breaking write itself completes at once
            functions["on_resource_event"](grid_event(twin.wait_for_events(before + 1)[-1]))

        verified: dict[str, float] = {}
        deadline = time.monotonic() + 600
        while len(verified) < len(BREAKS) and time.monotonic() < deadline:
            for message in wired.queue.receive_messages(max_messages=16, visibility_timeout=300):
                functions["remediate_from_queue"](func.QueueMessage(id=message.id, body=message.content.encode()))
                wired.queue.delete_message(message)
            for name, (resource, *_rest) in BREAKS.items():
                records = wired.ledger.for_resource(resource["id"])
                if name not in verified and records and records[0].status is Status.VERIFIED:
                    verified[name] = time.monotonic() - started[name]
            time.sleep(0.5)
        wired.pipeline.arm.close()

    budget = os.environ.get("GUARD_ARM_BUDGET_SECONDS", "25")
    print(f"Event to verified, long-running fixes (Python {sys.version.split()[0]}, budget {budget} s)")
    for name, (*_rest, settle) in BREAKS.items():
        took = verified.get(name)
        shown = f"{took:.1f} s, {took / (settle * scale):.2f}x" if took is not None else "not verified in 10 min"
        print(f"  {name:<30} settles in {settle * scale:.1f} s; verified after {shown}")


def _baseline(resource_id: str) -> Any:
    from remediators.baselines import Baseline

    return Baseline(resource_id, {"properties.allowedFqdnList": ["microsoft.com"]})


if __name__ == "__main__":
    main()
