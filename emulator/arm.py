"""Azure Resource Manager's routes: GET / PUT / PATCH of resources, lists, and operation polls.

Order of checks, as ARM does them: bearer token (401), ``api-version`` (400), injected faults
(throttling and the like happen in front of the provider), then the request itself: unknown
group or resource (404), a write while a long-running one runs (provider's 409/412), policy
(Modify rewrites, Deny refuses), and finally the provider's own write protocol
(:mod:`emulator.providers`). Every successful write emits its ResourceWriteSuccess event; a
long-running one when its operation finishes. Before any of it, long-running operations whose time
has come (:meth:`emulator.app.TwinApp.finish_ready_operations`) finish, so a GET after an update's
settle time sees it done even if nobody polled.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import authorization, ids
from .events import Writer
from .merge import find_key, merge_patch
from .messages import ArmFailure, Request, Response, json_response, new_id
from .operations import LOCATION_MARKER, Operation, location_marked
from .policy import ASSIGNMENT_TYPE, EXEMPTION_TYPE
from .providers import COSMOS_DB, Answer, LocationStyle, Protocol, Provider, provider_for, set_provisioning_state
from .tokens import is_expired, read_claims

if TYPE_CHECKING:
    from .app import TwinApp

_WWW_AUTHENTICATE = (
    'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", '
    "error_description=\"The authentication failed because of missing 'Authorization' header.\""
)


def authenticate(request: Request) -> dict[str, Any]:
    """The caller's claims (empty for a token that is not a JWT); 401 without a bearer token."""
    token = request.bearer_token()
    if token is None:
        raise ArmFailure(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
        )
    claims = read_claims(token) or {}
    if is_expired(claims):
        raise ArmFailure(
            401,
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
            headers={
                "WWW-Authenticate": _WWW_AUTHENTICATE.replace("missing 'Authorization' header", "an expired token")
            },
        )
    return claims


