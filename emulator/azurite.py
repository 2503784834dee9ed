"""Azurite, Microsoft's Azure Storage emulator (npm package ``azurite``), run for the demo and the tests.

Table and Queue storage hold Foundry Guard's state; locally that is a real Azurite, not a fake.
Each run gets its own storage account with a freshly generated key (Azurite's
``AZURITE_ACCOUNTS``), so no account key is written anywhere, and keeps its data in memory, so
nothing is left behind.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "foundryguard"


class AzuriteUnavailable(RuntimeError):
    """Azurite is not installed (``npm install`` at the project root installs it) or did not start."""


@dataclass(frozen=True)
class Azurite:
    table_endpoint: str
    queue_endpoint: str
    account: str
    key: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
            f"TableEndpoint={self.table_endpoint};QueueEndpoint={self.queue_endpoint};"
        )


@contextmanager
def running(timeout: float = 20.0) -> Iterator[Azurite]:
    """Start Azurite's Table and Queue services on free loopback ports; stop them on exit."""
    binary = ROOT / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise AzuriteUnavailable(f"{binary} is missing: run `npm install` (make does) at {ROOT}")
    key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    table_port, queue_port = _free_port(), _free_port()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"azurite-{os.getpid()}-{table_port}"
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        str(binary),
        "--silent",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--blobPort", str(_free_port()),
        "--tableHost", "127.0.0.1", "--tablePort", str(table_port),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue_port),
    ]  # fmt: skip
    environment = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"}
    process = subprocess.Popen(
        command, cwd=workdir, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_for_ports(process, [table_port, queue_port], timeout)
        yield Azurite(
            table_endpoint=f"http://127.0.0.1:{table_port}/{ACCOUNT}",
            queue_endpoint=f"http://127.0.0.1:{queue_port}/{ACCOUNT}",
            account=ACCOUNT,
            key=key,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_ports(process: subprocess.Popen[bytes], ports: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            detail = process.stderr.read().decode("utf-8", "replace").strip() if process.stderr else ""
            raise AzuriteUnavailable(f"Azurite exited with status {process.returncode}: {detail[:500]}")
        if time.monotonic() > deadline:
            raise AzuriteUnavailable(f"Azurite did not listen on {waiting} within {timeout:.0f} s")
        try:
            with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2):
                waiting.pop(0)
        except OSError:
            time.sleep(0.05)
