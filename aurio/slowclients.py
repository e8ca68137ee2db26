"""Bounds on slow clients, for gunicorn's gthread workers (gunicorn.conf.py).

A gthread worker has no per-request timeout: a client that stops sending its
upload, or stops reading its download, would hold a thread for ever, and one
that sends a byte every few seconds would too. Two bounds free the thread:

- every socket wait of a request is limited to ``idle`` seconds, so a stalled
  client is dropped (``socket.settimeout``; the upload view answers 408);
- a request with a body must arrive at ``min_rate`` bytes a second on average
  after a grace period of ``idle`` seconds. A watchdog thread shuts the read
  side of a socket that falls behind: the view sees the body end early and
  keeps only what it can verify, and the client resumes from there. Only the
  upload endpoints take large bodies; any other body (a form) must be in
  within twice ``idle``, whatever length it announces.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any


def body_length(headers: list[tuple[str, str]]) -> int | None:
    """The request body's length: 0 for none, None when chunked (unknown)."""
    length = 0
    for name, value in headers:
        name = name.upper()
        if name == "TRANSFER-ENCODING" and "chunked" in value.lower():
            return None
        if name == "CONTENT-LENGTH" and value.strip().isdigit():
            length = int(value.strip())
    return length


class Watchdog:
    """Shuts the read side of sockets whose body is overdue."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._deadlines: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.cut = 0  # sockets cut so far, for tests and logs

    def watch(self, sock: socket.socket, deadline: float) -> None:
        with self._lock:
            self._deadlines[sock] = deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aurio-slow-clients", daemon=True)
                self._thread.start()

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(sock, None)

    def check(self, now: float) -> None:
        with self._lock:
            overdue = [sock for sock, deadline in self._deadlines.items() if deadline <= now]
            for sock in overdue:
                del self._deadlines[sock]
        for sock in overdue:
            with contextlib.suppress(OSError):
                # A blocked recv() returns at once. The plain socket's shutdown, even
                # under TLS: SSLSocket.shutdown would drop the TLS layer for the answer.
                socket.socket.shutdown(sock, socket.SHUT_RD)
            self.cut += 1

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.check(time.monotonic())


class SlowClientLimits:
    """gunicorn's pre_request and post_request hooks."""

    UPLOAD_PATHS = ("/api/v1/tus/", "/api/v1/upload/")

    def __init__(self, *, idle: float, min_rate: float, max_body: int) -> None:
        self.idle = idle
        self.min_rate = min_rate
        self.max_body = max_body
        self.watchdog = Watchdog()

    def deadline(self, length: int | None, now: float, path: str = UPLOAD_PATHS[0]) -> float | None:
        """When a body of `length` bytes sent to `path` must have arrived (None: no body, no deadline)."""
        if length == 0:
            return None
        if not path.startswith(self.UPLOAD_PATHS):
            return now + 2 * self.idle
        return now + self.idle + (self.max_body if length is None else length) / self.min_rate

    def pre_request(self, worker: Any, req: Any) -> None:
        sock = getattr(getattr(req, "unreader", None), "sock", None)
        if not isinstance(sock, socket.socket):
            return  # HTTP/2 streams share a connection: left to gunicorn
        sock.settimeout(self.idle)
        deadline = self.deadline(
            body_length(getattr(req, "headers", [])), time.monotonic(), str(getattr(req, "path", "") or "")
        )
        if deadline is not None:
            self.watchdog.watch(sock, deadline)

    def post_request(self, worker: Any, req: Any, environ: Any, resp: Any) -> None:
        sock = getattr(getattr(req, "unreader", None), "sock", None)
        if isinstance(sock, socket.socket):
            self.watchdog.forget(sock)
