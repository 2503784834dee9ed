"""Telling on-call about a remediation: a CloudEvent on an Event Grid topic and an Adaptive Card in Teams.

Every notice says what broke, where, who changed it, the evidence, what was done or is proposed,
how to approve or reject it, and the remediation id. It never carries a key, token, connection
string or SAS: every string is passed through :func:`~remediators.redaction.redact`, and every
value held under a secret-sounding name (``...Key``, ``...Token``, ``password``,
``connectionString``...) is dropped,
on both channels and in :class:`Delivery` errors. Continuation tokens are never included.

Which outcomes notify (:func:`should_notify`): ``verified``, ``proposed``, ``observed``,
``reverted``, ``failed``, and ``pending`` when that outcome sent the PATCH (the first report of a
long-running fix, the only one that carries the evidence and the PATCH); a later check that finds
the fix still running is silent, and the check that ends it notifies with its own state. Never
``not-guarded``, ``healthy`` or ``gone``. ``docs/notifications.md`` documents the payloads.

Delivery: Event Grid through ``azure.eventgrid.EventGridPublisherClient`` with a token credential
(Entra ID; never access keys), Teams through an HTTPS POST to a Workflows webhook. Each channel is
tried up to ``attempts`` times; :meth:`Notifier.send` never raises. The SDKs are imported on first
send, not with this module.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .findings import Finding
from .pipeline import Outcome, State
from .redaction import REDACTED, redact
from .resource_ids import InvalidResourceId, parse_resource_id
from .signals import signal_to_json

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from .signals import Signal

log = logging.getLogger("foundry_guard.notify")

EVENT_SOURCE = "/foundry-guard"
EVENT_TYPE_PREFIX = "FoundryGuard.Remediation."
CHANNEL_EVENTGRID = "eventgrid"
CHANNEL_TEAMS = "teams"

_NOTIFIED = frozenset({State.VERIFIED, State.PROPOSED, State.OBSERVED, State.REVERTED, State.FAILED})
_MAX_FINDINGS = 10
_MAX_EVIDENCE = 10
_MAX_TEXT = 500  # characters of any one string in a payload
_MAX_VALUE_JSON = 1000  # an observed/expected value longer than this as JSON is sent as shortened JSON text
_MAX_ERROR = 300  # characters of a Delivery error
_MAX_RETRY_AFTER = 5.0  # seconds: a webhook's Retry-After is honoured up to this
_CONNECT_TIMEOUT = 5
_READ_TIMEOUT = 10


@dataclass(frozen=True)
class Notice:
    """What to tell: one pipeline outcome, the remediation it belongs to, and where a person decides."""

    remediation_id: str
    outcome: Outcome
    approve_url: str | None = None
    reject_url: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification on one channel."""

    channel: str  # CHANNEL_EVENTGRID or CHANNEL_TEAMS
    ok: bool
    attempts: int  # requests made (0: the channel was misconfigured or the payload could not be built)
    error: str | None  # one line, redacted; None when ok


def should_notify(outcome: Outcome) -> bool:
    """True for outcomes on-call must hear about; see the module docstring for ``pending``."""
    if outcome.state is State.PENDING:
        return outcome.applied is not None
    return outcome.state in _NOTIFIED


# -- redaction ---------------------------------------------------------------------------------

# A value held under one of these names is never sent, whatever it looks like (booleans and objects are kept:
# allowSharedKeyAccess is a setting, not a key).
_SECRET_NAME = re.compile(
    r"(?i)(key|keys|secret|secrets|password|pwd|token|tokens|connectionstrings?|sas|signature|sig|credentials?)$"
)


def _scrub(value: Any, *, limit: int | None = _MAX_TEXT) -> Any:
    """A JSON value with every string redacted (and shortened), and secret-named string values dropped."""
    if isinstance(value, str):
        return _shorten(redact(value), limit)
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED
            if _SECRET_NAME.search(str(key)) and isinstance(item, str | list)
            else _scrub(item, limit=limit)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, limit=limit) for item in value]
    return value


