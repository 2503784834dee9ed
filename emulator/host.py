"""What the Azure Functions host does for the function app, for the demo, the tests and the benchmarks.

The host itself cannot be installed here (its package downloads a binary), so these hand the
app's functions the same objects the host would: an ``EventGridEvent`` built from the event the
twin emitted, and each queued message as a ``QueueMessage``, deleted once handled.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func


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


def drain(queue: Any, handle: Callable[[func.QueueMessage], None]) -> int:
    """Hand every message in ``queue`` (a QueueClient) to ``handle``, as the queue trigger; how many."""
    handled = 0
    while True:
        messages = list(queue.receive_messages(max_messages=32))
        if not messages:
            return handled
        for message in messages:
            handle(func.QueueMessage(id=message.id, body=message.content.encode()))
            queue.delete_message(message)
            handled += 1
