"""Everything that can wake the pipeline, normalised to one shape: one :class:`Signal` per resource.

Understood inputs, single or in a batch (a JSON array):

* ARM resource events from an Azure subscription or resource group system topic
  (``Microsoft.Resources.Resource{Write,Delete,Action}{Success,Failure,Cancel}``), in the Event
  Grid or the CloudEvents 1.0 schema: ``data.resourceUri`` (else ``subject``) is the resource,
  ``data.claims`` and ``data.authorization.evidence`` say who made the change;
* Azure Resource Notifications (``Microsoft.ResourceNotifications.Resources.CreatedOrUpdated`` and
  ``.Deleted``), in either schema: ``data.resourceInfo.id`` is the resource and its body, which
  they carry, is kept as evidence exactly as given (booleans as ``1``/``0``);
* the Event Grid subscription validation event, answered through :attr:`Parsed.validation_code`;
* Azure Monitor alerts in the common alert schema: one signal per affected resource, taken from the
  ``_ResourceId`` dimensions of a log search alert when it has them (its target is usually the Log
  Analytics workspace), otherwise from ``essentials.alertTargetIDs``.

A signal only names what to look at: the pipeline re-reads the live resource and never writes
from an event body. Parsing never raises. What cannot be used is a :class:`Rejected` with a one-line
reason, and a bad item in a batch costs only itself.

A signal is small whatever the input (:mod:`remediators.limits`): an id longer than any ARM id is
refused, every text it carries is cut to :data:`~remediators.limits.MAX_SIGNAL_TEXT_CHARS`, an
alert's signal carries only its own target, and one document gives at most ``max_resources``
signals. So its queue message, and the trigger the ledger records for it, stay a few KiB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from json.encoder import encode_basestring_ascii
from typing import Any

from .arm_json import MISSING, loads, lookup, same_text
from .limits import ALERT_TARGETS_PER_SIGNAL, MAX_RESOURCE_ID_CHARS, MAX_RESOURCES_PER_ALERT, MAX_SIGNAL_TEXT_CHARS
from .resource_ids import InvalidResourceId, parse_resource_id

SOURCE_EVENT_GRID = "eventgrid"
SOURCE_RESOURCE_NOTIFICATIONS = "resource-notifications"
SOURCE_ALERT = "alert"

VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
COMMON_ALERT_SCHEMA = "azureMonitorCommonAlertSchema"
ARM_EVENT_TYPES = frozenset(
    f"Microsoft.Resources.Resource{operation}{outcome}".casefold()
    for operation in ("Write", "Delete", "Action")
    for outcome in ("Success", "Failure", "Cancel")
)
RESOURCE_NOTIFICATION_TYPES = frozenset(
    name.casefold()
    for name in (
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
        "Microsoft.ResourceNotifications.Resources.Deleted",
    )
)

_OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
_APP_ID_CLAIMS = ("appid", "azp")
_NAME_CLAIMS = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "unique_name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "name",
)
# The ``idtyp`` claim says ``app`` or ``user``; ARM's evidence says ``ServicePrincipal`` or ``User``.
_IDTYP_PRINCIPAL_TYPES = {"app": "ServicePrincipal", "user": "User"}


@dataclass(frozen=True)
class Actor:
    """Who made the change, as the event's claims, authorization evidence or caller say."""

    object_id: str | None
    app_id: str | None
    name: str | None  # something a person on call can read: a UPN, a name, else the caller or app id
    principal_type: str | None  # "User", "ServicePrincipal", ...


@dataclass(frozen=True)
class AlertContext:
    """What an on-call person needs from a fired (or resolved) alert."""

    rule: str | None  # essentials.alertRule
    rule_id: str | None
    alert_id: str | None
    signal_type: str | None  # "Metric", "Log", "Activity Log"
    monitoring_service: str | None  # "Platform", "Log Alerts V2", "Activity Log - Administrative", ...
    monitor_condition: str | None  # "Fired" or "Resolved"
    severity: str | None
    fired_time: str | None
    resolved_time: str | None
    condition_type: str | None  # alertContext.conditionType, e.g. "LogQueryCriteria"
    search_query: str | None
    search_results_link: str | None  # the Log Analytics API link, filtered to this resource's dimensions if given
    target_ids: tuple[str, ...]  # essentials.alertTargetIDs as given (for a log search alert, the workspace)


