"""What the Azure Functions host does for the function app, for the demo, the tests and the benchmarks.

The host itself cannot be installed here (its package downloads a binary), so these hand the
app's functions the same objects the host would: an ``EventGridEvent`` built from the event the
twin emitted, and each queued message as a ``QueueMessage``, deleted once handled, retried and
finally moved to the poison queue as ``host.json`` says when its handler fails. App Service
authentication, in front of the host, is played here too: the environment variable the platform
sets when it is on, and the header it sends for a signed-in person.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("emulator.host")


def grid_event(event: Mapping[str, Any]) -> func.EventGridEvent:
    """An Event Grid schema event (as the twin emits it) as the Event Grid trigger receives it."""
    when = event.get("eventTime")
    return func.EventGridEvent(
        id=event["id"],
        data=event.get("data") or {},
        topic=event.get("topic", ""),
        subject=event.get("subject", ""),
        event_type=event.get("eventType", ""),
        event_time=datetime.datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None,
        data_version=event.get("dataVersion", ""),
    )


def _timespan_seconds(text: str) -> float:
    """A .NET TimeSpan as host.json writes one (``[d.]hh:mm:ss[.fff]``), in seconds."""
    match = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a TimeSpan (hh:mm:ss)")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueTriggerSettings:
    """The queue trigger's retry settings, as ``host.json`` ``extensions.queues`` gives them.

    What ``host.json`` leaves out takes the host's default (Microsoft's host.json reference for
    the queue extension: ``maxDequeueCount`` 5, ``visibilityTimeout`` 00:00:00, ``batchSize`` 16).
    """

    max_dequeue_count: int = 5  # deliveries of one message before it moves to the poison queue
    visibility_timeout_seconds: float = 0.0  # how long a message that failed stays hidden before its next try
    batch_size: int = 16  # messages received at once

    @classmethod
    def from_host_json(cls, path: Path = ROOT / "host.json") -> QueueTriggerSettings:
        queues = json.loads(path.read_text(encoding="utf-8")).get("extensions", {}).get("queues", {})
        defaults = cls()
        return cls(
            max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
            visibility_timeout_seconds=(
                _timespan_seconds(queues["visibilityTimeout"])
                if "visibilityTimeout" in queues
                else defaults.visibility_timeout_seconds
            ),
            batch_size=int(queues.get("batchSize", defaults.batch_size)),
        )


# The host's settings as deployed: the drain behaves as they say unless a test says otherwise.
QUEUE_TRIGGER = QueueTriggerSettings.from_host_json()
POISON_SUFFIX = "-poison"
# While a function runs, the host keeps its message hidden for ten minutes, renewing as it goes
# (azure-webjobs-sdk QueueListener: ``_visibilityTimeout = TimeSpan.FromMinutes(10)``).
RUNNING_VISIBILITY_SECONDS = 600


def drain(
    queue: Any,
    handle: Callable[[func.QueueMessage], None],
    *,
    settings: QueueTriggerSettings = QUEUE_TRIGGER,
    visibility_timeout_seconds: float | None = None,
) -> int:
    """Hand every visible message in ``queue`` (a QueueClient) to ``handle`` as the queue trigger
    does, until none is left visible; how many were handled successfully.

    As the host does (azure-webjobs-sdk ``QueueProcessor.CompleteProcessingMessageAsync``): a
    message whose handler returns is deleted; one whose handler raises stays in the queue, hidden
    for the visibility timeout, and comes back with its dequeue count one higher; once a failed
    try has a dequeue count of ``max_dequeue_count``, the message is copied to
    ``<queue>-poison`` and deleted. The handler sees the dequeue count on the message.

    No clock is read here: Azurite's own clock runs the visibility timeouts. A failed message
    hidden for the host's 30 s is simply not visible to this drain, which returns; a test that
    wants the retries now passes ``visibility_timeout_seconds=0`` and sees every try at once.
    Storage calls go through ``queue``'s own retry policy, so a connection reset is retried; a
    delete that finds the message gone (its first attempt landed) is done.
    """
    from azure.core.exceptions import ResourceNotFoundError

    hide_after_failure = (
        settings.visibility_timeout_seconds if visibility_timeout_seconds is None else visibility_timeout_seconds
    )
    handled = 0
    while True:
        received = list(
            queue.receive_messages(max_messages=settings.batch_size, visibility_timeout=RUNNING_VISIBILITY_SECONDS)
        )
        if not received:
            return handled
        for message in received:
            trigger = QueueMessage(  # type: ignore[no-untyped-call]
                id=message.id,
                body=message.content.encode("utf-8") if isinstance(message.content, str) else message.content,
                dequeue_count=message.dequeue_count,
                expiration_time=message.expires_on,
                insertion_time=message.inserted_on,
                time_next_visible=message.next_visible_on,
                pop_receipt=message.pop_receipt,
            )
            try:
                handle(trigger)
            except Exception:  # the host logs the failure and keeps the message for another try
                log.exception("queue message %s failed (dequeue count %s)", message.id, message.dequeue_count)
                if (message.dequeue_count or 0) >= settings.max_dequeue_count:
                    _poison(queue).send_message(message.content)
                    with contextlib.suppress(ResourceNotFoundError):
                        queue.delete_message(message)
                else:
                    queue.update_message(message, visibility_timeout=int(hide_after_failure))
                continue
            with contextlib.suppress(ResourceNotFoundError):
                queue.delete_message(message)
            handled += 1


def poison_queue(queue: Any) -> Any:
    """The poison queue the host moves ``queue``'s failed messages to, as a QueueClient."""
    return _poison(queue)


def _poison(queue: Any) -> Any:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    poison = QueueClient(
        queue.url.split("?", 1)[0].rsplit("/", 1)[0],
        queue.queue_name + POISON_SUFFIX,
        credential=queue.credential,
        message_encode_policy=getattr(queue, "_message_encode_policy", None),
        message_decode_policy=getattr(queue, "_message_decode_policy", None),
    )
    with contextlib.suppress(ResourceExistsError):
        poison.create_queue()
    return poison


# What App Service puts in the app's environment when authentication is on (Microsoft's "Environment
# variables and app settings reference": WEBSITE_AUTH_ENABLED, read-only, injected by the platform).
AUTHENTICATION_ON = {"WEBSITE_AUTH_ENABLED": "True"}


def signed_in(object_id: str, name: str, *roles: str) -> dict[str, str]:
    """The headers App Service authentication sends the app for a person signed in with Entra ID
    holding ``roles``: ``X-MS-CLIENT-PRINCIPAL``, base64 JSON in the shape Microsoft documents
    ("Work with user identities in Azure App Service authentication": auth_typ, claims of typ and
    val, name_typ, role_typ), with the claim types App Service maps Entra ID's tokens to, and the
    readable ``X-MS-CLIENT-PRINCIPAL-NAME`` and ``-ID`` beside it."""
    principal = {
        "auth_typ": "aad",
        "claims": [
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": object_id},
            {"typ": "preferred_username", "val": name},
            *({"typ": "roles", "val": role} for role in roles),
        ],
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    }
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode("utf-8")).decode("ascii"),
        "X-MS-CLIENT-PRINCIPAL-ID": object_id,
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
