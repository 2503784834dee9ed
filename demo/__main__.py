"""``make demo``: the field story, replayed on the local Azure twin.

A workspace encrypted with a customer-managed key, its managed resource group (Cosmos DB, AI
Search, Storage), an Azure OpenAI account with its outbound restriction, and an ordinary Cosmos
DB elsewhere. Overnight automation and well-meaning people break them; every write produces the
event ARM's subscription topic would send; each event flows through the real pipeline (real
azure-mgmt clients, real HTTPS, a real managed-identity credential against the twin); the output
says what broke, who broke it, what was done, and the final state. The allowlist the OpenAI fix
restores comes from a baseline in Azure Table Storage (a real Azurite). Nothing is left running.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from emulator import azurite
from emulator.twin import Twin
from remediators.arm import Arm, credential
from remediators.baselines import TableBaselines, baseline_of
from remediators.pipeline import Outcome, Pipeline, State
from remediators.scope import ScopeRules
from remediators.signals import parse_signals

SEED = Path(__file__).parent / "seed"

NIGHTLY = {
    "appid": "7f1c9a52-5d3e-4b8a-9d41-3f2a6c1b0e77",
    "oid": "5e0c2f4b-8a7d-4c19-b6e3-2d9f1a0c7b55",
    "idtyp": "app",
    "name": "nightly-policy-automation",
}
ADMIN = {"upn": "admin@contoso.com", "oid": "a3b1c2d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "idtyp": "user"}
DEVELOPER = {"upn": "dev@contoso.com", "oid": "b4c2d3e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", "idtyp": "user"}


def story(seed: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any], str, dict[str, Any], str]]:
    """(what happened, who, resource id, PATCH body, api-version), in the order the field saw it."""
    return [
        (
            "Overnight, automation 'disables local auth on every Cosmos DB'",
            NIGHTLY,
            seed["cosmos-db"]["id"],
            {"properties": {"disableLocalAuth": True}},
            "2026-03-15",
        ),
        (
            "An admin locks the AI Search firewall",
            ADMIN,
            seed["ai-search"]["id"],
            {"properties": {"publicNetworkAccess": "Disabled"}},
            "2025-05-01",
        ),
        (
            "The same automation turns shared-key access off on the Storage account",
            NIGHTLY,
            seed["storage"]["id"],
            {"properties": {"allowSharedKeyAccess": False}},
            "2026-09-01",
        ),
        (
            "A developer removes the OpenAI account's outbound restriction",
            DEVELOPER,
            seed["openai"]["id"],
            {"properties": {"restrictOutboundNetworkAccess": False, "allowedFqdnList": []}},
            "2025-09-01",
        ),
        (
            "The automation disables local auth on an ordinary Cosmos DB too",
            NIGHTLY,
            seed["ordinary-cosmos-db"]["id"],
            {"properties": {"disableLocalAuth": True}},
            "2026-03-15",
        ),
    ]


def main() -> int:
    started = time.monotonic()
    seed = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(SEED.glob("*.json"))}
    arrived: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_event(event: dict[str, Any]) -> None:
        with lock:
            arrived.append(event)

    with azurite.running() as storage, Twin.start(SEED, subscribers=[on_event]) as twin:
        os.environ.update(twin.environment())  # the pipeline's managed-identity credential asks the twin
        ours = twin.identity.object_id
        # Last night's sweep recorded the healthy account's allowlist in Table Storage (Azurite).
        baselines = TableBaselines.from_connection_string(storage.connection_string)
        openai = twin.resource(seed["openai"]["id"])
        assert openai is not None
        baselines.record(baseline_of(openai, recorded_at="2026-11-22T23:00:00Z", source="nightly sweep"))
        arm = Arm(credential(None), endpoint=twin.arm, connection_verify=twin.ca_path, polling_interval=0.05)
        pipeline = Pipeline(arm, ScopeRules(), baselines=baselines)

        print("Foundry Guard demo: the field story on the local Azure twin")
        print(f"  twin: {twin.arm}  (ARM, managed identity, events)")
        print(f"  Azurite: {storage.table_endpoint}  (Table Storage)")
        print(f"  managed resource group: {seed['cosmos-db']['id'].split('/')[4]}")
        recorded = baselines.baseline_for(openai["id"])
        fqdns = recorded.get("properties.allowedFqdnList") if recorded else None
        print(f"  baseline in Table Storage for contoso-openai: allowedFqdnList {json.dumps(fqdns)}")
        print()

        handled = 0
        for number, (what, actor, resource_id, body, api_version) in enumerate(story(seed), start=1):
            print(f"[{number}] {what}")
            answer = twin.call("PATCH", resource_id, body, claims=actor, api_version=api_version)
            twin.finish_operations()  # the provider completes the write; ARM's event follows
            change = json.dumps(body["properties"])
            print(f"    {actor_name(actor)} PATCH {short(resource_id)} {change}: HTTP {answer.status}")
            twin.wait_for_events(handled + 1)
            while True:
                with lock:
                    pending = arrived[handled:]
                if not pending:
                    break
                for event in pending:
                    handled += 1
                    report(pipeline, event, ours)
                twin.wait_idle()
            print()

        print("Final state")
        for name, keys in FINAL.items():
            body = twin.resource(seed[name]["id"]) or {}
            properties = body.get("properties", {})
            shown = ", ".join(f"{key} {json.dumps(properties.get(key))}" for key in keys)
            if name == "ordinary-cosmos-db":
                shown += "  (the owner's choice: left alone)"
            print(f"  {short(seed[name]['id']):<34} {shown}")
        calls = [
            r
            for r in twin.requests()
            if r.path.casefold().startswith("/subscriptions/") and (r.caller or {}).get("oid") == ours
        ]
        writes = sum(1 for r in calls if r.method == "PATCH")
        arm.close()
    print(
        f"\nFoundry Guard made {len(calls)} ARM requests ({writes} of them fixes, the rest reads and "
        f"operation polls); finished in {time.monotonic() - started:.1f} s, and the twin and Azurite are stopped."
    )
    return 0


FINAL = {
    "cosmos-db": ["disableLocalAuth"],
    "ai-search": ["publicNetworkAccess"],
    "storage": ["allowSharedKeyAccess"],
    "openai": ["restrictOutboundNetworkAccess", "allowedFqdnList"],
    "ordinary-cosmos-db": ["disableLocalAuth"],
}


def report(pipeline: Pipeline, event: dict[str, Any], ours: str) -> None:
    parsed = parse_signals(event)
    for rejected in parsed.rejected:
        print(f"    event refused: {rejected.reason}")
    for signal in parsed.signals:
        claims = event.get("data", {}).get("claims", {})
        own = ours in json.dumps(claims)
        outcome = pipeline.handle([signal])[0]
        if own:
            print(f"    our own fix came back as an event: re-read, {outcome.state}")
            continue
        who = signal.actor.name if signal.actor else "someone"
        print(f"    event {signal.event_type} by {who}")
        describe(outcome)


def describe(outcome: Outcome) -> None:
    for finding in outcome.findings:
        print(
            f"    found {finding.kind} [{finding.confidence}] {finding.property}: "
            f"{json.dumps(finding.observed)} -> {json.dumps(finding.expected)}"
        )
    if outcome.state is State.VERIFIED:
        print(f"    fixed: PATCH {json.dumps(outcome.applied, separators=(',', ':'))}")
        print(f"    verified by a fresh read ({', '.join(outcome.arm_calls)})")
    elif outcome.state is State.PROPOSED:
        for finding in outcome.proposed:
            print(f"    proposed for a person: PATCH {finding.plan.body_bytes().decode()}")
    else:
        print(f"    {outcome.state}: {outcome.reason}")


def actor_name(claims: dict[str, Any]) -> str:
    return str(claims.get("upn") or claims.get("name") or claims.get("appid"))


def short(resource_id: str) -> str:
    parts = resource_id.split("/")
    return f"{parts[-2]}/{parts[-1]}"


if __name__ == "__main__":
    sys.exit(main())