@dataclass(frozen=True)
class Signal:
    """One resource to re-read, and why: the trigger's account of what happened to it."""

    resource_id: str  # a valid ARM id, as the input spelled it (ARM ids compare case-insensitively)
    source: str  # SOURCE_EVENT_GRID, SOURCE_RESOURCE_NOTIFICATIONS or SOURCE_ALERT
    event_id: str | None = None  # the event's id; for an alert, essentials.alertId
    event_type: str | None = None  # e.g. "Microsoft.Resources.ResourceWriteSuccess"; None for alerts
    event_time: str | None = None
    operation_name: str | None = None  # e.g. "Microsoft.DocumentDB/databaseAccounts/write"
    correlation_id: str | None = None
    actor: Actor | None = None
    resource_body: dict[str, Any] | None = None  # Resource Notifications' resourceInfo, as given: evidence only
    alert: AlertContext | None = None
    resource_api_version: str | None = None  # the API version resource_body was written in


@dataclass(frozen=True)
class Rejected:
    index: int | None  # position in a batch; None for a single document
    reason: str  # one line, says what was wrong


@dataclass(frozen=True)
class Parsed:
    signals: tuple[Signal, ...]
    rejected: tuple[Rejected, ...]
    validation_code: str | None = None  # Event Grid's handshake: answer {"validationResponse": code}


def parse_signals(document: Any, *, max_resources: int | None = None) -> Parsed:
    """Normalise a decoded JSON document (one event, a batch, or an alert). Never raises.

    With ``max_resources``, at most that many signals are given; the resources past it are
    refused in one line that says how many were left out."""
    if isinstance(document, list):
        if not document:
            return Parsed((), (Rejected(None, "an empty array holds no event"),))
        items: Iterable[tuple[int | None, Any]] = enumerate(document)
    elif isinstance(document, Mapping):
        items = ((None, document),)
    else:
        return Parsed(
            (),
            (
                Rejected(
                    None,
                    "expected an Event Grid event, a CloudEvent, an array of them or a common alert schema "
                    f"payload, got {_json_type(document)}",
                ),
            ),
        )
    reader = _Reader()
    for index, item in items:
        reader.read(index, item)
    signals, rejected = reader.signals, reader.rejected
    if max_resources is not None and len(signals) > max_resources:
        left_out = len(signals) - max_resources
        signals = signals[:max_resources]
        rejected.append(
            Rejected(
                None,
                f"{left_out} more resource(s) left out: one delivery queues at most {max_resources} "
                "(a fired alert names one resource; send the rest separately)",
            )
        )
    return Parsed(tuple(signals), tuple(rejected), reader.validation_code)