def _shorten(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return _shorten(" ".join(redact(text).split()), _MAX_ERROR)


# -- the CloudEvent ----------------------------------------------------------------------------


def cloud_event(notice: Notice) -> dict[str, Any]:
    """The CloudEvents 1.0 event published to Event Grid (``docs/notifications.md`` documents ``data``)."""
    outcome = notice.outcome
    state = str(outcome.state)
    event = {
        "specversion": "1.0",
        "id": f"{notice.remediation_id}:{state}",
        "source": EVENT_SOURCE,
        "type": EVENT_TYPE_PREFIX + "".join(part.capitalize() for part in state.split("-")),
        "subject": outcome.resource_id,
        "time": datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": _summary(notice),
    }
    result: dict[str, Any] = _scrub(event, limit=None)
    return result


def _summary(notice: Notice) -> dict[str, Any]:
    outcome = notice.outcome
    try:
        parsed = parse_resource_id(outcome.resource_id)
        resource_type, group, subscription = parsed.resource_type, parsed.resource_group, parsed.subscription
    except InvalidResourceId:
        resource_type = group = subscription = None
    applied = None
    if outcome.applied is not None:
        applied = {"method": "PATCH", "apiVersion": _applied_api_version(outcome), "body": outcome.applied}
    error = None
    if outcome.error is not None:
        error = {
            "status": outcome.error.status,
            "code": outcome.error.code,
            "message": outcome.error.message,
            "retryAfter": outcome.error.retry_after,
        }
    data = {
        "remediationId": notice.remediation_id,
        "resourceId": outcome.resource_id,
        "resourceType": resource_type,
        "resourceGroup": group,
        "subscriptionId": subscription,
        "state": str(outcome.state),
        "kinds": outcome.kinds,
        "reason": outcome.reason,
        "findings": [_finding(f) for f in outcome.findings[:_MAX_FINDINGS]],
        "applied": applied,
        "proposed": [_proposal(f) for f in outcome.proposed[:_MAX_FINDINGS]],
        "error": error,
        "trigger": _trigger(outcome.signal),
        "approveUrl": notice.approve_url,
        "rejectUrl": notice.reject_url,
    }
    result: dict[str, Any] = _scrub(data)
    return result


def _applied_api_version(outcome: Outcome) -> str | None:
    applied = [f for f in outcome.findings if f not in outcome.proposed] or list(outcome.findings)
    return applied[0].plan.api_version if applied else None


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "kind": str(finding.kind),
        "property": finding.property,
        "observed": _compact_value(finding.observed),
        "expected": _compact_value(finding.expected),
        "confidence": str(finding.confidence),
        "why": finding.why,
        "evidence": list(finding.evidence[:_MAX_EVIDENCE]),
    }


def _proposal(finding: Finding) -> dict[str, Any]:
    return {
        "kind": str(finding.kind),
        "property": finding.property,
        "method": "PATCH",
        "apiVersion": finding.plan.api_version,
        "body": finding.plan.body,
        "proposalOnly": finding.plan.proposal_only,
        "reason": finding.plan.reason,
    }


def _compact_value(value: Any) -> Any:
    text = json.dumps(value, default=repr)
    return value if len(text) <= _MAX_VALUE_JSON else text[: _MAX_VALUE_JSON - 3] + "..."


def _trigger(signal: Signal | None) -> dict[str, Any] | None:
    if signal is None:
        return None
    trigger = signal_to_json(signal)
    del trigger["resourceId"]  # the notice names it already
    if trigger["alert"] is not None:  # what on-call needs of an alert; the rest stays in the ledger
        trigger["alert"] = {key: trigger["alert"][key] for key in _ALERT_FIELDS}
    return trigger


_ALERT_FIELDS = ("rule", "severity", "monitorCondition", "firedTime", "searchResultsLink")


# -- the Adaptive Card -------------------------------------------------------------------------

_HEADLINES: dict[State, tuple[str, str]] = {
    State.VERIFIED: ("Fixed and verified", "Good"),
    State.PROPOSED: ("Fix proposed: waiting for a person", "Warning"),
    State.OBSERVED: ("Broken: observed only, nothing changed", "Warning"),
    State.REVERTED: ("Fix did not stick: something rewrote it", "Attention"),
    State.PENDING: ("Fix sent: still running", "Accent"),
    State.FAILED: ("Fix failed", "Attention"),
}

