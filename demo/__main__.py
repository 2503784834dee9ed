"""``make demo``: the field story, replayed on the local Azure twin through the function app itself.

A workspace encrypted with a customer-managed key, its managed resource group (Cosmos DB, AI
Search, Storage), an Azure OpenAI account with its outbound restriction, and an ordinary Cosmos
DB elsewhere. Last night's sweep (the timer function) recorded the OpenAI account's allowlist in
Table Storage (a real Azurite). Then automation and well-meaning people break things. Every write
produces the event ARM's subscription topic would send; each goes to the function app's Event
Grid trigger, which queues it; the queue trigger runs the worker (real azure-mgmt clients, real
HTTPS, a managed-identity token from the twin); on-call gets a Teams card; the last change needs a
person, who approves it through the HTTP API. A group named like a managed one, that no
workspace names, is reported and left alone: a name proves nothing. Nothing is left running.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

import azure.functions as func

from emulator import azurite
from emulator.host import AUTHENTICATION_ON, drain, grid_event, signed_in
from emulator.twin import Twin
from remediators.logcontext import install
from remediators.principal import APPROVE

SEED = Path(__file__).parent / "seed"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"

NIGHTLY = {
    "appid": "7f1c9a52-5d3e-4b8a-9d41-3f2a6c1b0e77",
    "oid": "5e0c2f4b-8a7d-4c19-b6e3-2d9f1a0c7b55",
    "idtyp": "app",
    "name": "nightly-policy-automation",
}
ADMIN = {"upn": "admin@contoso.com", "oid": "a3b1c2d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "idtyp": "user"}
DEVELOPER = {"upn": "dev@contoso.com", "oid": "b4c2d3e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", "idtyp": "user"}
ONCALL = {"name": "oncall@contoso.com", "oid": "0b6f5a4e-3d2c-4b1a-9f8e-7d6c5b4a3f2e"}  # holds Remediation.Approve

# (what happened, who, seed file, PATCH properties, api-version), in the order the field saw it.
STORY = [
    ("Overnight, automation 'disables local auth on every Cosmos DB'", NIGHTLY, "cosmos-db",
     {"disableLocalAuth": True}, "2026-03-15"),
    ("An admin locks the AI Search firewall", ADMIN, "ai-search", {"publicNetworkAccess": "Disabled"}, "2025-05-01"),
    ("The same automation turns shared-key access off on the Storage account", NIGHTLY, "storage",
     {"allowSharedKeyAccess": False}, "2026-09-01"),
    ("A developer removes the OpenAI account's outbound restriction", DEVELOPER, "openai",
     {"restrictOutboundNetworkAccess": False, "allowedFqdnList": []}, "2025-09-01"),
    ("The automation disables local auth on an ordinary Cosmos DB too", NIGHTLY, "ordinary-cosmos-db",
     {"disableLocalAuth": True}, "2026-03-15"),
    ("The developer adds an endpoint to the OpenAI account's allowlist", DEVELOPER, "openai",
     {"restrictOutboundNetworkAccess": True, "allowedFqdnList": ["microsoft.com", "paste.example.net"]}, "2025-09-01"),
    ("A team's own Cosmos DB, in a group named like a managed one, gets local auth off", ADMIN, "lookalike-cosmos-db",
     {"disableLocalAuth": True}, "2026-03-15"),
]  # fmt: skip
# A group named like a workspace's managed group, but no workspace names it: anyone may create one.
LOOKALIKE_GROUP = "azureml-rg-contoso-ws_0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"

FINAL = {
    "cosmos-db": ["disableLocalAuth"],
    "ai-search": ["publicNetworkAccess"],
    "storage": ["allowSharedKeyAccess"],
    "openai": ["restrictOutboundNetworkAccess", "allowedFqdnList"],
    "ordinary-cosmos-db": ["disableLocalAuth"],
    "lookalike-cosmos-db": ["disableLocalAuth"],
}


def main() -> int:
    install()  # as every entry point: each log record, any library's, is redacted where it is made
    started = time.monotonic()
    seed = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(SEED.glob("*.json"))}
    seed["lookalike-cosmos-db"] = lookalike(seed["ordinary-cosmos-db"])
    arrived: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_event(event: dict[str, Any]) -> None:
        with lock:
            arrived.append(event)

    with (
        azurite.running() as storage,
        Twin.start(SEED, resources=[seed["lookalike-cosmos-db"]], subscribers=[on_event]) as twin,
    ):
        os.environ.update(twin.environment())  # the function app's managed identity asks the twin for tokens
        os.environ.update({
            "GUARD_STORAGE": storage.connection_string,
            "GUARD_WORK_QUEUE": f"demo-{secrets.token_hex(3)}",
            "GUARD_IDENTITY_OBJECT_ID": twin.identity.object_id,
            "GUARD_SWEEP_SUBSCRIPTIONS": SUBSCRIPTION,
            "GUARD_NOTIFY_TEAMS_WEBHOOK_URL": twin.sink_url("oncall-teams"),
            "GUARD_APPROVAL_BASE_URL": "https://guard.contoso.com",
            "GUARD_ARM_POLL_SECONDS": "0.05",
        })  # fmt: skip
        # The demo plays App Service authentication's part: on Azure the platform sets this when
        # authentication is on (it always is, as deployed), and only then are approvers believed.
        os.environ.update(AUTHENTICATION_ON)
        import function_app  # after the settings: it reads them on first use

        functions = {str(f.get_function_name()): f.get_user_function() for f in function_app.app.get_functions()}
        wired = function_app.service()

        print("Foundry Guard demo: the field story on the local Azure twin, through the function app")
        print(f"  twin: {twin.arm}  (ARM, managed identity, events, a Teams webhook)")
        print(f"  Azurite: {storage.table_endpoint}  (ledger, baselines, work queue)")
        group = seed["cosmos-db"]["id"].split("/")[4]
        inventory, _ = wired.pipeline.inventory.lookup(SUBSCRIPTION)
        proof = inventory.prove(group, wired.pipeline.rules)
        print(f"  managed resource group: {group}")
        print(f"    proven by workspace {short(proof.proven_by or '')}: it names the group, customer-managed key")
        functions["sweep"](None)
        drain(wired.queue, functions["remediate_from_queue"])
        recorded = wired.baselines.baseline_for(seed["openai"]["id"])
        fqdns = recorded.get("properties.allowedFqdnList") if recorded else None
        print(f"  last night's sweep recorded contoso-openai's allowlist: {json.dumps(fqdns)}")
        print()

        handled = 0
        for number, (what, actor, name, properties, api_version) in enumerate(STORY, start=1):
            resource_id = seed[name]["id"]
            print(f"[{number}] {what}")
            answer = twin.call("PATCH", resource_id, {"properties": properties}, claims=actor, api_version=api_version)
            twin.finish_operations()  # the provider completes the write; ARM's event follows
            print(f"    {who(actor)} PATCH {short(resource_id)} {json.dumps(properties)}: HTTP {answer.status}")
            before = {r.id for r in wired.ledger.for_resource(resource_id)}
            twin.wait_for_events(handled + 1)
            while True:  # every event, ours included, goes to the Event Grid trigger
                with lock:
                    pending = arrived[handled:]
                if not pending:
                    break
                for event in pending:
                    handled += 1
                    functions["on_resource_event"](grid_event(event))
                drain(wired.queue, functions["remediate_from_queue"])
                twin.wait_idle()
            new = [r for r in wired.ledger.for_resource(resource_id) if r.id not in before]
            if not new:
                reason = wired.pipeline.screen(resource_id)
                print(f"    left alone: {reason}" if reason else "    nothing to fix")
            for remediation in new:
                describe(remediation)
                if remediation.status == "proposed":
                    approve(functions, remediation.id)
            print()

        cards = twin.sink("oncall-teams")
        print(f"On-call received {len(cards)} Teams cards; the ledger holds {len(wired.ledger.list())} remediations.")
        print("\nFinal state")
        for name, keys in FINAL.items():
            properties = (twin.resource(seed[name]["id"]) or {}).get("properties", {})
            shown = ", ".join(f"{key} {json.dumps(properties.get(key))}" for key in keys)
            if name == "ordinary-cosmos-db":
                shown += "  (the owner's choice: left alone)"
            if name == "lookalike-cosmos-db":
                shown += "  (no workspace names its group: left alone)"
            print(f"  {short(seed[name]['id']):<34} {shown}")
        ours = twin.identity.object_id
        calls = [
            r for r in twin.requests() if r.path.startswith("/subscriptions/") and (r.caller or {}).get("oid") == ours
        ]
        writes = sum(1 for r in calls if r.method == "PATCH")
        wired.pipeline.arm.close()
    print(
        f"\nFoundry Guard made {len(calls)} ARM requests ({writes} of them fixes, the rest reads, lists and "
        f"operation polls); finished in {time.monotonic() - started:.1f} s, and the twin and Azurite are stopped."
    )
    return 0


def describe(remediation: Any) -> None:
    actor = (remediation.trigger or {}).get("actor") or {}
    print(f"    event by {actor.get('name') or 'someone'} -> remediation {remediation.id}: {remediation.status}")
    print(f"    kinds: {', '.join(remediation.kinds)}")
    if remediation.status == "verified":
        print(f"    fixed: PATCH {json.dumps(remediation.plan, separators=(',', ':'))}, verified by a fresh read")
    elif remediation.status == "proposed":
        print(f"    proposed for a person: PATCH {json.dumps(remediation.plan, separators=(',', ':'))}")
    elif remediation.status == "suppressed":
        print(f"    observed, nothing loosened: {remediation.reason}")
    else:
        print(f"    {remediation.reason}")


def approve(functions: dict[str, Any], remediation_id: str) -> None:
    route = f"remediations/{remediation_id}/approve"
    request = func.HttpRequest(
        "POST",
        f"https://guard.contoso.com/api/{route}",
        # Playing the platform again: App Service authentication checked the on-call engineer's
        # Entra ID token and sends the app who they are and their app roles (X-MS-CLIENT-PRINCIPAL).
        headers=signed_in(ONCALL["oid"], ONCALL["name"], APPROVE),
        route_params={"remediation_id": remediation_id},
        body=b"",
    )
    answer = functions["approve"](request)
    done = json.loads(answer.get_body())
    print(f"    {ONCALL['name']} approves it (POST /api/{route}): HTTP {answer.status_code}, {done['status']}")


def lookalike(ordinary: dict[str, Any]) -> dict[str, Any]:
    """The ordinary Cosmos DB's body, healthy, as another account in ``LOOKALIKE_GROUP``."""
    body: dict[str, Any] = json.loads(json.dumps(ordinary))
    segments = body["id"].split("/")
    segments[4], segments[-1] = LOOKALIKE_GROUP, "team-db"
    body["id"], body["name"] = "/".join(segments), "team-db"
    body["properties"]["disableLocalAuth"] = False
    return body


def who(claims: dict[str, Any]) -> str:
    return str(claims.get("upn") or claims.get("name") or claims.get("appid"))


def short(resource_id: str) -> str:
    parts = resource_id.split("/")
    return f"{parts[-2]}/{parts[-1]}"


if __name__ == "__main__":
    sys.exit(main())