class _Reader:
    """Collects what a document's items give: an alert may add several signals and rejections, an event one."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self.rejected: list[Rejected] = []
        self.validation_code: str | None = None

    def read(self, index: int | None, item: Any) -> None:
        try:
            if not isinstance(item, Mapping):
                raise _Reject(f"a batch item must be a JSON object, not {_json_type(item)}")
            if lookup(item, "schemaId") is not MISSING:
                signals, reasons = _alert_signals(item)
                self.signals.extend(map(_bounded, signals))
                self.rejected.extend(Rejected(index, reason) for reason in reasons)
            else:
                self.signals.extend(map(_bounded, self._event_item(item)))
        except _Reject as rejection:
            self.rejected.append(Rejected(index, rejection.reason))

    def _event_item(self, item: Mapping[str, Any]) -> list[Signal]:
        if lookup(item, "eventType") is not MISSING:
            return self._event(item, _required_text(item, "eventType"), lookup(item, "eventTime"))
        if _looks_like_cloud_event(item):
            return self._event(item, _required_text(item, "type"), lookup(item, "time"))
        raise _Reject(_unknown_object(item))

    def _event(self, event: Mapping[str, Any], event_type: str, envelope_time: Any) -> list[Signal]:
        folded = event_type.casefold()
        if folded == VALIDATION_EVENT_TYPE.casefold():
            self._validation(event)
            return []
        if folded in ARM_EVENT_TYPES:
            return [_arm_event_signal(event, event_type, envelope_time)]
        if folded in RESOURCE_NOTIFICATION_TYPES:
            return [_resource_notification_signal(event, event_type, envelope_time)]
        raise _Reject(
            f"event type {_quote(event_type)} is not one Foundry Guard acts on "
            "(Microsoft.Resources.Resource* events, Microsoft.ResourceNotifications.Resources.*, "
            "subscription validation)"
        )

    def _validation(self, event: Mapping[str, Any]) -> None:
        code = _text(lookup(event, "data", "validationCode"))
        if code is None:
            raise _Reject("the subscription validation event has no data.validationCode")
        if self.validation_code is not None:
            raise _Reject("a second subscription validation event in one delivery; the first one is answered")
        self.validation_code = code


class _Reject(Exception):
    """This item cannot be used; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _arm_event_signal(event: Mapping[str, Any], event_type: str, envelope_time: Any) -> Signal:
    data = _mapping(lookup(event, "data"))
    raw_id = _first_text(lookup(data, "resourceUri"), lookup(event, "subject"))
    if raw_id is None:
        raise _Reject(f"the {event_type} event has neither data.resourceUri nor a subject: it names no resource")
    return Signal(
        resource_id=_resource_id(raw_id),
        source=SOURCE_EVENT_GRID,
        event_id=_event_id(lookup(event, "id")),
        event_type=event_type,
        event_time=_text(envelope_time),
        operation_name=_text(lookup(data, "operationName")),
        correlation_id=_text(lookup(data, "correlationId")),
        actor=_actor(lookup(data, "claims"), lookup(data, "authorization"), caller=None),
    )


def _resource_notification_signal(event: Mapping[str, Any], event_type: str, envelope_time: Any) -> Signal:
    data = _mapping(lookup(event, "data"))
    info = lookup(data, "resourceInfo")
    raw_id = _first_text(lookup(info, "id"), lookup(event, "subject"))
    if raw_id is None:
        raise _Reject(f"the {event_type} event has neither data.resourceInfo.id nor a subject: it names no resource")
    carries_body = isinstance(info, dict) and lookup(info, "properties") is not MISSING
    return Signal(
        resource_id=_resource_id(raw_id),
        source=SOURCE_RESOURCE_NOTIFICATIONS,
        event_id=_event_id(lookup(event, "id")),
        event_type=event_type,
        event_time=_first_text(lookup(data, "operationalInfo", "resourceEventTime"), envelope_time),
        resource_body=info if isinstance(info, dict) and carries_body else None,
        resource_api_version=_text(lookup(data, "apiVersion")) if carries_body else None,
    )