_APPLIED_LABELS: dict[State, str] = {
    State.VERIFIED: "PATCH applied",
    State.REVERTED: "PATCH applied, then rewritten",
    State.PENDING: "PATCH sent, still running",
    State.FAILED: "PATCH sent, not applied",
}


def adaptive_card(notice: Notice) -> dict[str, Any]:
    """The Teams Workflows webhook payload: a message with one Adaptive Card 1.4 attachment.

    The shape (``type: message``, ``attachments[].contentType`` the Adaptive Card type, the card in
    ``content``; ``Action.OpenUrl`` supported) follows Microsoft's "Send Adaptive Cards using an
    Incoming Webhook" (the Workflows "Post to a channel when a webhook request is received" template
    takes the same body):
    https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
    """
    data = _summary(notice)
    outcome = notice.outcome
    headline, color = _HEADLINES.get(outcome.state, (str(outcome.state), "Default"))
    name = data["resourceId"].rstrip("/").rsplit("/", 1)[-1]
    kinds = ", ".join(data["kinds"]) or "no breakage"
    body: list[dict[str, Any]] = [
        _text(f"Foundry Guard: {headline}", size="Large", weight="Bolder", color=color),
        _text(f"{kinds} on {name}", weight="Bolder"),
    ]
    if data["reason"]:
        body.append(_text(data["reason"]))
    body.append({"type": "FactSet", "facts": _facts(data)})
    for finding in data["findings"]:
        body.append(_text(f"{finding['kind']} ({finding['confidence']})", weight="Bolder", separator=True))
        body.append(_text(finding["why"], isSubtle=True))
        facts = [
            ("Property", finding["property"]),
            ("Observed", json.dumps(finding["observed"])),
            ("Expected", json.dumps(finding["expected"])),
            *(("Evidence", line) for line in finding["evidence"]),
        ]
        body.append({"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in facts]})
    if data["applied"] is not None:
        label = _APPLIED_LABELS.get(outcome.state, "PATCH sent")
        body.append(_text(label, weight="Bolder", separator=True))
        body.append(_code(data["resourceId"], data["applied"]))
    for proposal in data["proposed"]:
        body.append(_text(f"PATCH proposed for {proposal['kind']}", weight="Bolder", separator=True))
        if proposal["reason"]:
            body.append(_text(proposal["reason"], isSubtle=True))
        body.append(_code(data["resourceId"], proposal))
    if data["error"] is not None:
        error = data["error"]
        body.append(
            _text(f"ARM answered {error['status'] or 'nothing'} {error['code']}: {error['message']}", color="Attention")
        )
    actions = [
        {"type": "Action.OpenUrl", "title": title, "url": url, "style": style}
        for title, url, style in (
            ("Approve", data["approveUrl"], "positive"),
            ("Reject", data["rejectUrl"], "destructive"),
        )
        if url
    ]
    actions.append(
        {
            "type": "Action.OpenUrl",
            "title": "Open in the Azure portal",
            "url": f"https://portal.azure.com/#resource{data['resourceId']}",
        }
    )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
        "actions": actions,
    }
    result: dict[str, Any] = _scrub(
        {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        },
        limit=None,
    )
    return result


def _facts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    trigger = data["trigger"] or {}
    actor = trigger.get("actor") or {}
    alert = trigger.get("alert") or {}
    who = actor.get("name") or actor.get("objectId") or actor.get("appId")
    if who and actor.get("principalType"):
        who = f"{who} ({actor['principalType']})"
    pairs = [
        ("Resource", data["resourceId"]),
        ("Type", data["resourceType"]),
        ("Kind", ", ".join(data["kinds"])),
        ("State", data["state"]),
        ("Changed by", who or "unknown"),
        ("When", trigger.get("eventTime")),
        ("Operation", trigger.get("operationName")),
        ("Alert", alert.get("rule")),
        ("Correlation id", trigger.get("correlationId")),
        ("Remediation id", data["remediationId"]),
    ]
    return [{"title": title, "value": str(value)} for title, value in pairs if value]


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _code(resource_id: str, patch: Mapping[str, Any]) -> dict[str, Any]:
    version = f"?api-version={patch['apiVersion']}" if patch.get("apiVersion") else ""
    return {
        "type": "Container",
        "items": [
            _text(f"PATCH {resource_id}{version}", fontType="Monospace", size="Small"),
            _text(json.dumps(patch["body"], separators=(", ", ": ")), fontType="Monospace", spacing="None"),
        ],
    }


# -- sending -----------------------------------------------------------------------------------


class _Failure(Exception):
    """One failed attempt: ``retry`` says whether another might succeed; ``wait`` overrides the backoff."""

    def __init__(self, message: str, *, retry: bool, wait: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.wait = wait


class Notifier:
    """Sends a notice to the configured channels: Event Grid (CloudEvent) and Teams (Adaptive Card).

    ``eventgrid_endpoint``: the custom topic's endpoint (``https://<topic>.<region>-1.eventgrid.azure.net/api/events``),
    published to with ``credential`` (the identity needs *EventGrid Data Sender* on the topic).
    ``teams_webhook_url``: the Workflows webhook URL; it carries a signature (``sig=``), so treat it
    as a secret: it is never logged or put in an error. ``connection_verify``: a CA bundle path, or
    ``False``, for both channels (``None``: the default trust store, or ``REQUESTS_CA_BUNDLE``).
    """

    def __init__(
        self,
        *,
        eventgrid_endpoint: str | None,
        credential: TokenCredential | None,
        teams_webhook_url: str | None,
        connection_verify: str | bool | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.eventgrid_endpoint = eventgrid_endpoint or None
        self.teams_webhook_url = teams_webhook_url or None
        self._credential = credential
        self._verify = connection_verify
        self.attempts = max(1, attempts)
        self.backoff_seconds = max(0.0, backoff_seconds)
        self._publisher: Any = None
        self._teams: Any = None
        self._lock = threading.Lock()

    def send(self, notice: Notice) -> list[Delivery]:
        """Notify every configured channel; one :class:`Delivery` per channel tried. Never raises.

        Nothing is sent, and ``[]`` returned, for an outcome :func:`should_notify` rejects.
        """
        if not should_notify(notice.outcome):
            return []
        deliveries = []
        if self.eventgrid_endpoint is not None:
            if self._credential is None:
                problem = "an Event Grid endpoint is set but no token credential (access keys are never used)"
                deliveries.append(self._failed(CHANNEL_EVENTGRID, notice, 0, problem))
            else:
                deliveries.append(self._deliver(CHANNEL_EVENTGRID, notice, cloud_event, self._publish))
        if self.teams_webhook_url is not None:
            if not self.teams_webhook_url.casefold().startswith("https://"):
                deliveries.append(self._failed(CHANNEL_TEAMS, notice, 0, "the Teams webhook URL is not https"))
            else:
                deliveries.append(self._deliver(CHANNEL_TEAMS, notice, adaptive_card, self._post))
        return deliveries

    def _deliver(
        self,
        channel: str,
        notice: Notice,
        build: Callable[[Notice], dict[str, Any]],
        transmit: Callable[[dict[str, Any]], None],
    ) -> Delivery:
        try:
            payload = build(notice)
        except Exception as error:
            return self._failed(channel, notice, 0, f"could not build the {channel} payload: {error}")
        attempt = 0
        while True:
            attempt += 1
            try:
                transmit(payload)
                return Delivery(channel, True, attempt, None)
            except _Failure as failure:
                message, retry, wait = str(failure), failure.retry, failure.wait
            except Exception as error:  # anything else (a credential, a transport) may be transient
                message, retry, wait = f"{type(error).__name__}: {error}", True, None
            if not retry or attempt >= self.attempts:
                return self._failed(channel, notice, attempt, message)
            time.sleep(wait if wait is not None else self.backoff_seconds * 2 ** (attempt - 1))

    def _failed(self, channel: str, notice: Notice, attempts: int, message: str) -> Delivery:
        line = _one_line(message)
        log.warning(
            "notification of remediation %s on %s failed after %d attempt(s): %s",
            redact(notice.remediation_id),
            channel,
            attempts,
            line,
        )
        return Delivery(channel, False, attempts, line)

    # -- Event Grid ----------------------------------------------------------------------------

    def _publish(self, event: dict[str, Any]) -> None:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
        from azure.core.messaging import CloudEvent

        publisher = self._publisher_client()
        # EventGridPublisherClient 4.x drops constructor options (connection_verify, retry_total...):
        # they go with each send. retry_total=0: the attempts are counted here, not by the SDK.
        options: dict[str, Any] = {
            "retry_total": 0,
            "connection_timeout": _CONNECT_TIMEOUT,
            "read_timeout": _READ_TIMEOUT,
        }
        if self._verify is not None:
            options["connection_verify"] = self._verify
        try:
            publisher.send([CloudEvent.from_dict(event)], **options)
        except ClientAuthenticationError as error:
            if error.status_code is None:  # no token: azure-identity has already retried its own endpoint
                raise _Failure(f"no token for Event Grid: {error.message}", retry=False) from None
            raise _Failure(f"Event Grid answered {error.status_code}: {error.message}", retry=False) from None
        except HttpResponseError as error:
            status = error.status_code
            code = error.error.code if error.error is not None else None
            detail = error.error.message if error.error is not None else (error.reason or "")
            raise _Failure(f"Event Grid answered {status} {code or ''}: {detail}", retry=_retryable(status)) from None

    def _publisher_client(self) -> Any:
        with self._lock:
            if self._publisher is None:
                from azure.eventgrid import EventGridPublisherClient

                if self._credential is None:  # send() does not get here without one
                    raise _Failure("no token credential for Event Grid", retry=False)
                _quiet_per_send_options()
                self._publisher = EventGridPublisherClient(self.eventgrid_endpoint or "", self._credential)
            return self._publisher

    # -- Teams ---------------------------------------------------------------------------------

    def _post(self, message: dict[str, Any]) -> None:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            "POST",
            self.teams_webhook_url or "",
            content=json.dumps(message).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        try:
            response = self._teams_pipeline().run(request).http_response
        except AzureError as error:
            # The transport's message can quote the URL, and with it the webhook's signature: name the kind only.
            raise _Failure(f"Teams webhook unreachable ({type(error).__name__})", retry=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        raise _Failure(
            f"Teams webhook answered {status} {response.reason or ''}",
            retry=_retryable(status),
            wait=_retry_after(response.headers.get("Retry-After")),
        )

    def _teams_pipeline(self) -> Any:
        with self._lock:
            if self._teams is None:
                from azure.core.pipeline import Pipeline
                from azure.core.pipeline.transport import RequestsTransport

                options: dict[str, Any] = {"connection_timeout": _CONNECT_TIMEOUT, "read_timeout": _READ_TIMEOUT}
                if self._verify is not None:
                    options["connection_verify"] = self._verify
                self._teams = Pipeline(transport=RequestsTransport(**options), policies=[])
            return self._teams


def _retryable(status: int | None) -> bool:
    """A refusal that will not change by asking again (400, 401, 403, 404...) is not retried."""
    return status is None or status in (408, 429) or status >= 500


def _retry_after(value: str | None) -> float | None:
    try:
        return None if value is None else min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return None


class _PerSendOptionsFilter(logging.Filter):
    """EventGridPublisherClient.send hands its per-call options to the CloudEvent model too, which logs a
    warning per option ("connection_verify is not a known attribute ... and will be ignored"). Passing
    them per call is the only way they reach the transport (DESIGN.md section 7), so those lines are noise.
    """

    OPTIONS = frozenset({"retry_total", "connection_timeout", "read_timeout", "connection_verify"})

    def filter(self, record: logging.LogRecord) -> bool:
        # The formatted message: the record factory (logcontext.install) keeps no arguments.
        message = record.getMessage()
        return not (message.split(" ", 1)[0] in self.OPTIONS and "is not a known attribute" in message)


def _quiet_per_send_options() -> None:
    logger = logging.getLogger("azure.eventgrid._legacy._generated._serialization")
    if not any(isinstance(existing, _PerSendOptionsFilter) for existing in logger.filters):
        logger.addFilter(_PerSendOptionsFilter())
