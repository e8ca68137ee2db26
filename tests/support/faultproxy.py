"""A TCP proxy on loopback that breaks a client's connections on cue.

The browser opens the page through the proxy (the page's URLs are relative,
so every request after it goes through the proxy too), and the test decides
when the network misbehaves:

- ``cut_after(n, refuse_for=s)``: once the client has sent ``n`` more bytes,
  reset every open connection, once (a dropped Wi-Fi, mid-request), and then
  refuse connections for ``s`` seconds;
- ``cut_response_after(n, refuse_for=s)``: the same, counting the bytes the
  server sends back (a download dropped mid-body);
- ``reset=False`` on either: close the connections politely (FIN) instead,
  so the other side sees a clean end of stream where the bytes stop;
- ``refuse_for(seconds)``: reset open connections and refuse new ones for a
  while (the network is gone, then back); ``allow()`` ends that early;
- ``throttle(bytes_per_second)``, ``throttle_responses(bytes_per_second)``:
  slow the client's uploads, or the server's answers, down, so a test can act
  while one is under way (``None`` lifts it).

A cut passes on the bytes up to its mark and none after it. ``sent`` and
``received`` count the bytes each way. ``requests`` lists the requests the
client sent through the proxy, in order (method, path, any Upload-Offset
header and whether it carried an Upload-Checksum), so a test can see where an
upload resumed and how large each PATCH was. The proxy knows nothing of
HTTP beyond that note, so it also stands between a server and its database.
Threads, not asyncio, so it runs beside pytest-django's threaded live server
without an event loop of its own.
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
UPLOAD_CHECKSUM = re.compile(rb"\r\nupload-checksum:", re.IGNORECASE)


class Request:
    def __init__(self, method: str, path: str, offset: int | None, checksum: bool = False) -> None:
        self.method, self.path, self.offset, self.checksum = method, path, offset, checksum

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


def _close(sock: socket.socket) -> None:
    """Close with a FIN: the other side reads a clean end of stream."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Flow:
    """One direction's byte count and the faults set on it."""

    def __init__(self) -> None:
        self.count = 0
        self.cut_at: int | None = None
        self.reset = True
        self.refuse_after_cut = 0.0
        self.rate: float | None = None


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
        self._up = _Flow()  # client to server
        self._down = _Flow()  # server to client
        self._refuse_until = 0.0
        self.requests: list[Request] = []
        self.cuts = 0
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent(self) -> int:
        """Bytes from the client to the server, all connections."""
        return self._up.count

    @property
    def received(self) -> int:
        """Bytes from the server to the client, all connections."""
        return self._down.count

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self._close_all(reset=True)

    # --- faults -------------------------------------------------------------

    def cut_after(self, n: int, refuse_for: float = 0.0, *, reset: bool = True) -> None:
        """Cut every open connection once the client has sent `n` more bytes,
        then refuse new ones for `refuse_for` seconds."""
        self._arm(self._up, n, refuse_for, reset)

    def cut_response_after(self, n: int, refuse_for: float = 0.0, *, reset: bool = True) -> None:
        """Cut every open connection once the server has sent `n` more bytes
        back, then refuse new ones for `refuse_for` seconds."""
        self._arm(self._down, n, refuse_for, reset)

    def _arm(self, flow: _Flow, n: int, refuse_for: float, reset: bool) -> None:
        with self._lock:
            flow.cut_at = flow.count + n
            flow.refuse_after_cut = refuse_for
            flow.reset = reset

    def refuse_for(self, seconds: float) -> None:
        """Reset open connections now and refuse new ones for `seconds`."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
        self._close_all(reset=True)

    def allow(self) -> None:
        """Accept connections again (ends `refuse_for` early)."""
        with self._lock:
            self._refuse_until = 0.0

    def throttle(self, bytes_per_second: float | None) -> None:
        self._up.rate = bytes_per_second

    def throttle_responses(self, bytes_per_second: float | None) -> None:
        self._down.rate = bytes_per_second

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    # --- plumbing -----------------------------------------------------------

    def _close_all(self, *, reset: bool) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            if reset:
                _reset(sock)
            else:
                _close(sock)

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
            for source, sink, flow in ((client, upstream, self._up), (upstream, client, self._down)):
                threading.Thread(
                    target=self._pump, args=(source, sink, flow), name="faultproxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, flow: _Flow) -> None:
        try:
            while True:
                rate = flow.rate
                data = source.recv(THROTTLED_READ_SIZE if rate else READ_SIZE)
                if not data:
                    break
                passed, cut = self._count(flow, data)
                if flow is self._up and not cut and data.startswith(METHODS):
                    self._note_request(data)
                if rate:
                    time.sleep(len(passed) / rate)
                if passed:
                    sink.sendall(passed)
                if cut:
                    self._cut(flow)
                    return  # the bytes past the mark never arrive
        except OSError:
            pass
        # One side finished or failed: pass it on by closing both.
        self._forget(source, sink)

    def _count(self, flow: _Flow, data: bytes) -> tuple[bytes, bool]:
        """Count bytes going one way: what of `data` to pass on, and whether it reached the cut mark."""
        with self._lock:
            if flow.cut_at is not None and flow.count + len(data) >= flow.cut_at:
                data = data[: flow.cut_at - flow.count]
                flow.cut_at = None
                self.cuts += 1
                self._refuse_until = time.monotonic() + flow.refuse_after_cut
                cut = True
            else:
                cut = False
            flow.count += len(data)
        return data, cut

    def _cut(self, flow: _Flow) -> None:
        self._close_all(reset=flow.reset)

    def _note_request(self, data: bytes) -> None:
        """Note a request whose head starts this read (a head split across reads is not missed
        by the tests: they look at PATCH and HEAD, whose heads are small)."""
        line = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        head = data.split(b"\r\n\r\n", 1)[0]
        offset = UPLOAD_OFFSET.search(head)
        if len(line) >= 2:
            offset_value = int(offset.group(1)) if offset else None
            checksum = UPLOAD_CHECKSUM.search(head) is not None
            self.requests.append(Request(line[0], line[1], offset_value, checksum))

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._connections.discard(sock)
        for sock in socks:
            _close(sock)


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
