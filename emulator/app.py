"""The twin's state and its router: one :class:`TwinApp` per running twin.

Every route and every Python API call goes through here, under one lock, so HTTP requests served
on many threads, polls, admin calls and event delivery see one consistent Azure.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from . import admin, arm, identity, ids, policy
from .clock import TwinClock
from .config import TwinConfig
from .delivery import Dispatcher, Subscriber
from .events import Writer, resource_write_success
from .faults import FaultBook
from .logs import LogStore
from .merge import merge_patch
from .messages import ArmFailure, Request, Response, json_response, new_id
from .operations import Operation, Operations
from .providers import SEARCH, provider_for, set_provisioning_state
from .recorder import RecordedRequest, RequestLog
from .sinks import SinkStore
from .store import ResourceStore
from .tokens import read_claims

_TOPIC = re.compile(r"^/eventgrid/([^/]+)/api/events/?$", re.IGNORECASE)
_WORKSPACE_QUERY = re.compile(r"^/v1/workspaces/([^/]+)/query/?$", re.IGNORECASE)
_SINK = re.compile(r"^/_twin/sinks/([^/]+)/?$", re.IGNORECASE)
_ADMIN = re.compile(r"^/_twin(/|$)", re.IGNORECASE)
_RESPONSE_FAULTS = ("throttle", "error", "conflict")


class TwinApp:
    def __init__(
        self,
        config: TwinConfig | None = None,
        resources: Iterable[Mapping[str, Any]] = (),
        *,
        ca_path: str | None = None,
        clock: TwinClock | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock if clock is not None else TwinClock()  # the real clock unless a test sets one
        self.stopping = threading.Event()  # wakes latency faults when the twin stops
        self.config = config or TwinConfig()
        self.lro = self.config.lro
        self.base_url = ""  # set once the server has its port
        self.info: dict[str, Any] = {}  # the ready-file fields, served at GET /_twin
        self.ca_path = ca_path
        self.store = ResourceStore()
        self.faults = FaultBook()
        self.operations = Operations()
        self.requests = RequestLog(now=self.clock.now)
        self.logs = LogStore(now=self.clock.now)
        self.sinks = SinkStore()
        self.events: list[dict[str, Any]] = []
        self.settling: dict[str, int] = {}  # Search services still reading "provisioning": key -> GETs left
        self.dispatcher = Dispatcher(ca_path)
        for body in resources:
            self.store.put(copy.deepcopy(dict(body)))
        self.add_faults(self.config.faults)
        for table, rows in self.config.logs.items():
            self.logs.add_rows(table, rows)
        for url in self.config.subscribers:
            self.dispatcher.subscribe(url)

    # -- routing ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        sink = _SINK.match(request.path)
        if _ADMIN.match(request.path) and not (sink and request.method == "POST"):
            return admin.handle(self, request)
        entry = self.requests.record(request, _caller(request))
        try:
            response = self._route(request, sink)
        except ArmFailure as failure:
            response = failure.to_response()
        if request.path.casefold() not in ("/msi/token",) and not sink:
            response.headers.setdefault("x-ms-request-id", new_id())
            response.headers.setdefault(
                "x-ms-correlation-request-id", request.header("x-ms-correlation-request-id") or new_id()
            )
        entry.status = response.status
        return response

    def _route(self, request: Request, sink: re.Match[str] | None) -> Response:
        if sink is not None:
            self.apply_faults(request.method, request.path, None)
            return self.sinks.webhook(sink.group(1), request)
        if request.path.casefold().rstrip("/") == identity.PATH:
            return identity.token(self, request)
        topic = _TOPIC.match(request.path)
        if topic is not None:
            if request.method != "POST":
                raise ArmFailure(405, "MethodNotAllowed", "Publish events with POST.")
            self.apply_faults(request.method, request.path, None)
            return self.sinks.publish(topic.group(1), request)
        workspace = _WORKSPACE_QUERY.match(request.path)
        if workspace is not None:
            return self._query_logs(request)
        claims = arm.authenticate(request)
        return arm.handle(self, request, claims)

    def _query_logs(self, request: Request) -> Response:
        if request.bearer_token() is None:
            return json_response(
                401,
                {"error": {"code": "AuthorizationRequiredError", "message": "Valid authentication was not provided."}},
            )
        if request.method != "POST":
            raise ArmFailure(405, "MethodNotAllowed", "Query with POST.")
        self.apply_faults(request.method, request.path, None)
        try:
            document = request.json()
        except (ValueError, UnicodeDecodeError):
            document = None
        return self.logs.query(document)

    # -- faults and policy -----------------------------------------------------------------------

    def apply_faults(self, method: str, target: str, resource_type: str | None) -> None:
        """Hold the request for latency faults, then raise the first matching error fault.

        A latency fault holds this request's thread on real time (it keeps a real socket waiting,
        which is what a client's timeouts are tested against); stopping the twin ends the wait.
        """
        with self.lock:
            delay = 0
            for fault in self.faults.matching(("latency",), method, target, resource_type):
                fault.fire()
                delay += fault.latency_ms
            failing = self.faults.matching(_RESPONSE_FAULTS, method, target, resource_type)
            if failing:
                failing[0].fire()
        if delay:
            self.stopping.wait(delay / 1000)
        if failing:
            raise failing[0].failure(target)

    def apply_policies(self, method: str, result: dict[str, Any]) -> None:
        """Modify rules rewrite ``result`` in place, then Deny rules may refuse it."""
        resource_id = result["id"]
        resource_type = result.get("type")
        for effect in ("modify", "deny"):
            for fault in self.faults.matching((effect,), method, resource_id, resource_type):
                rule = fault.rule
                enforced = rule is not None and policy.enforced(self.store, rule, resource_id, self.clock.now())
                if rule is None or not enforced or not rule.applies_to(result):
                    continue
                fault.fire()
                if effect == "deny":
                    raise policy.deny(rule, self.store, resource_id)
                for operation in rule.operations:
                    operation.apply(result)

    def add_faults(self, specs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:
            added = self.faults.add_all(specs)
            for fault in added:
                # A policy fault's assignment exists in ARM, so the product can read (and exempt) it.
                if fault.rule is not None and self.store.get(fault.rule.assignment_id) is None:
                    self.store.put(fault.rule.assignment_body())
            return [fault.to_json() for fault in added]

    # -- writes, operations, events --------------------------------------------------------------

    def settle_on_read(self, key: str, body: dict[str, Any]) -> None:
        remaining = self.settling.get(key)
        if remaining is None:
            return
        if remaining > 0:
            self.settling[key] = remaining - 1
            return
        del self.settling[key]
        set_provisioning_state(body, SEARCH, SEARCH.done_state)

    def complete(self, operation: Operation) -> None:
        """Commit a finished long-running write and emit its event."""
        self.store.put(copy.deepcopy(operation.pending))
        parsed = ids.parse(operation.resource_id)
        if parsed is not None:
            self.emit_write(operation.resource_id, parsed, operation.writer, operation.existed)

    def finish_operations(self) -> int:
        """Finish every running long-running write now, as if each had been polled to the end."""
        with self.lock:
            running = self.operations.running()
            for operation in running:
                self.operations.finish(operation, self.clock.now())
                self.complete(operation)
            return len(running)

    def finish_ready_operations(self) -> int:
        """Finish the long-running writes whose time has come (no poll left to answer "running", settle
        time passed): on Azure an update completes whether or not anyone polls it."""
        with self.lock:
            ready = self.operations.ready(self.clock.now())
            for operation in ready:
                self.operations.finish(operation, self.clock.now())
                self.complete(operation)
            return len(ready)

    def emit_write(self, resource_id: str, parsed: ids.ArmPath, writer: Writer, existed: bool) -> None:
        if parsed.subscription is None:
            return  # tenant and management-group writes reach no subscription topic
        event = resource_write_success(
            resource_id, parsed, writer, self.config.tenant_id, existed=existed, now=self.clock.now()
        )
        with self.lock:
            self.events.append(event)
        self.dispatcher.publish(event)

    # -- state for tests and admin ---------------------------------------------------------------

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.store.copy_of(resource_id)

    def set_resource(self, body: Mapping[str, Any]) -> None:
        """Put a resource body as-is (no event, no provider rules): test setup."""
        parsed = ids.parse(str(body.get("id", "")))
        if parsed is None or parsed.collection:
            raise ValueError(f"not an ARM resource id: {body.get('id')!r}")
        with self.lock:
            self.store.put(copy.deepcopy(dict(body)))
            self.settling.pop(parsed.key, None)

    def patch_resource(self, resource_id: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``patch`` into a stored resource as ARM's PATCH would, without events or policy."""
        with self.lock:
            current = self.store.get(resource_id)
            if current is None:
                raise KeyError(resource_id)
            parsed = ids.parse(resource_id)
            provider = provider_for(parsed.type if parsed else None)
            merged: dict[str, Any] = merge_patch(current, dict(patch), provider.replace_whole)
            self.store.put(merged)
            return copy.deepcopy(merged)

    def subscribe(self, subscriber: Subscriber) -> None:
        self.dispatcher.subscribe(subscriber)

    def recorded(self) -> list[RecordedRequest]:
        return self.requests.entries()

    def event_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.events)

    def clear_events(self) -> None:
        with self.lock:
            self.events.clear()

    def close(self) -> None:
        self.stopping.set()
        self.dispatcher.close()


def _caller(request: Request) -> dict[str, Any] | None:
    token = request.bearer_token()
    return read_claims(token) if token else None
