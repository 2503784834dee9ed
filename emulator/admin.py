"""The twin's own HTTP routes under ``/_twin``: read what happened, inject faults, change state.

No authentication: this is test equipment on loopback. Lists are plain JSON arrays. Errors are
``{"error": {"code": "BadRequest" | "NotFound", "message"}}``.

==========================================  =====================================================
``GET /_twin``                               the ready-file fields (arm, ca, pid, tokenEndpoint...)
``GET`` / ``DELETE /_twin/requests``         every request received, in order / forget them
``GET`` / ``POST`` / ``DELETE /_twin/faults`` list / add one fault or an array / remove all
``DELETE /_twin/faults/{id}``                remove one
``GET`` / ``DELETE /_twin/events``           every ResourceWriteSuccess event emitted / forget
``GET /_twin/deliveries``                    every delivery attempt and its outcome
``GET`` / ``POST /_twin/subscribers``        list / add ``{"url": "https://..."}``
``GET /_twin/resources[?id=...]``            every resource, or one
``PUT /_twin/resources``                     put a body (or an array) as-is: no event, no rules
``PATCH /_twin/resources?id=...``            merge into a resource as ARM would: no event
``GET`` / ``PUT /_twin/lro``                 long-running-operation settings (see ``_twin.json``)
``GET /_twin/clock``                         the twin's clock: ``{"now", "frozen"}``
``POST /_twin/clock``                        ``{"advance": seconds}``, ``{"set": "<ISO time>"}`` (freezes),
                                             ``{"freeze": true}`` or ``{"freeze": false}`` (real time)
``GET /_twin/operations``                    long-running writes still in flight
``POST /_twin/operations/complete``          finish them all now (commits and emits events)
``GET /_twin/logs``                          row counts per Log Analytics table
``POST /_twin/logs/{table}``                 append rows (a JSON array of objects)
``GET`` / ``DELETE /_twin/sinks/{name}``     what webhook ``{name}`` received / forget it
``GET`` / ``DELETE /_twin/topics/{topic}``   what Event Grid topic ``{topic}`` received / forget it
==========================================  =====================================================

``POST /_twin/sinks/{name}`` is the webhook itself (recorded like any other request).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config import ConfigError
from .faults import FaultError
from .messages import Request, Response, json_response

if TYPE_CHECKING:
    from .app import TwinApp

Handler = Callable[["TwinApp", Request, list[str]], Response]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle(app: TwinApp, request: Request) -> Response:
    parts = [part for part in request.path.split("/") if part][1:]  # after "_twin"
    route = parts[0].casefold() if parts else ""
    handler = _ROUTES.get((request.method, route))
    try:
        if handler is None:
            raise _Refused(404, f"no admin route {request.method} {request.path}")
        return handler(app, request, parts[1:])
    except _Refused as refused:
        return _error(refused.status, str(refused))
    except (FaultError, ConfigError, ValueError, KeyError) as error:
        return _error(400, str(error))


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": {"code": "BadRequest" if status == 400 else "NotFound", "message": message}})


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise _Refused(400, f"the body must be JSON: {error}") from error


def _name(rest: list[str], what: str) -> str:
    if len(rest) != 1:
        raise _Refused(404, f"name the {what}: /_twin/.../{{{what}}}")
    return rest[0]


def _info(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.info)


def _requests(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, [entry.to_json() for entry in app.recorded()])


def _clear_requests(app: TwinApp, request: Request, rest: list[str]) -> Response:
    app.requests.clear()
    return Response(204)


def _faults(app: TwinApp, request: Request, rest: list[str]) -> Response:
    with app.lock:
        return json_response(200, [fault.to_json() for fault in app.faults.all()])


def _add_faults(app: TwinApp, request: Request, rest: list[str]) -> Response:
    document = _body(request)
    specs = document if isinstance(document, list) else [document]
    if not all(isinstance(spec, dict) for spec in specs):
        raise _Refused(400, "a fault is a JSON object (or post an array of them)")
    return json_response(201, app.add_faults(specs))


def _remove_faults(app: TwinApp, request: Request, rest: list[str]) -> Response:
    with app.lock:
        if not rest:
            app.faults.clear()
        elif not app.faults.remove(rest[0]):
            raise _Refused(404, f"no fault {rest[0]}")
    return Response(204)


def _events(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.event_list())


def _clear_events(app: TwinApp, request: Request, rest: list[str]) -> Response:
    app.clear_events()
    return Response(204)


def _deliveries(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, [delivery.to_json() for delivery in app.dispatcher.deliveries()])


def _subscribers(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.dispatcher.subscribers())


def _add_subscriber(app: TwinApp, request: Request, rest: list[str]) -> Response:
    document = _body(request)
    url = document.get("url") if isinstance(document, dict) else None
    if not isinstance(url, str):
        raise _Refused(400, 'post {"url": "https://..."}')
    app.subscribe(url)
    return json_response(201, app.dispatcher.subscribers())


def _resources(app: TwinApp, request: Request, rest: list[str]) -> Response:
    wanted = request.query_value("id")
    if wanted is None:
        with app.lock:
            return json_response(200, [dict(body) for body in app.store])
    found = app.resource(wanted)
    if found is None:
        raise _Refused(404, f"no resource {wanted}")
    return json_response(200, found)


def _put_resources(app: TwinApp, request: Request, rest: list[str]) -> Response:
    document = _body(request)
    bodies = document if isinstance(document, list) else [document]
    for body in bodies:
        if not isinstance(body, dict):
            raise _Refused(400, "put a resource body (a JSON object with an id) or an array of them")
        app.set_resource(body)
    return Response(204)


def _patch_resource(app: TwinApp, request: Request, rest: list[str]) -> Response:
    wanted = request.query_value("id")
    document = _body(request)
    if wanted is None or not isinstance(document, dict):
        raise _Refused(400, "PATCH /_twin/resources?id=<resource id> with a JSON object body")
    try:
        return json_response(200, app.patch_resource(wanted, document))
    except KeyError as missing:
        raise _Refused(404, f"no resource {wanted}") from missing


def _lro(app: TwinApp, request: Request, rest: list[str]) -> Response:
    with app.lock:
        return json_response(200, app.lro.to_json())


def _set_lro(app: TwinApp, request: Request, rest: list[str]) -> Response:
    document = _body(request)
    if not isinstance(document, dict):
        raise _Refused(400, 'put a JSON object, e.g. {"cosmosPolls": 2}')
    with app.lock:
        app.lro.update(document)
        return json_response(200, app.lro.to_json())


def _clock(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.clock.to_json())


def _set_clock(app: TwinApp, request: Request, rest: list[str]) -> Response:
    document = _body(request)
    if not isinstance(document, dict) or len(document) != 1 or not {"advance", "set", "freeze"} >= set(document):
        raise _Refused(400, 'post one of {"advance": seconds}, {"set": "2026-03-02T09:30:00Z"}, {"freeze": true}')
    ((action, value),) = document.items()
    if action == "advance":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Refused(400, f"advance takes seconds, got {value!r}")
        app.clock.advance(value)
    elif action == "set":
        try:
            app.clock.set(datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        except ValueError as error:
            raise _Refused(400, f"set takes an ISO 8601 time: {error}") from error
    elif value is True:
        app.clock.freeze()
    elif value is False:
        app.clock.follow_real_time()
    else:
        raise _Refused(400, f"freeze takes true or false, got {value!r}")
    return json_response(200, app.clock.to_json())


def _operations(app: TwinApp, request: Request, rest: list[str]) -> Response:
    if rest:
        if rest != ["complete"] or request.method != "POST":
            raise _Refused(404, "POST /_twin/operations/complete")
        return json_response(200, {"completed": app.finish_operations()})
    with app.lock:
        app.finish_ready_operations()
        running = [operation.to_json() for operation in app.operations.running()]
    return json_response(200, running)


def _logs(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.logs.tables())


def _add_logs(app: TwinApp, request: Request, rest: list[str]) -> Response:
    table = _name(rest, "table")
    rows = _body(request)
    if not isinstance(rows, list):
        raise _Refused(400, "post a JSON array of row objects")
    return json_response(201, {"table": table, "rows": app.logs.add_rows(table, rows)})


def _sink(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.sinks.webhook_entries(_name(rest, "sink")))


def _topic(app: TwinApp, request: Request, rest: list[str]) -> Response:
    return json_response(200, app.sinks.topic_entries(_name(rest, "topic")))


def _clear_sink(app: TwinApp, request: Request, rest: list[str]) -> Response:
    app.sinks.clear(_name(rest, "name"))
    return Response(204)


_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", ""): _info,
    ("GET", "requests"): _requests,
    ("DELETE", "requests"): _clear_requests,
    ("GET", "faults"): _faults,
    ("POST", "faults"): _add_faults,
    ("DELETE", "faults"): _remove_faults,
    ("GET", "events"): _events,
    ("DELETE", "events"): _clear_events,
    ("GET", "deliveries"): _deliveries,
    ("GET", "subscribers"): _subscribers,
    ("POST", "subscribers"): _add_subscriber,
    ("GET", "resources"): _resources,
    ("PUT", "resources"): _put_resources,
    ("PATCH", "resources"): _patch_resource,
    ("GET", "lro"): _lro,
    ("PUT", "lro"): _set_lro,
    ("GET", "clock"): _clock,
    ("POST", "clock"): _set_clock,
    ("GET", "operations"): _operations,
    ("POST", "operations"): _operations,
    ("GET", "logs"): _logs,
    ("POST", "logs"): _add_logs,
    ("GET", "sinks"): _sink,
    ("DELETE", "sinks"): _clear_sink,
    ("GET", "topics"): _topic,
    ("DELETE", "topics"): _clear_sink,
}
