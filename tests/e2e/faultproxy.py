"""A TCP proxy on loopback that breaks the browser's connection on cue.

The browser opens the page through the proxy (the page's URLs are relative,
so every request after it goes through the proxy too), and the test decides
when the network misbehaves:

- ``cut_after(n, refuse_for=s)``: once the browser has sent ``n`` more bytes,
  reset every open connection, once (a dropped Wi-Fi, mid-request), and then
  refuse connections for ``s`` seconds;
- ``refuse_for(seconds)``: reset open connections and refuse new ones for a
  while (the network is gone, then back);
- ``throttle(bytes_per_second)``: slow the browser's uploads down, so a test
  can act while one is under way (``None`` lifts it).

Only browser-to-server bytes are counted and throttled: uploads are what the
tests are about. ``requests`` lists the requests the browser sent through the
proxy, in order (method, path and any Upload-Offset header), so a test can see
where an upload resumed. Threads, not asyncio, so it runs beside pytest-django's
threaded live server without an event loop of its own.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator

READ_SIZE = 64 * 1024
THROTTLED_READ_SIZE = 4 * 1024
METHODS = (b"GET ", b"HEAD ", b"POST ", b"PATCH ", b"PUT ", b"DELETE ", b"OPTIONS ")
UPLOAD_OFFSET = re.compile(rb"\r\nupload-offset:\s*(\d+)", re.IGNORECASE)


class Request:
    def __init__(self, method: str, path: str, offset: int | None) -> None:
        self.method, self.path, self.offset = method, path, offset

    def __repr__(self) -> str:
        return f"{self.method} {self.path}" + ("" if self.offset is None else f" @{self.offset}")


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a polite FIN, as a dropped network would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the pump threads blocked in recv()
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._connections: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._cut_at: int | None = None
        self._refuse_after_cut = 0.0
        self._refuse_until = 0.0
        self._rate: float | None = None
        self.sent = 0  # bytes from the browser to the server, all connections
        self.requests: list[Request] = []
        self.cuts = 0
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self._reset_all()

    # --- faults -------------------------------------------------------------

    def cut_after(self, n: int, refuse_for: float = 0.0) -> None:
        """Reset every open connection once the browser has sent `n` more bytes,
        then refuse new ones for `refuse_for` seconds."""
        with self._lock:
            self._cut_at = self.sent + n
            self._refuse_after_cut = refuse_for

    def refuse_for(self, seconds: float) -> None:
        """Reset open connections now and refuse new ones for `seconds`."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
        self._reset_all()

    def throttle(self, bytes_per_second: float | None) -> None:
        self._rate = bytes_per_second

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    # --- plumbing -----------------------------------------------------------

    def _reset_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            _reset(sock)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                # A cut may have come while this connection was being made: it is cut too.
                refused = self.refusing
                if not refused:
                    self._connections.update((client, upstream))
            if refused:
                self.refused += 1
                _reset(client)
                _reset(upstream)
                continue
            for source, sink, upload in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, upload), name="faultproxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upload: bool) -> None:
        try:
            while True:
                rate = self._rate if upload else None
                data = source.recv(THROTTLED_READ_SIZE if rate else READ_SIZE)
                if not data:
                    break
                if upload and self._count(len(data)):
                    return  # the connections were cut: these bytes never arrive
                if upload and data.startswith(METHODS):
                    self._note_request(data)
                if rate:
                    time.sleep(len(data) / rate)
                sink.sendall(data)
        except OSError:
            pass
        # One side finished or failed: pass it on by closing both.
        self._forget(source, sink)

    def _count(self, n: int) -> bool:
        """Count bytes sent by the browser; True when this crossed the cut mark (and cut)."""
        with self._lock:
            self.sent += n
            cut = self._cut_at is not None and self.sent >= self._cut_at
            if cut:
                self._cut_at = None
                self.cuts += 1
                self._refuse_until = time.monotonic() + self._refuse_after_cut
        if cut:
            self._reset_all()
        return cut

    def _note_request(self, data: bytes) -> None:
        """Note a request whose head starts this read (a head split across reads is not missed
        by the tests: they look at PATCH and HEAD, whose heads are small)."""
        line = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        head = data.split(b"\r\n\r\n", 1)[0]
        offset = UPLOAD_OFFSET.search(head)
        if len(line) >= 2:
            self.requests.append(Request(line[0], line[1], int(offset.group(1)) if offset else None))

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._connections.discard(sock)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