def _alert_signals(payload: Mapping[str, Any]) -> tuple[list[Signal], list[str]]:
    """One signal per resource the alert names, and a reason for each named id that is not an ARM id."""
    schema_id = lookup(payload, "schemaId")
    if not same_text(schema_id, COMMON_ALERT_SCHEMA):
        raise _Reject(
            f"schemaId {_quote(schema_id)} is not the common alert schema ({COMMON_ALERT_SCHEMA}): "
            "enable the common alert schema on the action group"
        )
    essentials = lookup(payload, "data", "essentials")
    if not isinstance(essentials, Mapping):
        raise _Reject("the common alert schema payload has no data.essentials object")
    context = _mapping(lookup(payload, "data", "alertContext"))
    targets = tuple(t for t in _list(lookup(essentials, "alertTargetIDs")) if isinstance(t, str))
    conditions = [c for c in _list(lookup(context, "condition", "allOf")) if isinstance(c, Mapping)]

    # (resource id, the condition that named it, whether it is one of the alert's targets): a log
    # search alert's _ResourceId dimensions name the resources whose rows fired it; its target is
    # only the workspace that was queried.
    named = [(value, condition, False) for condition in conditions for value in _resource_id_dimensions(condition)]
    # Log Alerts V1 keep them in alertContext.Dimensions.
    named += [(value, context, False) for value in _resource_id_dimensions(context)]
    if not named:
        first = conditions[0] if conditions else context
        named = [(target, first, True) for target in targets]
    if not named:
        raise _Reject(
            "the alert names no resource: essentials.alertTargetIDs is empty "
            "and no condition has a _ResourceId dimension"
        )

    actor = _actor(lookup(context, "claims"), lookup(context, "authorization"), caller=lookup(context, "caller"))
    alert_id = _event_id(lookup(essentials, "alertId"))
    signals: list[Signal] = []
    reasons: list[str] = []
    seen: set[str] = set()
    for raw_id, condition, is_target in named:
        if len(signals) == MAX_RESOURCES_PER_ALERT:
            reasons.append(
                f"the alert names more than {MAX_RESOURCES_PER_ALERT} resources: the first "
                f"{MAX_RESOURCES_PER_ALERT} are queued (a fired alert names one resource)"
            )
            break
        try:
            # Diagnostic logs name sub-resources (a storage account's blobServices/default): the
            # guarded resource is the top-level one.
            resource_id = parse_resource_id(_checked_id_length(raw_id)).top_level.text
        except (InvalidResourceId, _Reject) as error:
            reasons.append(error.reason if isinstance(error, _Reject) else str(error))
            continue
        if resource_id.casefold() in seen:  # alert targets are often lower-cased copies of each other
            continue
        seen.add(resource_id.casefold())
        # A signal for one of the alert's targets carries only that target; one for a resource a
        # log search alert's rows named carries the workspaces queried (a few, not all of them).
        own_targets = (raw_id,) if is_target else targets[:ALERT_TARGETS_PER_SIGNAL]
        signals.append(
            Signal(
                resource_id=resource_id,
                source=SOURCE_ALERT,
                event_id=alert_id,
                event_time=_first_text(lookup(context, "eventTimestamp"), lookup(essentials, "firedDateTime")),
                operation_name=_text(lookup(context, "operationName")),
                correlation_id=_text(lookup(context, "correlationId")),
                actor=actor,
                alert=_alert_context(essentials, context, condition, own_targets),
            )
        )
    return signals, reasons


def _resource_id_dimensions(condition: Mapping[str, Any]) -> list[Any]:
    return [
        lookup(dimension, "value")
        for dimension in _list(lookup(condition, "dimensions"))
        if same_text(lookup(dimension, "name"), "_ResourceId")
    ]


def _alert_context(
    essentials: Mapping[str, Any], context: Mapping[str, Any], condition: Mapping[str, Any], targets: tuple[str, ...]
) -> AlertContext:
    def either(key: str) -> Any:  # Log Alerts V2 keep these per condition; V1 at the top of alertContext
        return _first_text(lookup(condition, key), lookup(context, key))

    return AlertContext(
        rule=_text(lookup(essentials, "alertRule")),
        rule_id=_text(lookup(essentials, "alertRuleID")),
        alert_id=_text(lookup(essentials, "alertId")),
        signal_type=_text(lookup(essentials, "signalType")),
        monitoring_service=_text(lookup(essentials, "monitoringService")),
        monitor_condition=_text(lookup(essentials, "monitorCondition")),
        severity=_text(lookup(essentials, "severity")),
        fired_time=_text(lookup(essentials, "firedDateTime")),
        resolved_time=_text(lookup(essentials, "resolvedDateTime")),
        condition_type=_text(lookup(context, "conditionType")),
        search_query=either("searchQuery"),
        search_results_link=_first_text(either("linkToFilteredSearchResultsAPI"), either("linkToSearchResultsAPI")),
        target_ids=targets,
    )


