"""A TCP relay in front of a storage service that resets a connection on cue: the request reaches
the service and is done there, and the client gets a connection reset (RST) instead of the answer.

That is the fault a client cannot tell from a lost request: its retry must be safe against the
first attempt having landed. Nothing here waits on a clock: every step is a blocking socket call.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator


class ResettingRelay:
    """Relays loopback connections to ``upstream_port``; :meth:`reset_next` arms a reset."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._armed: list[bytes] = []  # request methods whose next answer is replaced by a reset
        self._lock = threading.Lock()
        self.resets = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def reset_next(self, method: bytes) -> None:
        """The next request of ``method`` (b"DELETE", b"GET"...) is done upstream, and its client reset."""
        with self._lock:
            self._armed.append(method)

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:  # the service is down: the client's connection is reset
                _reset(client)
                continue
            cut = threading.Event()
            threading.Thread(target=self._requests, args=(client, upstream, cut), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client, cut), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, cut: threading.Event) -> None:
        for chunk in _chunks(client):
            with self._lock:
                method = next((m for m in self._armed if chunk.startswith(m + b" ")), None)
                if method is not None:
                    self._armed.remove(method)
                    cut.set()
            with contextlib.suppress(OSError):
                upstream.sendall(chunk)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _answers(self, upstream: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        for chunk in _chunks(upstream):
            if cut.is_set():  # the service has answered: the client gets a reset instead
                with self._lock:
                    self.resets += 1
                _reset(client)
                upstream.close()
                return
            with contextlib.suppress(OSError):
                client.sendall(chunk)
        with contextlib.suppress(OSError):
            client.close()


def _reset(connection: socket.socket) -> None:
    """Close with RST, not FIN: the peer sees "connection reset by peer"."""
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()


def _chunks(connection: socket.socket) -> Iterator[bytes]:
    while True:
        try:
            chunk = connection.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        yield chunk
