"""HTTPS transport: stdlib ``ThreadingHTTPServer`` carrying bytes to and from :class:`TwinApp`.

Details that matter:

* TLS is negotiated in the per-connection thread (``finish_request``), not in the accepting
  thread, so a client that stalls its handshake cannot stop everyone else.
* HTTP/1.1 keep-alive with exact ``Content-Length``, and ``disable_nagle_algorithm``: without it
  every response waits ~45 ms for delayed ACKs.
* Request bodies are read byte for byte (``Content-Length`` or chunked) and never re-encoded.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import TwinApp
from .messages import ArmFailure, Request, Response

LOG = logging.getLogger("emulator")
HANDSHAKE_TIMEOUT_SECONDS = 10.0


class TwinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: TwinApp, context: ssl.SSLContext) -> None:
        self.app = app
        self.context = context
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        """End every open keep-alive connection, so a stopped twin serves nobody."""
        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def finish_request(self, request: Any, client_address: Any) -> None:
        raw: socket.socket = request
        raw.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        try:
            secure = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as error:
            LOG.debug("TLS handshake with %s failed: %s", client_address, error)
            return
        with self._connections_lock:
            self._connections.add(secure)
        try:
            _Handler(secure, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(secure)
            secure.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping keep-alive connections is normal; anything else is logged, never fatal.
        LOG.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections end, so their threads do
    server: TwinServer

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        query: dict[str, str] = {}
        for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(name, value)
        request = Request(
            method=self.command,
            path=urllib.parse.unquote(split.path) or "/",
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client_ip=str(self.client_address[0]),
            target=self.path,
        )
        try:
            response = self.server.app.handle(request)
        except Exception as error:  # the twin answers 500 rather than dropping the connection
            LOG.exception("twin failed on %s %s", self.command, self.path)
            response = ArmFailure(500, "InternalServerError", f"The twin failed: {error}").to_response()
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").casefold():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline().split(b";", 1)[0].strip()
            size = int(size_line or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s " + format, self.client_address[0], *args)