def _actor(claims: Any, authorization: Any, *, caller: Any) -> Actor | None:
    """Who acted, from JWT claims (an object, or the JSON string activity logs carry) and evidence."""
    if isinstance(claims, str):
        try:
            claims = loads(claims)
        except (ValueError, RecursionError):
            claims = None
    claims = _mapping(claims)
    evidence = _mapping(lookup(authorization, "evidence"))
    object_id = _first_text(*(lookup(claims, key) for key in _OBJECT_ID_CLAIMS), lookup(evidence, "principalId"))
    app_id = _first_text(*(lookup(claims, key) for key in _APP_ID_CLAIMS))
    name = _first_text(*(lookup(claims, key) for key in _NAME_CLAIMS), caller, app_id)
    idtyp = _text(lookup(claims, "idtyp"))
    principal_type = _first_text(
        lookup(evidence, "principalType"),
        _IDTYP_PRINCIPAL_TYPES.get(idtyp.casefold(), idtyp) if idtyp else None,
    )
    if object_id is None and app_id is None and name is None and principal_type is None:
        return None
    return Actor(object_id=object_id, app_id=app_id, name=name, principal_type=principal_type)


def _resource_id(raw: Any) -> str:
    try:
        return parse_resource_id(_checked_id_length(raw)).text
    except InvalidResourceId as error:
        raise _Reject(str(error)) from None


def _checked_id_length(raw: Any) -> Any:
    if isinstance(raw, str) and len(raw) > MAX_RESOURCE_ID_CHARS:
        raise _Reject(
            f"a resource id of {len(raw)} characters is longer than any ARM id (at most {MAX_RESOURCE_ID_CHARS} "
            f"accepted): {_quote(raw)}"
        )
    return raw


def _event_id(value: Any) -> str | None:
    """An event's (or alert's) id, which keys its deliveries: refused, never cut, when too long."""
    text = _text(value)
    if text is not None and len(text) > MAX_RESOURCE_ID_CHARS:
        raise _Reject(f"an event id of {len(text)} characters is longer than any Event Grid or alert id")
    return text


def _bounded(signal: Signal) -> Signal:
    """The signal with every text it carries cut to MAX_SIGNAL_TEXT_CHARS of JSON (ids are checked
    at parsing; links too long are dropped), and at most ALERT_TARGETS_PER_SIGNAL alert targets."""
    cut: dict[str, Any] = {name: _cut(getattr(signal, name)) for name in _MESSAGE_FIELDS if name != "event_id"}
    actor, alert = signal.actor, signal.alert
    if actor is not None:
        actor = Actor(**{f.name: _cut(getattr(actor, f.name)) for f in fields(Actor)})
    if alert is not None:
        texts = {
            f.name: _cut(getattr(alert, f.name))
            for f in fields(AlertContext)
            if f.name not in ("target_ids", "search_results_link")
        }
        link = alert.search_results_link
        targets = tuple(t for t in alert.target_ids if len(t) <= MAX_RESOURCE_ID_CHARS)[:ALERT_TARGETS_PER_SIGNAL]
        alert = AlertContext(
            **texts,
            search_results_link=link if link is None or _cut(link) == link else None,
            target_ids=targets,
        )
    return replace(signal, actor=actor, alert=alert, **cut)


def _cut(text: str | None, limit: int = MAX_SIGNAL_TEXT_CHARS) -> str | None:
    """``text`` if its JSON form (``\\uXXXX`` escapes count six) fits ``limit``; else its longest
    prefix that fits with "..." after it."""
    if text is None or len(text) * 12 <= limit or len(encode_basestring_ascii(text)) - 2 <= limit:
        return text
    budget, kept = limit - 3, 0
    for char in text:
        budget -= len(encode_basestring_ascii(char)) - 2
        if budget < 0:
            break
        kept += 1
    return text[:kept] + "..."


def _looks_like_cloud_event(item: Mapping[str, Any]) -> bool:
    # Microsoft's own CloudEvents samples are not always complete (one has "topic" for "source"),
    # so a CloudEvent is recognised by specversion, or by type + subject + data. An ARM resource body
    # has "type" too, but never "subject" or "specversion".
    if lookup(item, "specversion") is not MISSING:
        return True
    return all(lookup(item, key) is not MISSING for key in ("type", "subject", "data"))


def _required_text(item: Mapping[str, Any], key: str) -> str:
    value = _text(lookup(item, key))
    if value is None:
        raise _Reject(f"the event's {key!r} is {_json_type(lookup(item, key))}, not an event type")
    return value


