"""Command line: ``python -m remediators classify FILE|- [...]`` and ``python -m remediators roles``.

Exit status: 0 when every input was classified (broken or not), 2 when an input is not a
resource or the configuration is invalid, with one line per problem on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from . import arm_json
from .classify import NotAResource, classify
from .report import render_summary, render_text
from .role import role_definitions
from .settings import InvalidSettings, load_scope_rules

PROG = "python -m remediators"


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
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
    commands.add_parser("roles", help="print the least-privilege custom roles the remediators need, as JSON")
    args = parser.parse_args(argv)

    if args.command == "roles":
        print(json.dumps(role_definitions(), indent=2))
        return 0
    try:
        rules = load_scope_rules()
    except InvalidSettings as error:
        return _fail(f"invalid configuration: {error}")
    results, status = [], 0
    for name in args.files:
        try:
            result = classify(_read_json(name, stdin or sys.stdin), rules, treat_as_managed=args.managed)
        except (NotAResource, InputError) as error:
            status = _fail(f"{name}: {error}")
            continue
        results.append(result)
        if args.format == "json":
            print(json.dumps(result.to_json(), separators=(",", ":")))
        else:
            print(render_text(result) + "\n")
    if args.format == "text" and len(args.files) > 1:
        print(render_summary(results, refused=len(args.files) - len(results)))
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
    except ValueError as error:
        raise InputError(f"not JSON: {error}") from None
    except RecursionError:
        raise InputError("not usable JSON: nested too deeply") from None


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
