"""Delivering events to subscribers: HTTP webhooks and Python callbacks.

Delivery runs on one background thread, like Event Grid delivering after the write has been
answered: a slow or failing subscriber never delays or breaks the write that caused the event,
and a subscriber may call back into the twin (read the resource it was told about) without
deadlocking. Failures are recorded, never raised. Tests wait with :meth:`Dispatcher.wait_idle`.

HTTP subscribers get what an Event Grid webhook subscription gets: POST, a JSON array of one event,
and the ``aeg-*`` headers.
"""

from __future__ import annotations

import datetime
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Callback = Callable[[dict[str, Any]], object]
Subscriber = str | Callback

DELIVERY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Delivery:
    event_id: str
    subscriber: str  # the URL, or the callback's qualified name
    ok: bool
    status: int | None  # HTTP status for webhooks
    error: str | None
    time: str

    def to_json(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "subscriber": self.subscriber,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "time": self.time,
        }


def describe(subscriber: Subscriber) -> str:
    if isinstance(subscriber, str):
        return subscriber
    return getattr(subscriber, "__qualname__", None) or repr(subscriber)


class Dispatcher:
    def __init__(self, ca_path: str | None = None) -> None:
        self._subscribers: list[Subscriber] = []
        self._queue: deque[dict[str, Any] | None] = deque()
        self._deliveries: list[Delivery] = []
        self._pending = 0
        self._condition = threading.Condition()
        self._ssl = ssl.create_default_context()
        if ca_path:
            self._ssl.load_verify_locations(ca_path)  # the twin's own sinks as subscribers
        self._thread = threading.Thread(target=self._run, name="twin-event-delivery", daemon=True)
        self._thread.start()

    def subscribe(self, subscriber: Subscriber) -> None:
        if isinstance(subscriber, str) and not subscriber.startswith(("http://", "https://")):
            raise ValueError(f"a subscriber URL must be http(s): {subscriber!r}")
        with self._condition:
            self._subscribers.append(subscriber)

    def subscribers(self) -> list[str]:
        with self._condition:
            return [describe(subscriber) for subscriber in self._subscribers]

    def publish(self, event: dict[str, Any]) -> None:
        with self._condition:
            self._pending += 1
            self._queue.append(event)
            self._condition.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every published event has been offered to every subscriber."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def deliveries(self) -> list[Delivery]:
        with self._condition:
            return list(self._deliveries)

    def close(self) -> None:
        with self._condition:
            self._queue.append(None)
            self._condition.notify_all()
        self._thread.join(timeout=DELIVERY_TIMEOUT_SECONDS)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue:
                    self._condition.wait()
                event = self._queue.popleft()
                subscribers = list(self._subscribers)
            if event is None:
                return
            results = [self._deliver(subscriber, event) for subscriber in subscribers]
            with self._condition:
                self._deliveries.extend(results)
                self._pending -= 1
                self._condition.notify_all()

    def _deliver(self, subscriber: Subscriber, event: dict[str, Any]) -> Delivery:
        status: int | None = None
        error: str | None = None
        try:
            if isinstance(subscriber, str):
                status = self._post(subscriber, event)
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            else:
                subscriber(event)
        except Exception as failure:  # a subscriber's failure is recorded, never the twin's problem
            error = f"{type(failure).__name__}: {failure}"
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        return Delivery(str(event.get("id")), describe(subscriber), error is None, status, error, stamp)

    def _post(self, url: str, event: dict[str, Any]) -> int:
        request = urllib.request.Request(
            url,
            data=json.dumps([event]).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "aeg-event-type": "Notification",
                "aeg-subscription-name": "FOUNDRY-GUARD-TWIN",
                "aeg-delivery-count": "0",
                "aeg-data-version": str(event.get("dataVersion", "")),
                "aeg-metadata-version": str(event.get("metadataVersion", "1")),
            },
        )
        context = self._ssl if url.startswith("https://") else None
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS, context=context) as answer:
                answer.read()
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)