def _unknown_object(item: Mapping[str, Any]) -> str:
    keys = [key for key in item if isinstance(key, str)]
    if not keys:
        return "an empty object is not an Event Grid event, CloudEvent or common alert schema payload"
    shown = ", ".join(_quote(key, limit=40, bare=True) for key in keys[:8]) + (", ..." if len(keys) > 8 else "")
    folded = {key.casefold() for key in keys}
    hint = ""
    if {"id", "type"} <= folded and ("properties" in folded or "location" in folded):
        hint = " (it looks like an ARM resource body: classify takes those)"
    return f"an object with keys {shown} is not an Event Grid event, CloudEvent or common alert schema payload{hint}"


def _text(value: Any) -> str | None:
    """A non-empty string, or None: optional fields hold text or nothing."""
    return value if isinstance(value, str) and value != "" else None


def _first_text(*values: Any) -> str | None:
    return next((text for text in map(_text, values) if text is not None), None)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _quote(value: Any, *, limit: int = 80, bare: bool = False) -> str:
    """A value for a one-line message: quoted (or bare when printable), shortened, never a newline."""
    if not isinstance(value, str):
        return _json_type(value)
    short = value if len(value) <= limit else value[: limit - 3] + "..."
    readable = short != "" and short.isprintable() and short.strip() == short and "," not in short
    return short if bare and readable else repr(short)


def _json_type(value: Any) -> str:
    if value is MISSING:
        return "absent"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# Queue messages name a signal's fields in camelCase, as the rest of the service's JSON does.
_MESSAGE_FIELDS = ("event_id", "event_type", "event_time", "operation_name", "correlation_id")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _fields_json(value: Actor | AlertContext) -> dict[str, Any]:
    out = {_camel(f.name): getattr(value, f.name) for f in fields(value)}
    if isinstance(value, AlertContext):
        out["targetIds"] = list(value.target_ids)
    return out


def signal_to_json(signal: Signal) -> dict[str, Any]:
    """A signal as a queue message: everything but the resource body (evidence only, and large)."""
    out: dict[str, Any] = {"resourceId": signal.resource_id, "source": signal.source}
    out.update({_camel(name): getattr(signal, name) for name in _MESSAGE_FIELDS})
    out["actor"] = _fields_json(signal.actor) if signal.actor is not None else None
    out["alert"] = _fields_json(signal.alert) if signal.alert is not None else None
    return out


class InvalidMessage(ValueError):
    """A queue message that is not a signal this service wrote."""


def signal_from_json(document: Any) -> Signal:
    """The inverse of :func:`signal_to_json`; raises :class:`InvalidMessage` with a one-line reason."""
    if not isinstance(document, Mapping):
        raise InvalidMessage("a work message is a JSON object")
    raw_id = document.get("resourceId")
    if isinstance(raw_id, str) and len(raw_id) > MAX_RESOURCE_ID_CHARS:
        raise InvalidMessage(f"its resourceId of {len(raw_id)} characters is longer than any ARM id")
    try:
        resource_id = parse_resource_id(raw_id).text
    except InvalidResourceId as error:
        raise InvalidMessage(str(error)) from None
    actor_doc, alert_doc = document.get("actor"), document.get("alert")
    actor = None
    if isinstance(actor_doc, Mapping):
        actor = Actor(**{f.name: _str(actor_doc.get(_camel(f.name))) for f in fields(Actor)})
    alert = None
    if isinstance(alert_doc, Mapping):
        alert_texts = {
            f.name: _str(alert_doc.get(_camel(f.name))) for f in fields(AlertContext) if f.name != "target_ids"
        }
        targets = tuple(t for t in _list(alert_doc.get("targetIds")) if isinstance(t, str))
        alert = AlertContext(**alert_texts, target_ids=targets)
    message: dict[str, Any] = {name: _str(document.get(_camel(name))) for name in _MESSAGE_FIELDS}
    if message["event_id"] is not None and len(message["event_id"]) > MAX_RESOURCE_ID_CHARS:
        raise InvalidMessage("its eventId is longer than any Event Grid or alert id")
    signal = Signal(
        resource_id=resource_id,
        source=_cut(_str(document.get("source")), 64) or "queue",
        actor=actor,
        alert=alert,
        **message,
    )
    return _bounded(signal)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
