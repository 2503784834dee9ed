"""Command line (DESIGN section 5).

``classify FILE|- [...]``  classify resource bodies; no call to Azure.
``handle FILE|- [--dry-run]``  run the pipeline for an Event Grid event or batch, or an alert.
``scan --subscription ID [--apply]``  sweep every guarded resource of a subscription; say what the
    workspace inventory proves, and where Foundry Guard's roles disagree with that proof.
``roles``  print the least-privilege custom roles.
``infra``  check (or ``--write``) the files under ``infra/`` derived from the code.
``policy check FILE|- [--all]``  which policy assignments would break managed resource groups; no
    call to Azure.

Exit status: 0 when every input was handled (broken or not); 1 when a remediation failed;
2 when an input is not usable or the configuration is invalid, with one line per problem on
stderr. Good inputs are handled even when others are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import arm_json
from .classify import NotAResource, classify
from .logcontext import install
from .report import render_summary, render_text
from .role import role_definitions
from .scope import ScopeRules
from .settings import InvalidSettings, identity_client_id, load_scope_rules, service_options

if TYPE_CHECKING:  # the pipeline pulls in azure-core: classify does without it
    from .pipeline import Outcome, Pipeline
    from .workspaces import Inventory

PROG = "python -m remediators"


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    install()  # every log line, any library's, redacted (urllib3 quotes whole URLs at DEBUG)
    parser = argparse.ArgumentParser(
        prog=PROG, description="Foundry Guard: detect and plan fixes for broken guarded resources."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    classify_cmd = commands.add_parser(
        "classify", help="classify ARM resource bodies (GET responses); no calls to Azure"
    )
    classify_cmd.add_argument(
        "files", nargs="+", metavar="FILE", help="a file holding one resource body, or - for standard input"
    )
    classify_cmd.add_argument(
        "--managed",
        action="store_true",
        help="treat the resource as in a managed resource group whatever its group's name",
    )
    classify_cmd.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="json: one JSON object per line per input (default); text: a readable report",
    )
    handle_cmd = commands.add_parser(
        "handle", help="run the pipeline for an Event Grid event or batch (either schema) or an alert payload"
    )
    handle_cmd.add_argument("file", metavar="FILE", help="a JSON file, or - for standard input")
    handle_cmd.add_argument("--dry-run", action="store_true", help="propose every fix; write nothing")
    scan_cmd = commands.add_parser("scan", help="sweep every guarded resource in a subscription")
    scan_cmd.add_argument("--subscription", required=True, metavar="ID")
    scan_cmd.add_argument("--apply", action="store_true", help="apply fixes (default: propose only)")
    commands.add_parser("roles", help="print the least-privilege custom roles the remediators need, as JSON")
    infra_cmd = commands.add_parser(
        "infra", help="check (or --write) the files under infra/ derived from the code: roles, event filter, alerts"
    )
    infra_cmd.add_argument("--write", action="store_true", help="rewrite the stale files")
    policy_cmd = commands.add_parser("policy", help="Azure Policy against managed resource groups; no calls to Azure")
    policy_commands = policy_cmd.add_subparsers(dest="policy_command", required=True)
    check_cmd = policy_commands.add_parser(
        "check", help="name each assignment that would set or refuse a guarded property, and its exemption"
    )
    check_cmd.add_argument(
        "file",
        metavar="FILE",
        help='{"assignments", "definitions", "setDefinitions", "exemptions", "managedResourceGroups"} '
        "as JSON, or - for standard input",
    )
    check_cmd.add_argument(
        "--all", action="store_true", help="also the assignments that are not enforced (enforcementMode DoNotEnforce)"
    )
    args = parser.parse_args(argv)

    if args.command == "roles":
        print(json.dumps(role_definitions(), indent=2))
        return 0
    if args.command == "infra":
        return _infra(write=args.write)
    if args.command == "policy":
        return _policy_check(args.file, include_not_enforced=args.all, stdin=stdin or sys.stdin)
    try:
        rules = load_scope_rules()
        if args.command in ("handle", "scan"):
            pipeline = _pipeline(dry_run=args.dry_run if args.command == "handle" else not args.apply)
    except InvalidSettings as error:
        return _fail(f"invalid configuration: {error}")
    if args.command == "handle":
        return _handle(pipeline, args.file, stdin or sys.stdin)
    if args.command == "scan":
        return _scan(pipeline, args.subscription, own_object_id=service_options()["own_object_id"])
    return _classify(args.files, rules, managed=args.managed, text=args.format == "text", stdin=stdin or sys.stdin)


def _classify(files: list[str], rules: ScopeRules, *, managed: bool, text: bool, stdin: TextIO) -> int:
    results, status = [], 0
    for name in files:
        try:
            result = classify(_read_json(name, stdin), rules, treat_as_managed=managed)
        except (NotAResource, InputError) as error:
            status = _fail(f"{name}: {error}")
            continue
        results.append(result)
        if text:
            print(render_text(result) + "\n")
        else:
            print(json.dumps(result.to_json(), separators=(",", ":")))
    if text and len(files) > 1:
        print(render_summary(results, refused=len(files) - len(results)))
    return status


def _pipeline(*, dry_run: bool) -> Pipeline:
    """The same pipeline the function app runs (modes, evidence, baselines from GUARD_STORAGE if set);
    ``--dry-run`` (or ``scan`` without ``--apply``) only ever narrows it to proposals."""
    from .arm import credential
    from .service import configured_pipeline

    options = service_options()
    return configured_pipeline(credential(identity_client_id()), options, dry_run=dry_run or options["dry_run"])


def _handle(pipeline: Pipeline, name: str, stdin: TextIO) -> int:
    from .signals import parse_signals

    try:
        parsed = parse_signals(_read_json(name, stdin))
    except InputError as error:
        return _fail(f"{name}: {error}")
    status = 0
    for rejected in parsed.rejected:
        where = f" item {rejected.index}" if rejected.index is not None else ""
        status = _fail(f"{name}{where}: {rejected.reason}")
    if parsed.validation_code is not None:
        print(json.dumps({"validationResponse": parsed.validation_code}))
    return _report(pipeline.handle(parsed.signals), status)


def _scan(pipeline: Pipeline, subscription: str, *, own_object_id: str) -> int:
    """One JSON line per workspace and registry (``workspace`` / ``registry``), per disagreement
    between the identity's roles and the proof (``roleDisagreement``), then per resource
    (``resourceId``): each kind of line has its own leading key."""
    from .arm import ArmError
    from .inventory_report import inventory_lines
    from .registry import REMEDIATORS

    status = 0
    try:
        inventory, _ = pipeline.inventory.lookup(subscription)
    except ArmError as error:
        status = _fail(f"cannot read the workspace inventory of subscription {subscription}: {error}")
    else:
        for line in inventory_lines(inventory, pipeline.rules):
            print(json.dumps(line, separators=(",", ":")))
        status = _check_roles(pipeline, inventory, own_object_id)
    outcomes = []
    for sdk in dict.fromkeys(r.sdk for r in REMEDIATORS):
        try:
            ids = pipeline.arm.list_ids(subscription, sdk)
        except ArmError as error:
            status = _fail(f"cannot list {sdk.operations} in subscription {subscription}: {error}")
            continue
        outcomes += [pipeline.remediate(resource_id) for resource_id in ids]
    return _report(outcomes, status)


def _check_roles(pipeline: Pipeline, inventory: Inventory, own_object_id: str) -> int:
    """Print where the identity's roles and the proof disagree; 2 when the roles cannot be read."""
    from .access import disagreements, read_role_assignments
    from .arm import ArmError
    from .scope import GUID

    if not own_object_id:
        print(
            f"{PROG}: role check skipped: GUARD_IDENTITY_OBJECT_ID is not set, so there is no principal whose "
            "role assignments to compare with the proof",
            file=sys.stderr,
        )
        return 0
    if not GUID.match(own_object_id):
        return _fail(f"role check skipped: GUARD_IDENTITY_OBJECT_ID {own_object_id!r} is not an object id (a GUID)")
    try:
        reads = read_role_assignments(pipeline.arm, inventory.subscription, own_object_id)
    except ArmError as error:
        hint = ""
        if error.status == 403:
            hint = (
                " (the reader role needs Microsoft.Authorization/roleAssignments/read and "
                "Microsoft.Authorization/roleDefinitions/read: provision again)"
            )
        return _fail(f"cannot read the role assignments of {own_object_id} in {inventory.subscription}: {error}{hint}")
    for disagreement in disagreements(inventory.subscription, reads, inventory, pipeline.rules):
        print(json.dumps(disagreement.to_json(), separators=(",", ":")))
    return 0


