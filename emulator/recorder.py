"""Every request the twin received, in arrival order, with its body byte for byte.

Tests assert the exact PATCH bytes the product sent, so the body is kept as received: ``body``
holds the text when it is UTF-8 (``bodyBase64`` otherwise) and ``json`` the parsed value when it
parses. Secrets (``Authorization``, ``X-IDENTITY-HEADER``, Event Grid keys) are left out; the
caller's token claims are kept as ``caller`` so a test can see who called.

Admin routes (``/_twin/...`` except the sinks) are not recorded: reading the log would otherwise
change it.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .messages import Request

SECRET_HEADERS = frozenset({"authorization", "x-identity-header", "aeg-sas-key", "aeg-sas-token", "cookie"})


@dataclass
class RecordedRequest:
    seq: int
    time: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    caller: dict[str, Any] | None  # the bearer JWT's claims, when the token is a JWT
    status: int | None = None  # filled in once answered
    json: Any = field(default=None)

    @property
    def text(self) -> str | None:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def to_json(self) -> dict[str, Any]:
        text = self.text
        document: dict[str, Any] = {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": text,
            "json": self.json,
            "caller": self.caller,
            "status": self.status,
        }
        if text is None:
            document["bodyBase64"] = base64.b64encode(self.body).decode("ascii")
        return document


class RequestLog:
    def __init__(self, now: Callable[[], datetime.datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))  # the twin's clock
        self._entries: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def record(self, request: Request, caller: dict[str, Any] | None) -> RecordedRequest:
        try:
            parsed = json.loads(request.body) if request.body else None
        except ValueError:
            parsed = None
        entry = RecordedRequest(
            seq=0,
            time=self._now().isoformat(),
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={name: value for name, value in request.headers.items() if name not in SECRET_HEADERS},
            body=request.body,
            caller=caller,
            json=parsed,
        )
        with self._lock:
            entry.seq = next(self._seq)
            self._entries.append(entry)
        return entry

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
