"""Azure Functions triggers. Triggers only: each parses its input and hands it to ``remediators``.

* Event Grid (subscription topic and Resource Notifications events, either schema): accept and
  queue; the work runs from the queue trigger, so Event Grid gets its answer in milliseconds.
* Timer ``%GUARD_SWEEP_SCHEDULE%``: settles long-running fixes left ``applied``, and the reconcile
  sweep over ``GUARD_SWEEP_SUBSCRIPTIONS``
  (catches missed events) and the moment healthy AI accounts' allowlists are recorded as baselines.
* Queue ``%GUARD_WORK_QUEUE%`` (on the function app's storage, ``AzureWebJobsStorage``): the work.
* HTTP (function key): ``POST /api/alerts`` (action groups, common alert schema), ``POST /api/classify``,
  ``POST /api/remediate``, ``GET /api/remediations``, ``POST /api/remediations/{id}/approve`` and
  ``/reject``, ``GET /api/health``. Errors are JSON problem bodies; never a traceback. All but
  alerts and health also need a person signed in through App Service authentication holding an
  app role (``remediators.principal``): ``Remediation.Read`` to read, classify and plan,
  ``Remediation.Approve`` to approve, reject and apply; 401 or 403 otherwise.

Heavy modules are imported inside the functions that need them, so the host's cold start stays
short and an event touches only what it needs.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import azure.functions as func

from remediators import arm_json
from remediators.classify import NotAResource, classify
from remediators.limits import MAX_BODY_BYTES, MAX_REMEDIATION_ID_CHARS, MAX_RESOURCE_ID_CHARS
from remediators.logcontext import install, log_context
from remediators.principal import APPROVE, READ, AccessDenied, Principal, authorize, require
from remediators.settings import InvalidSettings, load_scope_rules

if TYPE_CHECKING:
    from remediators.service import Service
    from remediators.storage import StorageUnavailable

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = install()  # every foundry_guard line carries correlation, event, resource and remediation ids

_service: Service | None = None
_service_lock = threading.Lock()


def service() -> Service:
    """The shared wiring, built on first use (raises InvalidSettings or NotConfigured)."""
    global _service
    with _service_lock:
        if _service is None:
            from remediators.service import Service

            _service = Service.from_environment()
        return _service


def _answers_unavailable_storage(
    handler: Callable[[func.HttpRequest], func.HttpResponse],
) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """An HTTP function whose storage (the ledger, the work queue) cannot be reached answers 503
    with ``Retry-After`` and a problem body, which callers retry (an action group retries a 503),
    never a 500 with a traceback."""

    @functools.wraps(handler)
    def answering(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except Exception as error:
            unavailable = _unavailable(error)
            if unavailable is None:
                raise
            log.error("request not served, storage unavailable: %s", unavailable)
            retry_after = unavailable.retry_after_seconds
            response = _problem(503, f"storage is unavailable; try again in {retry_after} s: {unavailable}")
            response.headers["Retry-After"] = str(retry_after)  # RFC 9110 section 10.2.3
            return response

    return answering


def _unavailable(error: Exception) -> StorageUnavailable | None:
    """``error`` as :class:`~remediators.storage.StorageUnavailable` when storage raised it (every
    Azure SDK error reaching a trigger comes from Table or Queue storage: ARM's are ArmErrors)."""
    from azure.core.exceptions import AzureError

    from remediators.storage import StorageUnavailable

    if isinstance(error, StorageUnavailable):
        return error
    if isinstance(error, AzureError):
        first_line = (str(error).splitlines() or [""])[0]
        return StorageUnavailable(f"{type(error).__name__}: {first_line}")
    return None


# -- events -----------------------------------------------------------------------------------------


@app.function_name("on_resource_event")
@app.event_grid_trigger(arg_name="event")
def on_resource_event(event: func.EventGridEvent) -> None:
    document = {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "dataVersion": event.data_version,
        "metadataVersion": "1",
        "data": event.get_json(),
    }
    with log_context(event_id=event.id, resource_id=event.subject[:MAX_RESOURCE_ID_CHARS]):
        try:  # the same caps as an HTTP body; retrying such an event cannot help, so it is refused
            arm_json.check_size(document["data"], MAX_BODY_BYTES)
        except ValueError as error:
            log.error("event %s refused: its data is %s", event.id, error)
            return
        try:
            accepted = service().accept(document)  # a configuration error raises: Event Grid retries meanwhile
        except Exception as error:
            if _unavailable(error) is not None:  # raised on: Event Grid delivers the event again later
                log.error("event %s not queued, Event Grid will deliver it again: %s", event.id, error)
            raise
        for line in accepted.rejected:
            log.error("event %s refused: %s", event.id, line)
        log.info("event %s: %s", event.id, json.dumps(accepted.to_json()))


@app.function_name("remediate_from_queue")
@app.queue_trigger(arg_name="message", queue_name="%GUARD_WORK_QUEUE%", connection="AzureWebJobsStorage")
def remediate_from_queue(message: func.QueueMessage) -> None:
    from remediators.signals import InvalidMessage
    from remediators.work_queue import ClaimGone

    try:
        opened = service().work.open(message.get_body())  # the caps; a claim check's body
    except ClaimGone as error:  # a redelivery of a message whose work was done
        log.info("queue message %s: %s", message.id, error)
        return
    except ValueError as error:  # not usable JSON, too large or too deep: retrying cannot help
        log.error("queue message %s refused: %s", message.id, error)
        return
    try:
        document = opened.document
        resource_id = document.get("resourceId") if isinstance(document, dict) else None
        with log_context(
            event_id=document.get("eventId") if isinstance(document, dict) else None, resource_id=resource_id
        ):
            processed = service().handle_message(document)
    except (InvalidMessage, ValueError) as error:  # not ours: retrying cannot help
        log.error("queue message %s refused: %s", message.id, error)
        service().work.forget(opened)
        return
    service().work.forget(opened)
    outcome = processed.outcome
    log.info(
        "remediation %s: %s",
        processed.remediation.id if processed.remediation else "-",
        outcome.state if outcome else processed.disposition,
    )


@app.function_name("sweep")
@app.timer_trigger(arg_name="timer", schedule="%GUARD_SWEEP_SCHEDULE%", run_on_startup=False)
def sweep_timer(timer: func.TimerRequest) -> None:
    swept = service().sweep()
    for error in swept.errors:
        log.error("sweep: %s", error)
    log.info("sweep: %s", json.dumps(swept.to_json()))


# -- HTTP -------------------------------------------------------------------------------------------


@app.function_name("alerts")
@app.route(route="alerts", methods=["POST"])
@_answers_unavailable_storage
def alerts_http(req: func.HttpRequest) -> func.HttpResponse:
    document, problem = _json_body(req)
    if problem is not None:
        return problem
    wired = _wired()
    if isinstance(wired, func.HttpResponse):
        return wired
    accepted = wired.accept(document)
    status = 202 if accepted.queued or accepted.duplicates or accepted.out_of_scope else 400
    return _json(accepted.to_json(), status)


@app.function_name("classify")
@app.route(route="classify", methods=["POST"])
def classify_http(req: func.HttpRequest) -> func.HttpResponse:
    principal = _signed_in(req, READ)
    if isinstance(principal, func.HttpResponse):
        return principal
    try:
        rules = load_scope_rules()
    except InvalidSettings as error:
        log.error("invalid configuration: %s", error)
        return _problem(500, f"invalid configuration: {error}")
    resource, problem = _json_body(req)
    if problem is not None:
        return problem
    managed = req.params.get("managed", "").casefold() in ("true", "1")
    try:
        result = classify(resource, rules, treat_as_managed=managed)
    except NotAResource as error:
        return _problem(400, str(error))
    return _json(result.to_json(), 200)


@app.function_name("remediate")
@app.route(route="remediate", methods=["POST"])
@_answers_unavailable_storage
def remediate_http(req: func.HttpRequest) -> func.HttpResponse:
    """``{"resourceId": ..., "action": "plan" | "apply"}``: plan reads and proposes; apply runs the worker."""
    from remediators.resource_ids import InvalidResourceId, parse_resource_id
    from remediators.signals import Actor, Signal
    from remediators.worker import Disposition
    from remediators.workspaces import WORKSPACE_TYPE

    principal = _signed_in(req, READ)
    if isinstance(principal, func.HttpResponse):
        return principal
    document, problem = _json_body(req)
    if problem is not None:
        return problem
    if not isinstance(document, dict) or not isinstance(document.get("resourceId"), str):
        return _problem(400, 'expected {"resourceId": "<ARM id>", "action": "plan" | "apply"}')
    if len(document["resourceId"]) > MAX_RESOURCE_ID_CHARS:
        return _problem(400, f"resourceId is longer than any ARM id (at most {MAX_RESOURCE_ID_CHARS} characters)")
    action = document.get("action", "plan")
    if action not in ("plan", "apply"):
        return _problem(400, f"action must be plan or apply, not {action!r}")
    if action == "apply":
        try:
            require(principal, APPROVE)
        except AccessDenied as error:
            return _denied(error)
    wired = _wired()
    if isinstance(wired, func.HttpResponse):
        return wired
    resource_id = document["resourceId"]
    try:
        named = parse_resource_id(resource_id)
    except InvalidResourceId as error:
        return _problem(400, str(error))
    if named.is_type(WORKSPACE_TYPE):
        return _remediate_workspace(wired, resource_id, action, principal.name)
    reason = wired.pipeline.screen(resource_id)
    if reason is not None:
        return _problem(403, f"not guarded: {reason}")
    if action == "plan":
        return _json(wired.pipeline.copy(dry_run=True).remediate(resource_id).to_json(), 200)
    asker = Actor(principal.object_id, None, principal.name, None)
    signal = Signal(resource_id=resource_id, source="http", actor=asker)
    processed = wired.process(signal)
    if processed.disposition is Disposition.RETRY:
        wait = f"{processed.retry_after or 30:.0f}"
        retry = _problem(
            503, f"ARM did not settle this now ({processed.outcome and processed.outcome.reason}); retry later"
        )
        retry.headers["Retry-After"] = wait
        return retry
    if processed.outcome is None:
        body: dict[str, Any] = {"disposition": str(processed.disposition)}
        if processed.remediation is not None:
            body["remediation"] = processed.remediation.to_json()
        return _json(body, 409 if processed.disposition is Disposition.BUSY else 200)
    answer = processed.outcome.to_json()
    if processed.remediation is not None:
        answer["remediation"] = processed.remediation.to_json()
    return _json(answer, 200)


def _remediate_workspace(wired: Service, workspace_id: str, action: str, caller: str) -> func.HttpResponse:
    """Every guarded resource in the managed resource group the workspace proves its own
    (:meth:`remediators.service.Service.for_workspace`); 422 when it proves none."""
    from remediators.arm import ArmError
    from remediators.resource_ids import InvalidResourceId
    from remediators.signals import Actor, Signal

    try:
        group, ids = wired.for_workspace(workspace_id)
    except LookupError as error:
        return _problem(404, str(error))
    except (ValueError, InvalidResourceId) as error:
        return _problem(422, str(error))
    except ArmError as error:
        return _problem(502, f"reading the workspace failed: {error}")
    results = []
    for resource_id in ids:
        if action == "plan":
            results.append(wired.pipeline.copy(dry_run=True).remediate(resource_id).to_json())
            continue
        signal = Signal(resource_id=resource_id, source="http", actor=Actor(None, None, caller, None))
        processed = wired.process(signal)
        result: dict[str, Any] = processed.outcome.to_json() if processed.outcome else {"resourceId": resource_id}
        result["disposition"] = str(processed.disposition)
        if processed.remediation is not None:
            result["remediation"] = processed.remediation.to_json()
        results.append(result)
    return _json({"workspaceId": workspace_id, "managedResourceGroup": group, "results": results}, 200)


@app.function_name("remediations")
@app.route(route="remediations", methods=["GET"])
@_answers_unavailable_storage
def remediations_http(req: func.HttpRequest) -> func.HttpResponse:
    """A page of the ledger, newest first: ``?status=&top=&continuationToken=``, or ``?resourceId=``
    for one resource's whole history. The answer's ``continuationToken`` asks for the next page."""
    from remediators.ledger import InvalidContinuation, Status

    principal = _signed_in(req, READ)
    if isinstance(principal, func.HttpResponse):
        return principal
    wired = _wired()
    if isinstance(wired, func.HttpResponse):
        return wired
    status = req.params.get("status")
    try:
        wanted = Status(status) if status else None
    except ValueError:
        return _problem(400, f"status must be one of {', '.join(Status)}")
    top_text = req.params.get("top") or "50"
    if not top_text.isdigit() or not 1 <= int(top_text) <= 1000:
        return _problem(400, "top must be a whole number from 1 to 1000")
    resource_id = req.params.get("resourceId") or None
    if resource_id is not None:
        records = wired.ledger.list(status=wanted, resource_id=resource_id, limit=int(top_text))
        return _json({"value": [r.to_json() for r in records]}, 200)
    try:
        page = wired.ledger.page(status=wanted, top=int(top_text), continuation=req.params.get("continuationToken"))
    except InvalidContinuation as error:
        return _problem(400, f"continuationToken: {error}")
    answer: dict[str, Any] = {"value": [r.to_json() for r in page.records]}
    if page.continuation is not None:
        answer["continuationToken"] = page.continuation
    return _json(answer, 200)


@app.function_name("approve")
@app.route(route="remediations/{remediation_id}/approve", methods=["POST"])
@_answers_unavailable_storage
def approve_http(req: func.HttpRequest) -> func.HttpResponse:
    return _decide(req, approve=True)


@app.function_name("reject")
@app.route(route="remediations/{remediation_id}/reject", methods=["POST"])
@_answers_unavailable_storage
def reject_http(req: func.HttpRequest) -> func.HttpResponse:
    return _decide(req, approve=False)


@app.function_name("health")
@app.route(route="health", methods=["GET"])
@_answers_unavailable_storage
def health_http(req: func.HttpRequest) -> func.HttpResponse:
    wired = _wired()
    if isinstance(wired, func.HttpResponse):
        return wired
    return _json({"status": "ok", "armEndpoint": wired.pipeline.arm.endpoint, "dryRun": wired.pipeline.dry_run}, 200)


# -- helpers ----------------------------------------------------------------------------------------


def _decide(req: func.HttpRequest, *, approve: bool) -> func.HttpResponse:
    from remediators.ledger import Conflict, IllegalTransition

    approver = _signed_in(req, APPROVE)
    if isinstance(approver, func.HttpResponse):
        return approver
    wired = _wired()
    if isinstance(wired, func.HttpResponse):
        return wired
    remediation_id = req.route_params.get("remediation_id", "")
    if not _could_be_remediation_id(remediation_id):  # answered without a lookup
        return _problem(404, f"no remediation {_shortened(remediation_id)}")
    decide = wired.approve if approve else wired.worker.reject
    try:
        done = decide(remediation_id, approver)
    except LookupError:
        return _problem(404, f"no remediation {remediation_id!r}")
    except (IllegalTransition, Conflict) as error:
        return _problem(409, str(error))
    return _json(done.to_json(), 200)


def _wired() -> Service | func.HttpResponse:
    from remediators.service import NotConfigured

    try:
        return service()
    except (InvalidSettings, NotConfigured) as error:
        log.error("not configured: %s", error)
        return _problem(503, f"not configured: {error}")


def _signed_in(req: func.HttpRequest, role: str) -> Principal | func.HttpResponse:
    """The person App Service authentication signed in, holding ``role``; else a 401 or 403 problem.

    A function key alone names nobody, and the principal headers are believed only while the
    platform says authentication is on (``remediators.principal``)."""
    try:
        return authorize(req.headers, os.environ, role)
    except AccessDenied as error:
        return _denied(error)


def _denied(error: AccessDenied) -> func.HttpResponse:
    log.warning("request refused (%d): %s", error.status, error)
    response = _problem(error.status, str(error))
    if error.status == 401:  # RFC 9110 section 15.5.2: a 401 names the scheme that would be accepted
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _json_body(req: func.HttpRequest) -> tuple[Any, func.HttpResponse | None]:
    """The request's JSON, or a problem: 413 over :data:`~remediators.limits.MAX_BODY_BYTES` (not
    parsed), 400 nested deeper than :data:`~remediators.limits.MAX_JSON_DEPTH` or not JSON."""
    try:
        return arm_json.loads(req.get_body(), max_bytes=MAX_BODY_BYTES), None
    except arm_json.TooLarge as error:
        return None, _problem(413, f"request body too large: {error}")
    except arm_json.TooDeep as error:
        return None, _problem(400, f"request body is not usable JSON: {error}")
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, _problem(400, f"request body is not JSON: {error}")


def _could_be_remediation_id(text: str) -> bool:
    """Whether ``text`` could be a ledger id: short, of the characters a Table key may hold here."""
    allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
    return 0 < len(text) <= MAX_REMEDIATION_ID_CHARS and all(c in allowed for c in text)


def _shortened(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _problem(status: int, detail: str) -> func.HttpResponse:
    # RFC 9457 problem details; "error" kept for callers of the first version of /api/classify.
    body = {"type": "about:blank", "status": status, "title": _TITLES.get(status, "Error"), "detail": detail}
    body["error"] = detail
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/problem+json")


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _json(document: object, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype="application/json")