def handle(app: TwinApp, request: Request, claims: dict[str, Any]) -> Response:
    api_version = request.query_value("api-version")
    if not api_version:
        raise ArmFailure(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    with app.lock:
        app.finish_ready_operations()
        operation, is_location = app.operations.find(
            request.path, location_marked(request.query_value(LOCATION_MARKER[0]))
        )
    parsed = ids.parse(request.path)
    target = operation.path if operation else ids.normalise(request.path)
    app.apply_faults(request.method, target, None if operation or parsed is None else parsed.type)
    if operation is not None:
        if request.method != "GET":
            raise _method_not_allowed(request)
        return _poll(app, operation, is_location)
    if parsed is None or parsed.type is None:
        raise ArmFailure(404, "InvalidResourceType", f"The twin serves no resource at '{request.path}'.")
    if parsed.collection:
        if request.method != "GET":
            raise _method_not_allowed(request)
        return _list(app, parsed, request.query_value("$filter"))
    if request.method == "GET":
        return _get(app, parsed)
    if request.method in ("PUT", "PATCH") and parsed.type != ids.SUBSCRIPTION_TYPE:
        return _write(app, request, parsed, claims, api_version)
    raise _method_not_allowed(request)


def _method_not_allowed(request: Request) -> ArmFailure:
    return ArmFailure(405, "MethodNotAllowed", f"The twin does not serve {request.method} on '{request.path}'.")


def not_found(app: TwinApp, parsed: ids.ArmPath) -> ArmFailure:
    if (
        parsed.subscription
        and parsed.resource_group
        and not app.store.group_exists(parsed.subscription, parsed.resource_group)
    ):
        return ArmFailure(404, "ResourceGroupNotFound", f"Resource group '{parsed.resource_group}' could not be found.")
    resource_type = (parsed.type or "").casefold()
    if resource_type == ASSIGNMENT_TYPE.casefold():
        return ArmFailure(404, "PolicyAssignmentNotFound", f"The policy assignment '{parsed.name}' is not found.")
    if resource_type == EXEMPTION_TYPE.casefold():
        return ArmFailure(404, "PolicyExemptionNotFound", f"The policy exemption '{parsed.name}' is not found.")
    if resource_type == authorization.ASSIGNMENT_TYPE.casefold():
        return ArmFailure(404, "RoleAssignmentNotFound", f"The role assignment '{parsed.name}' is not found.")
    where = f" under resource group '{parsed.resource_group}'" if parsed.resource_group else ""
    return ArmFailure(
        404,
        "ResourceNotFound",
        f"The Resource '{parsed.type}/{parsed.name}'{where} was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def _get(app: TwinApp, parsed: ids.ArmPath) -> Response:
    with app.lock:
        if authorization.is_type(parsed, authorization.DEFINITION_TYPE):
            return json_response(200, authorization.get_definition(app.store, parsed))
        body = app.store.get(parsed.path)
        if body is None:
            raise not_found(app, parsed)
        app.settle_on_read(parsed.key, body)
        return json_response(200, copy.deepcopy(body))


def _list(app: TwinApp, parsed: ids.ArmPath, filter_text: str | None) -> Response:
    with app.lock:
        if (
            parsed.subscription
            and parsed.resource_group
            and not app.store.group_exists(parsed.subscription, parsed.resource_group)
        ):
            raise not_found(app, parsed)
        # Role assignments and definitions are listed by where they apply, not where they are stored.
        if authorization.is_type(parsed, authorization.ASSIGNMENT_TYPE):
            items = authorization.list_assignments(app.store, parsed, filter_text)
        elif authorization.is_type(parsed, authorization.DEFINITION_TYPE):
            items = authorization.list_definitions(app.store, parsed, filter_text)
        else:
            items = [copy.deepcopy(body) for body in app.store.children(parsed.parent, parsed.type or "")]
    return json_response(200, {"value": items})


def _write(app: TwinApp, request: Request, parsed: ids.ArmPath, claims: dict[str, Any], api_version: str) -> Response:
    document = _request_document(request)
    provider = provider_for(parsed.type)
    writer = Writer(
        claims=claims,
        method=request.method,
        url=app.base_url + request.target,
        client_ip=request.client_ip,
        client_request_id=request.header("x-ms-client-request-id") or new_id(),
        correlation_id=request.header("x-ms-correlation-request-id") or new_id(),
    )
    with app.lock:
        current = app.store.get(parsed.path)
        _check_target(app, request, parsed, current)
        running = app.operations.running_on(parsed.path)
        if running is not None:
            raise ArmFailure(provider.busy_status, provider.busy_code, provider.busy_message.format(name=parsed.name))
        result = _result(parsed, provider, current, document, request.method)
        app.apply_policies(request.method, result)
        if provider.settle is not None:
            provider.settle(result, document)
        long_running = provider.is_long_running(request.method, current is not None, document)
        return _commit(app, parsed, provider, result, current is not None, writer, api_version, long_running)


def _request_document(request: Request) -> dict[str, Any]:
    try:
        document = request.json()
    except (ValueError, UnicodeDecodeError) as error:
        raise ArmFailure(
            400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {error}"
        ) from error
    if not isinstance(document, dict):
        raise ArmFailure(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return document


def _check_target(app: TwinApp, request: Request, parsed: ids.ArmPath, current: dict[str, Any] | None) -> None:
    if current is not None:
        return
    if request.method == "PATCH":
        raise not_found(app, parsed)
    creating_group = (parsed.type or "").casefold() == ids.RESOURCE_GROUP_TYPE.casefold()
    if creating_group or parsed.subscription is None or parsed.resource_group is None:
        return
    if not app.store.group_exists(parsed.subscription, parsed.resource_group):
        raise not_found(app, parsed)


def _result(
    parsed: ids.ArmPath, provider: Provider, current: dict[str, Any] | None, document: dict[str, Any], method: str
) -> dict[str, Any]:
    """The resource as the write leaves it, before policy and provider rules."""
    if method == "PATCH" and current is not None:
        result: dict[str, Any] = merge_patch(current, document, provider.replace_whole)
    else:
        result = copy.deepcopy(document)
    # id, name and type are ARM's, whatever the body says.
    for field, value in (
        ("id", current["id"] if current else parsed.path),
        ("name", current.get("name", parsed.name) if current else parsed.name),
        ("type", current.get("type", parsed.type) if current else parsed.type),
    ):
        result.pop(find_key(result, field) or field, None)
        result[field] = value
    return _ordered(result)


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    # ARM bodies lead with id, name, type; keep the rest in their order.
    head = {name: resource[name] for name in ("id", "name", "type")}
    return {**head, **{name: value for name, value in resource.items() if name not in head}}


def _commit(
    app: TwinApp,
    parsed: ids.ArmPath,
    provider: Provider,
    result: dict[str, Any],
    existed: bool,
    writer: Writer,
    api_version: str,
    long_running: bool,
) -> Response:
    status = 200 if existed else 201
    if provider.protocol is Protocol.SETTLING:
        return _commit_settling(app, parsed, provider, result, existed, writer, status)
    if long_running:
        return _start_operation(app, parsed, provider, result, existed, writer, api_version)
    set_provisioning_state(result, provider, provider.done_state)
    app.store.put(copy.deepcopy(result))
    app.emit_write(result["id"], parsed, writer, existed)
    return json_response(status, result)


def _commit_settling(
    app: TwinApp,
    parsed: ids.ArmPath,
    provider: Provider,
    result: dict[str, Any],
    existed: bool,
    writer: Writer,
    status: int,
) -> Response:
    # The answer already reads "provisioning"; later GETs keep reading it for a while.
    answer = copy.deepcopy(result)
    set_provisioning_state(answer, provider, provider.busy_state if existed else provider.creating_state)
    if app.lro.search_settle_reads > 0:
        app.store.put(copy.deepcopy(answer))
        app.settling[parsed.key] = app.lro.search_settle_reads
    else:
        set_provisioning_state(result, provider, provider.done_state)
        app.store.put(result)
        app.settling.pop(parsed.key, None)
    app.emit_write(answer["id"], parsed, writer, existed)
    return json_response(status, answer)


def _start_operation(
    app: TwinApp,
    parsed: ids.ArmPath,
    provider: Provider,
    result: dict[str, Any],
    existed: bool,
    writer: Writer,
    api_version: str,
) -> Response:
    """Start a long-running write and answer as the provider's recorded traffic does
    (:mod:`emulator.providers`): the status, the body (as it was, or as requested), and both
    ``Azure-AsyncOperation`` and ``Location`` (a Cognitive Services create gives the first only)."""
    busy_state = provider.busy_state if existed else provider.creating_state
    pending = copy.deepcopy(result)
    set_provisioning_state(pending, provider, provider.done_state)
    # Until the operation finishes, GET shows the resource as it was, in the provider's busy state.
    shown = copy.deepcopy(app.store.get(parsed.path) or result)
    set_provisioning_state(shown, provider, busy_state)
    app.store.put(shown)
    cosmos = provider is COSMOS_DB
    operation = app.operations.start(
        provider,
        parsed,
        result["id"],
        pending,
        polls=app.lro.cosmos_polls if cosmos else app.lro.cognitive_polls,
        settle_seconds=app.lro.cosmos_settle_seconds if cosmos else app.lro.cognitive_settle_seconds,
        now=app.clock.now(),
        api_version=api_version,
        writer=writer,
        existed=existed,
    )
    answer = copy.deepcopy(shown if provider.answer is Answer.BEFORE and existed else result)
    set_provisioning_state(answer, provider, busy_state)
    headers = {"Azure-AsyncOperation": _status_url(app, operation)}
    if existed or provider.location_on_create:
        headers["Location"] = _location_url(app, operation)
    headers.update(_retry_after(app))
    return json_response(provider.update_status if existed else provider.create_status, answer, headers)


def _status_url(app: TwinApp, operation: Operation) -> str:
    return f"{app.base_url}{operation.path}?api-version={operation.api_version}"


def _location_url(app: TwinApp, operation: Operation) -> str:
    url = f"{app.base_url}{operation.location_path}?api-version={operation.api_version}"
    if operation.provider.location is LocationStyle.STATUS_URL:
        url += f"&{LOCATION_MARKER[0]}={LOCATION_MARKER[1]}"
    return url


def _retry_after(app: TwinApp) -> dict[str, str]:
    # Azure's recorded long-running updates carry no Retry-After; a test may ask for one (lro.retryAfter).
    return {} if app.lro.retry_after is None else {"Retry-After": str(app.lro.retry_after)}


def _poll(app: TwinApp, operation: Operation, is_location: bool) -> Response:
    """A poll of the status URL answers the status resource (200); of the Location URL, 202 while the
    operation runs and then 200 with the resource ("Track asynchronous Azure operations", Microsoft
    Learn, azure-resource-manager/management/async-operations)."""
    with app.lock:
        if app.operations.poll(operation, app.clock.now()):
            app.complete(operation)
        running = {} if operation.done else _retry_after(app)
        if not is_location:
            return json_response(200, operation.status_body(), running)
        if not operation.done:
            return Response(202, b"", {"Location": _location_url(app, operation), **running})
        resource = app.store.copy_of(operation.resource_id)
        return json_response(200, resource if resource is not None else operation.pending)
