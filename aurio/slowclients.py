"""Bounds on slow clients, for gunicorn's gthread workers (gunicorn.conf.py).

A gthread worker has no per-request timeout: a client that stops sending its
upload, or stops reading its download, would hold a thread for ever, and one
that sends a byte every few seconds would too. Two bounds free the thread:

- every socket wait of a request is limited to ``idle`` seconds, so a stalled
  client is dropped (``socket.settimeout``; the upload view answers 408);
- an upload's body must arrive at ``min_rate`` bytes a second on average
  after a grace period of ``idle`` seconds, checked every second against the
  bytes actually received (counted in gunicorn's socket reader), not once
  against a deadline worked out from the length the client announced. A
  watchdog thread shuts the read side of a socket that falls behind: the view
  sees the body end early and keeps only what it can verify, and the client
  resumes from there. Only the upload endpoints take large bodies; any other
  body (a form) must be in within twice ``idle``, whatever length it announces.

Neither bound applies before the request's headers are in: gunicorn reads
them on a blocking thread, so a deployment puts nginx in front
(deploy/nginx/aurio.conf), which reads headers and buffers ordinary bodies
without a thread per connection.
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


class BodyDeadline:
    """A body (not an upload) must be in by a fixed time, whatever length it announces."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def overdue(self, now: float) -> bool:
        return now >= self.deadline


class BodyProgress:
    """Bytes a connection has taken from its socket since `start()`, counted as they arrive."""

    def __init__(self) -> None:
        self.received = 0


def count_reads(unreader: Any) -> BodyProgress:
    """Count what gunicorn's socket reader of one connection takes from its socket.

    Its `chunk()` is the one place the request's bytes come in (headers and
    body alike). Wrapped once per connection; each request starts the count
    again from what was already read ahead with its headers.
    """
    progress: BodyProgress | None = getattr(unreader, "_aurio_progress", None)
    if progress is None:
        progress = BodyProgress()
        read = unreader.chunk

        def chunk(*args: Any, **kwargs: Any) -> bytes:
            data: bytes = read(*args, **kwargs)
            progress.received += len(data)  # type: ignore[union-attr]
            return data

        unreader.chunk = chunk
        unreader._aurio_progress = progress
    buffer = getattr(unreader, "buf", None)
    progress.received = len(buffer.getvalue()) if buffer is not None else 0
    return progress


class BodyRate:
    """An upload's body must keep coming: after `grace` seconds, `min_rate` bytes a
    second on average from then on. Checked as it arrives, so a client far below
    the rate is cut within seconds of the grace period, however long the body
    it announced (a deadline from its length alone was ~14 h for 100 MiB)."""

    def __init__(
        self, *, progress: BodyProgress, started: float, grace: float, min_rate: float, length: int | None
    ) -> None:
        self.progress = progress
        self.started = started
        self.grace = grace
        self.min_rate = min_rate
        self.length = length

    def overdue(self, now: float) -> bool:
        received = self.progress.received
        if self.length is not None and received >= self.length:
            return False  # all in: the view may take its time over it
        return received < self.min_rate * (now - self.started - self.grace)


class Watchdog:
    """Shuts the read side of sockets whose body is overdue (a `BodyDeadline` or `BodyRate`)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._watched: dict[socket.socket, BodyDeadline | BodyRate] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.cut = 0  # sockets cut so far, for tests and logs

    def watch(self, sock: socket.socket, rule: BodyDeadline | BodyRate) -> None:
        with self._lock:
            self._watched[sock] = rule
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aurio-slow-clients", daemon=True)
                self._thread.start()

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._watched.pop(sock, None)

    def check(self, now: float) -> None:
        with self._lock:
            overdue = [sock for sock, rule in self._watched.items() if rule.overdue(now)]
            for sock in overdue:
                del self._watched[sock]
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

    def __init__(self, *, idle: float, min_rate: float) -> None:
        self.idle = idle
        self.min_rate = min_rate
        self.watchdog = Watchdog()

    def rule(self, req: Any, now: float) -> BodyDeadline | BodyRate | None:
        """How the body of gunicorn request `req` must arrive (None: it has none)."""
        length = body_length(getattr(req, "headers", []))
        if length == 0:
            return None
        if not str(getattr(req, "path", "") or "").startswith(self.UPLOAD_PATHS):
            return BodyDeadline(now + 2 * self.idle)
        progress = count_reads(req.unreader)
        return BodyRate(
            progress=progress, started=now, grace=self.idle, min_rate=self.min_rate, length=length
        )

    def pre_request(self, worker: Any, req: Any) -> None:
        sock = getattr(getattr(req, "unreader", None), "sock", None)
        if not isinstance(sock, socket.socket):
            return  # HTTP/2 streams share a connection: left to gunicorn
        sock.settimeout(self.idle)
        rule = self.rule(req, time.monotonic())
        if rule is not None:
            self.watchdog.watch(sock, rule)

    def post_request(self, worker: Any, req: Any, environ: Any, resp: Any) -> None:
        sock = getattr(getattr(req, "unreader", None), "sock", None)
        if isinstance(sock, socket.socket):
            self.watchdog.forget(sock)