def _report(outcomes: list[Outcome], status: int) -> int:
    from .pipeline import State

    for outcome in outcomes:
        print(json.dumps(outcome.to_json(), separators=(",", ":")))
    if status == 0 and any(o.state is State.FAILED for o in outcomes):
        return 1
    return status


class InputError(ValueError):
    pass


def _read_json(name: str, stdin: TextIO) -> object:
    try:
        text = stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        return arm_json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except arm_json.TooDeep as error:
        raise InputError(f"not usable JSON: {error}") from None
    except ValueError as error:
        raise InputError(f"not JSON: {error}") from None


def _policy_check(name: str, *, include_not_enforced: bool, stdin: TextIO) -> int:
    """One JSON line per (assignment, managed group, guarded property) at risk; 2 with a line on
    stderr per document that could not be read or evaluated (the others are still checked)."""
    from datetime import UTC, datetime

    from .policy import InvalidCheckInput, find_conflicts, read_check_input

    try:
        documents, groups = read_check_input(_read_json(name, stdin))
    except (InputError, InvalidCheckInput) as error:
        return _fail(f"{name}: {error}")
    report = find_conflicts(documents, groups, now=datetime.now(UTC))
    status = 0
    for problem in report.problems:
        status = _fail(f"{name}: {problem}")
    for conflict in report.conflicts:
        if conflict.assignment.enforced or include_not_enforced:
            print(json.dumps(conflict.to_json(), separators=(",", ":")))
    return status


def _infra(*, write: bool) -> int:
    from .deployment import stale_files, write_derived_files

    if write:
        for path in write_derived_files():
            print(f"wrote infra/{path}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"infra/{path} differs from the code's output: run python -m remediators infra --write", file=sys.stderr)
    return 1 if stale else 0


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
