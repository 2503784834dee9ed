"""The twin as a Python object: start it, point clients at it, steer it, read what happened.

::

    with Twin.start(seed_dir="examples/broken-managed-rg", subscribers=[received.append]) as twin:
        client = CosmosDBManagementClient(credential, sub, base_url=twin.arm, connection_verify=twin.ca_path)
        ...
        twin.add_fault({"kind": "throttle", "method": "PATCH", "times": 1})
        assert twin.requests("PATCH")[-1].body == b'{"properties":{"disableLocalAuth":false}}'

The same server ``python -m emulator serve`` runs, on a background thread of this process.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import identity, seed, tls
from .app import TwinApp
from .clock import TwinClock
from .config import TwinConfig
from .delivery import Delivery, Subscriber
from .messages import Response
from .recorder import RecordedRequest
from .server import TwinServer
from .tokens import Identity, make_token

DEFAULT_API_VERSION = "2024-01-01"
# How long waits for background work (event delivery) may take before a test gives up. Waits return
# as soon as the work is done, so this only bounds a failing test; it is generous because a slow,
# shared CI machine must never fail a test that would pass.
PATIENCE_SECONDS = 60.0


class Twin:
    def __init__(
        self, app: TwinApp, server: TwinServer, workdir: Path, material: tls.TlsMaterial, ready_file: Path | None
    ) -> None:
        self._app = app
        self._server = server
        self._workdir = workdir
        self._tls = material
        self._ready_file = ready_file
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="twin-server", daemon=True
        )

    # -- life cycle ------------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(
        cls,
        seed_dir: str | os.PathLike[str] | None = None,
        *,
        resources: Iterable[Mapping[str, Any]] = (),
        config: Mapping[str, Any] | None = None,
        subscribers: Iterable[Subscriber] = (),
        port: int = 0,
        ready_file: str | os.PathLike[str] | None = None,
        clock: TwinClock | None = None,
    ) -> Iterator[Twin]:
        """Run a twin for the duration of a ``with`` block.

        ``seed_dir``: a directory of ARM GET bodies (and ``_twin.json``); ``resources``: more bodies;
        ``config``: a ``_twin.json`` document used instead of the seed directory's; ``subscribers``:
        URLs or callables receiving each ResourceWriteSuccess event; ``clock``: the twin's notion of
        now (default: the real clock; ``TwinClock(frozen_at=...)`` for a test that must not race it).
        """
        twin = cls.launch(
            seed_dir,
            resources=resources,
            config=config,
            subscribers=subscribers,
            port=port,
            ready_file=ready_file,
            clock=clock,
        )
        try:
            yield twin
        finally:
            twin.stop()

    @classmethod
    def launch(
        cls,
        seed_dir: str | os.PathLike[str] | None = None,
        *,
        resources: Iterable[Mapping[str, Any]] = (),
        config: Mapping[str, Any] | None = None,
        subscribers: Iterable[Subscriber] = (),
        port: int = 0,
        ready_file: str | os.PathLike[str] | None = None,
        clock: TwinClock | None = None,
    ) -> Twin:
        """Start a twin and return it; the caller must :meth:`stop` it."""
        seeded = seed.load(seed_dir) if seed_dir is not None else seed.Seed()
        twin_config = TwinConfig.from_json(dict(config)) if config is not None else seeded.config
        workdir = Path(tempfile.mkdtemp(prefix="foundry-twin-"))
        app: TwinApp | None = None
        try:
            material = tls.create(workdir)
            app = TwinApp(twin_config, [*seeded.resources, *resources], ca_path=str(material.ca_path), clock=clock)
            server = TwinServer(("127.0.0.1", port), app, material.server_context)
        except BaseException:
            if app is not None:
                app.close()  # its delivery thread
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        twin = cls(app, server, workdir, material, Path(ready_file).resolve() if ready_file is not None else None)
        app.base_url = twin.arm
        app.info = twin.info()
        for subscriber in subscribers:
            app.subscribe(subscriber)
        twin._thread.start()
        if twin._ready_file is not None:
            _write_atomically(twin._ready_file, json.dumps(app.info, indent=2) + "\n")
        return twin

    def stop(self) -> None:
        self._app.stopping.set()  # ends requests held by latency faults
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        self._app.close()
        if self._ready_file is not None:
            self._ready_file.unlink(missing_ok=True)
        shutil.rmtree(self._workdir, ignore_errors=True)

    # -- where it is -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def arm(self) -> str:
        """Base URL: ARM, Log Analytics (``/v1``), the token endpoint and the admin routes all live here."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_path(self) -> str:
        return str(self._tls.ca_path)

    @property
    def token_endpoint(self) -> str:
        return self.arm + identity.PATH

    @property
    def identity_header(self) -> str:
        return self._app.config.identity_header

    @property
    def identity(self) -> Identity:
        return self._app.config.identity

    @property
    def app(self) -> TwinApp:
        return self._app

    @property
    def clock(self) -> TwinClock:
        """The twin's notion of now: ``twin.clock.advance(60)``, ``twin.clock.set(moment)``, ``.freeze()``."""
        return self._app.clock

    def info(self) -> dict[str, Any]:
        """The ready-file fields."""
        return {
            "arm": self.arm,
            "ca": self.ca_path,
            "pid": os.getpid(),
            "tokenEndpoint": self.token_endpoint,
            "identityHeader": self.identity_header,
            "logAnalytics": f"{self.arm}/v1",
            "tenantId": self.identity.tenant_id,
            "clientId": self.identity.client_id,
            "objectId": self.identity.object_id,
        }

    def environment(self) -> dict[str, str]:
        """Environment that points the product and azure-identity at the twin."""
        return {
            "GUARD_ARM_ENDPOINT": self.arm,
            "REQUESTS_CA_BUNDLE": self.ca_path,
            "IDENTITY_ENDPOINT": self.token_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, spec: Mapping[str, Any]) -> str:
        """Add one fault (the JSON shape of :mod:`emulator.faults`); returns its id."""
        return str(self._app.add_faults([spec])[0]["id"])

    def faults(self) -> list[dict[str, Any]]:
        with self._app.lock:
            return [fault.to_json() for fault in self._app.faults.all()]

    def remove_fault(self, fault_id: str) -> bool:
        with self._app.lock:
            return self._app.faults.remove(fault_id)

    def clear_faults(self) -> None:
        with self._app.lock:
            self._app.faults.clear()

    def set_lro(
        self,
        *,
        cosmos_polls: int | None = None,
        cognitive_polls: int | None = None,
        search_settle_reads: int | None = None,
        cosmos_settle_seconds: float | None = None,
        cognitive_settle_seconds: float | None = None,
        retry_after: int | None = None,
    ) -> None:
        """How many polls / reads and how many seconds of the twin's clock long-running and settling
        writes take (see ``_twin.json`` ``lro``); ``None`` leaves a setting as it is."""
        changes = {
            "cosmosPolls": cosmos_polls,
            "cognitivePolls": cognitive_polls,
            "searchSettleReads": search_settle_reads,
            "cosmosSettleSeconds": cosmos_settle_seconds,
            "cognitiveSettleSeconds": cognitive_settle_seconds,
            "retryAfter": retry_after,
        }
        with self._app.lock:
            self._app.lro.update({name: value for name, value in changes.items() if value is not None})

    # -- what happened ---------------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Requests received, in order; optionally only one method and/or one path (case-insensitive)."""
        entries = self._app.recorded()
        if method is not None:
            entries = [entry for entry in entries if entry.method == method.upper()]
        if path is not None:
            entries = [entry for entry in entries if entry.path.casefold() == path.casefold()]
        return entries

    def clear_requests(self) -> None:
        self._app.requests.clear()

    def events(self) -> list[dict[str, Any]]:
        """Every ResourceWriteSuccess event emitted, in order."""
        return self._app.event_list()

    def clear_events(self) -> None:
        self._app.clear_events()

    def wait_for_events(self, count: int, timeout: float = PATIENCE_SECONDS) -> list[dict[str, Any]]:
        """Wait until at least ``count`` events were emitted and all were delivered; returns them all."""
        deadline = time.monotonic() + timeout
        while len(self._app.event_list()) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} event(s), got {len(self._app.event_list())}")
            time.sleep(0.005)
        self.wait_idle(max(deadline - time.monotonic(), 0.1))
        return self.events()

    def wait_idle(self, timeout: float = PATIENCE_SECONDS) -> None:
        """Wait until every emitted event has been offered to every subscriber."""
        if not self._app.dispatcher.wait_idle(timeout):
            raise TimeoutError("event delivery did not finish in time")

    def deliveries(self) -> list[Delivery]:
        return self._app.dispatcher.deliveries()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._app.subscribe(subscriber)

    def sink(self, name: str) -> list[dict[str, Any]]:
        """What ``POST /_twin/sinks/{name}`` received: ``{"time", "headers", "body", "json"}`` each."""
        return self._app.sinks.webhook_entries(name)

    def sink_url(self, name: str) -> str:
        return f"{self.arm}/_twin/sinks/{urllib.parse.quote(name)}"

    def topic(self, name: str) -> list[dict[str, Any]]:
        """Events published to ``/eventgrid/{name}/api/events``: ``{"schema", "received", "event"}`` each."""
        return self._app.sinks.topic_entries(name)

    def topic_endpoint(self, name: str) -> str:
        return f"{self.arm}/eventgrid/{urllib.parse.quote(name)}/api/events"

    # -- state -----------------------------------------------------------------------------------

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        """The stored resource (a copy), as the next GET would show it; ``None`` if absent."""
        return self._app.resource(resource_id)

    def set_resource(self, body: Mapping[str, Any]) -> None:
        """Put a resource body as-is: no event, no policy, no provider rules."""
        self._app.set_resource(body)

    def patch_resource(self, resource_id: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``patch`` as ARM's PATCH would, without an event (a change made behind the product's back)."""
        return self._app.patch_resource(resource_id, patch)

    def finish_operations(self) -> int:
        """Finish every long-running write now (commits them and emits their events)."""
        return self._app.finish_operations()

    def add_log_rows(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        self._app.logs.add_rows(table, rows)

    # -- calling it ------------------------------------------------------------------------------

    def token(self, claims: Mapping[str, Any] | None = None) -> str:
        """A bearer token: for ``claims`` if given, else the twin's managed identity's."""
        if claims is not None:
            return make_token(claims)
        return self.identity.token(self.arm)[0]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        claims: Mapping[str, Any] | None = None,
        token: str | None = None,
        api_version: str | None = DEFAULT_API_VERSION,
        headers: Mapping[str, str] | None = None,
        timeout: float = PATIENCE_SECONDS,
    ) -> Response:
        """One HTTPS request to the twin, as someone (``claims``) or with a given ``token``.

        ``body`` may be bytes (sent as is) or any JSON value. ``api_version`` is added unless
        ``None`` or already in ``path``. Without ``claims`` or ``token`` the twin's own identity calls.
        ``timeout``: seconds to wait for each socket operation (``TimeoutError`` past it).
        """
        if api_version is not None and "api-version=" not in path:
            path += ("&" if "?" in path else "?") + f"api-version={api_version}"
        sent = {"Authorization": f"Bearer {token or self.token(claims)}", **(headers or {})}
        payload: bytes | None = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self._tls.client_context(), timeout=timeout
        )
        try:
            connection.request(method.upper(), path, body=payload, headers=sent)
            answer = connection.getresponse()
            return Response(answer.status, answer.read(), {name: value for name, value in answer.getheaders()})
        finally:
            connection.close()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
