"""Azurite, Microsoft's Azure Storage emulator (npm package ``azurite``), run for the demo and the tests.

Table and Queue storage hold Foundry Guard's state; locally that is a real Azurite, not a fake.
Each run gets its own storage account with a freshly generated key (Azurite's
``AZURITE_ACCOUNTS``), so no account key is written anywhere.

Two ways to run it:

* :func:`running` (the default): one ``azurite`` process serving Table and Queue storage, its
  data in memory, so nothing is left behind;
* ``running(separate=True)``: the fault suite's way. The npm package also ships the services as
  their own programs (``azurite-table``, ``azurite-queue``); each runs as a process of its own
  with its data on disk (``--location``; Azurite refuses ``--inMemoryPersistence`` with it), so
  one service can be killed by its PID, as a storage outage, and restarted on the same port with
  what it held::

      with azurite.running(separate=True) as storage:
          storage.kill("queue")     # the queue service is gone: calls to it are refused
          storage.restart("queue")  # back on the same port, its messages still there

  ``kill`` sends SIGINT, on which each service closes its databases and so saves them (Azurite
  3.35's ``table/main.js`` and ``queue/main.js`` handle SIGINT; the table service ignores SIGTERM,
  and dies without saving). Otherwise Azurite saves only every five seconds (LokiJS
  ``autosaveInterval: 5000`` in its ``Loki*MetadataStore``). Azure Storage does not lose
  acknowledged writes in an outage, and neither should its twin. ``kill(..., hard=True)`` sends
  SIGKILL: a crash of the emulator itself, which may lose the last few seconds of writes.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "foundryguard"
Service = Literal["table", "queue"]
SERVICES: tuple[Service, ...] = ("table", "queue")
_FLAGS = ["--silent", "--skipApiVersionCheck", "--disableTelemetry"]


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


@dataclass(frozen=True, eq=False)
class SeparateAzurite(Azurite):
    """Azurite's Table and Queue services as two processes, each stopped and started by itself."""

    ports: dict[Service, int] = field(default_factory=dict)
    location: Path = Path()
    startup_timeout: float = 20.0
    _processes: dict[Service, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    def pid(self, service: Service) -> int:
        """The running service's process id (raises ``LookupError`` while it is stopped)."""
        process = self._processes.get(service)
        if process is None or process.poll() is not None:
            raise LookupError(f"the {service} service is not running")
        return process.pid

    def kill(self, service: Service, *, hard: bool = False) -> None:
        """Stop ``service`` by its PID and wait until it has exited and its port is closed."""
        process = self._processes.pop(service)
        _stop(process, signal.SIGKILL if hard else signal.SIGINT)

    def restart(self, service: Service) -> None:
        """Start ``service`` again on its port with the data it kept; return once it listens."""
        if service in self._processes:
            raise RuntimeError(f"the {service} service is still running: kill it first")
        self._processes[service] = _start_service(service, self.ports[service], self.location, self.key)
        _wait_for_ports(self._processes[service], [self.ports[service]], self.startup_timeout)

    def stop_all(self) -> None:
        for service in list(self._processes):
            self.kill(service)


@overload
def running(timeout: float = ..., *, separate: Literal[False] = ...) -> AbstractContextManager[Azurite]: ...
@overload
def running(timeout: float = ..., *, separate: Literal[True]) -> AbstractContextManager[SeparateAzurite]: ...
def running(timeout: float = 20.0, *, separate: bool = False) -> AbstractContextManager[Azurite]:
    """Start Azurite's Table and Queue services on free loopback ports; stop them on exit.

    ``separate=True`` runs each service as a process of its own, killable and restartable
    (:class:`SeparateAzurite`)."""
    return _separate(timeout) if separate else _together(timeout)


@contextmanager
def _together(timeout: float) -> Iterator[Azurite]:
    binary = _binary("azurite")
    key = _new_key()
    table_port, queue_port = _free_port(), _free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"azurite-{os.getpid()}-"))
    command = [
        str(binary),
        *_FLAGS,
        "--inMemoryPersistence",
        "--blobPort", str(_free_port()),
        "--tableHost", "127.0.0.1", "--tablePort", str(table_port),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue_port),
    ]  # fmt: skip
    process = _spawn(command, workdir, key)
    try:
        _wait_for_ports(process, [table_port, queue_port], timeout)
        yield Azurite(
            table_endpoint=f"http://127.0.0.1:{table_port}/{ACCOUNT}",
            queue_endpoint=f"http://127.0.0.1:{queue_port}/{ACCOUNT}",
            account=ACCOUNT,
            key=key,
        )
    finally:
        _stop(process, signal.SIGTERM)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def _separate(timeout: float) -> Iterator[SeparateAzurite]:
    key = _new_key()
    ports: dict[Service, int] = {service: _free_port() for service in SERVICES}
    location = Path(tempfile.mkdtemp(prefix=f"azurite-{os.getpid()}-separate-"))
    storage = SeparateAzurite(
        table_endpoint=f"http://127.0.0.1:{ports['table']}/{ACCOUNT}",
        queue_endpoint=f"http://127.0.0.1:{ports['queue']}/{ACCOUNT}",
        account=ACCOUNT,
        key=key,
        ports=ports,
        location=location,
        startup_timeout=timeout,
    )
    try:
        for service in SERVICES:
            storage.restart(service)
        yield storage
    finally:
        storage.stop_all()
        shutil.rmtree(location, ignore_errors=True)


def _start_service(service: Service, port: int, location: Path, key: str) -> subprocess.Popen[bytes]:
    command = [
        str(_binary(f"azurite-{service}")),
        *_FLAGS,
        "--location", str(location / service),
        f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port),
    ]  # fmt: skip
    (location / service).mkdir(parents=True, exist_ok=True)
    return _spawn(command, location, key)


def _binary(name: str) -> Path:
    binary = ROOT / "node_modules" / ".bin" / name
    if not binary.exists():
        raise AzuriteUnavailable(f"{binary} is missing: run `npm install` (make does) at {ROOT}")
    return binary


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _spawn(command: list[str], workdir: Path, key: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"}
    return subprocess.Popen(
        command, cwd=workdir, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    """Signal the process by its PID and reap it; SIGKILL if it has not exited after ten seconds."""
    if process.poll() is None:
        os.kill(process.pid, how)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()


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
