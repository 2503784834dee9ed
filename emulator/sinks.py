"""Endpoints that record what the product sends out: Event Grid topics and webhooks (Teams).

* ``POST /eventgrid/{topic}/api/events``: a custom topic's publishing endpoint. Accepts an Event
  Grid schema batch (``application/json``, an array of events with ``id``, ``subject``,
  ``eventType``, ``eventTime``, ``data``, ``dataVersion``) or CloudEvents 1.0
  (``application/cloudevents-batch+json``, an array, or ``application/cloudevents+json``, one
  event, each with ``id``, ``source``, ``type``, ``specversion``). Like Event Grid, a batch is
  accepted or refused whole; 200 with an empty body on success, 400 naming the problem otherwise.
* ``POST /_twin/sinks/{name}``: an incoming webhook. Any body; answers 200 ``1`` as a Teams
  incoming webhook does.
"""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

from .messages import Request, Response, json_response, text_response
from .recorder import SECRET_HEADERS

_EVENT_GRID_FIELDS = ("id", "subject", "eventType", "eventTime", "data", "dataVersion")
_CLOUD_EVENT_FIELDS = ("id", "source", "type", "specversion")


class SinkStore:
    def __init__(self) -> None:
        self._webhooks: dict[str, list[dict[str, Any]]] = {}
        self._topics: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def webhook(self, name: str, request: Request) -> Response:
        try:
            parsed = json.loads(request.body) if request.body else None
        except ValueError:
            parsed = None
        entry = {
            "time": _now(),
            "headers": _safe_headers(request),
            "body": request.body.decode("utf-8", errors="replace"),
            "json": parsed,
        }
        with self._lock:
            self._webhooks.setdefault(name.casefold(), []).append(entry)
        return text_response(200, "1")

    def publish(self, topic: str, request: Request) -> Response:
        content_type = (request.header("content-type") or "application/json").split(";")[0].strip().casefold()
        try:
            document = json.loads(request.body)
        except ValueError:
            return _refuse("The request body is not valid JSON.")
        single_cloud_event = content_type == "application/cloudevents+json"
        events = [document] if single_cloud_event else document
        if not isinstance(events, list) or not events:
            return _refuse("The request body must be a non-empty JSON array of events.")
        schema = "cloudevents" if single_cloud_event or content_type == "application/cloudevents-batch+json" else None
        schema = schema or (
            "cloudevents" if isinstance(events[0], dict) and "specversion" in events[0] else "eventgrid"
        )
        required = _CLOUD_EVENT_FIELDS if schema == "cloudevents" else _EVENT_GRID_FIELDS
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                return _refuse(f"Event at index {index} is not a JSON object.")
            missing = [name for name in required if name not in event]
            if missing:
                return _refuse(f"Event at index {index} ({schema} schema) is missing required property '{missing[0]}'.")
        received = _now()
        with self._lock:
            bucket = self._topics.setdefault(topic.casefold(), [])
            bucket.extend({"schema": schema, "received": received, "event": event} for event in events)
        return Response(200)

    def webhook_entries(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._webhooks.get(name.casefold(), []))

    def topic_entries(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._topics.get(topic.casefold(), []))

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._webhooks.clear()
                self._topics.clear()
            else:
                self._webhooks.pop(name.casefold(), None)
                self._topics.pop(name.casefold(), None)


def _refuse(message: str) -> Response:
    return json_response(400, {"error": {"code": "BadRequest", "message": message}})


def _safe_headers(request: Request) -> dict[str, str]:
    return {name: value for name, value in request.headers.items() if name not in SECRET_HEADERS}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()
