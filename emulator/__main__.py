"""``python -m emulator``: run the local Azure twin, or mint a token to act as someone.

    python -m emulator serve --seed DIR [--port N] [--ready-file F] [--subscriber URL ...]
    python -m emulator token '{"upn": "nightly-automation@contoso.com", "oid": "..."}'

``serve`` prints the ready-file fields as one JSON line once it answers, writes them to
``--ready-file`` (atomically) if asked, and runs until SIGTERM or SIGINT, then removes the ready
file. Exit 2 with a one-line error for a seed or configuration it cannot use.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from .config import ConfigError
from .faults import FaultError
from .store import SeedError
from .tokens import make_token
from .twin import Twin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Foundry Guard's local Azure twin.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve ARM, Log Analytics, a token endpoint and sinks over HTTPS")
    serve.add_argument("--seed", metavar="DIR", help="directory of ARM GET bodies (*.json) and _twin.json")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--ready-file", metavar="F", help="write the ready JSON here once serving")
    serve.add_argument("--subscriber", metavar="URL", action="append", default=[], help="POST every write event here")
    token = commands.add_parser("token", help="print an unsigned JWT carrying the given claims")
    token.add_argument("claims", help='JSON object of claims, e.g. {"upn": "someone@contoso.com"}')
    arguments = parser.parse_args(argv)
    if arguments.command == "token":
        return _token(arguments.claims)
    return _serve(arguments)


def _token(text: str) -> int:
    try:
        claims = json.loads(text)
    except ValueError as error:
        print(f"error: claims are not JSON: {error}", file=sys.stderr)
        return 2
    if not isinstance(claims, dict):
        print("error: claims must be a JSON object", file=sys.stderr)
        return 2
    print(make_token(claims))
    return 0


def _serve(arguments: argparse.Namespace) -> int:
    try:
        twin = Twin.launch(
            arguments.seed, port=arguments.port, ready_file=arguments.ready_file, subscribers=arguments.subscriber
        )
    except (SeedError, ConfigError, FaultError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(json.dumps(twin.info()), flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        twin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
