"""Requests and responses as the twin sees them, independent of the HTTP server that carries them.

Keeping the routing code free of ``BaseHTTPRequestHandler`` means every route is a plain function
from :class:`Request` to :class:`Response`, and the server module only translates bytes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    query: Mapping[str, str]  # first value of each parameter; names as sent
    headers: Mapping[str, str]  # names lower-cased
    body: bytes  # exactly as received
    client_ip: str
    target: str  # the request line's target (path and query, still encoded), for event URLs

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        """ARM treats query parameter names case-insensitively (``api-version`` / ``API-Version``)."""
        wanted = name.casefold()
        for key, value in self.query.items():
            if key.casefold() == wanted:
                return value
        return None

    def bearer_token(self) -> str | None:
        value = self.header("authorization")
        if value is None:
            return None
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.casefold() != "bearer" or not token:
            return None
        return token

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    merged = {"Content-Type": JSON_TYPE}
    merged.update(headers or {})
    return Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), merged)


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode("utf-8"), {"Content-Type": content_type})


class ArmFailure(Exception):
    """An ARM error answer: status plus ARM's body shape ``{"error": {"code", "message"}}``.

    Raised anywhere below a route and turned into a response by the router, so a handler can
    stop at the first refusal the way ARM does.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        target: str | None = None,
        additional_info: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.target = target
        self.additional_info = additional_info

    def to_response(self) -> Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.additional_info is not None:
            error["additionalInfo"] = self.additional_info
        return json_response(self.status, {"error": error}, self.headers)


def new_id() -> str:
    return str(uuid.uuid4())
