"""Uploads streamed from disk (multipart, and tus 1.0 in chunks with the tests'
client), and samplers of a process's resident memory."""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.procs import HOST
from tests.support.server import Reply
from tests.support.tus import TusUpload

CHUNK = 1 << 20


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS")


def hwm_kb(pid: int) -> int:
    """The kernel's own peak RSS for the process (VmHWM)."""
    return _status_kb(pid, "VmHWM")


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples VmRSS of `pid` every `interval` seconds in a thread; `peak_kb` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class PhasePeaks:
    """Peak VmRSS of `pid` per phase of a request sequence.

    Each phase starts by resetting the kernel's VmHWM (when allowed) and ends
    by reading it; a thread also samples VmRSS every `interval` seconds, so
    the peak is right even where the reset is not allowed.
    """

    def __init__(self, pid: int, first: str, interval: float = 0.02):
        self.pid = pid
        self.interval = interval
        self.hwm_ok = reset_hwm(pid)
        self.before_kb = rss_kb(pid)
        self.peaks_kb: dict[str, int] = {}
        self.samples = 0
        self._phase = first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _note(self, phase: str, kb: int) -> None:
        self.peaks_kb[phase] = max(self.peaks_kb.get(phase, 0), kb)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError), self._lock:
                self._note(self._phase, rss_kb(self.pid))
                self.samples += 1
            self._stop.wait(self.interval)

    def _close_phase(self) -> None:
        with contextlib.suppress(OSError, KeyError):
            self._note(self._phase, rss_kb(self.pid))
            if self.hwm_ok:
                self._note(self._phase, hwm_kb(self.pid))

    def mark(self, phase: str) -> None:
        """End the current phase and start `phase`."""
        with self._lock:
            self._close_phase()
            if self.hwm_ok:
                reset_hwm(self.pid)
            self._phase = phase

    @property
    def peak_kb(self) -> int:
        return max(self.peaks_kb.values(), default=0)

    def __enter__(self) -> PhasePeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._close_phase()


def upload(port: int, token: str, path: Path, timeout: float = 600) -> tuple[int, dict[str, object], float]:
    """POST `path` as multipart field `file`, read from disk 1 MiB at a time.

    Returns (status, JSON body, seconds).
    """
    status, data, seconds, _ = upload_timed(port, token, path, timeout=timeout)
    return status, data, seconds


def upload_timed(
    port: int,
    token: str,
    path: Path,
    *,
    timeout: float = 600,
    on_sent: Callable[[], None] | None = None,
) -> tuple[int, dict[str, object], float, float]:
    """As `upload`, and also when the last byte of the body was handed to the
    kernel: returns (status, JSON body, seconds, seconds until sent).

    `on_sent` is called at that moment, before the response is awaited.
    """
    boundary = "aurio-bench-" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as f:
            while block := f.read(CHUNK):
                yield block
        yield tail

    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(
            "POST",
            f"/api/v1/upload/{token}",
            body=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        sent = time.monotonic() - started
        if on_sent is not None:
            on_sent()
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    seconds = time.monotonic() - started
    return response.status, _json(raw), seconds, sent


def _json(raw: bytes) -> dict[str, object]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {"raw": raw[:500].decode(errors="replace")}
    return data if isinstance(data, dict) else {"json": data}


class TimedTusUpload(TusUpload):
    """The tests' tus client (tests/support/tus.py) as the benchmark sends a file:
    from disk, over one persistent connection, without checksums, timing each
    PATCH; a request that fails is resumed from the server's offset, three
    times at most."""

    def __init__(
        self, port: int, token: str, path: Path, *, chunk: int = 5 * CHUNK, timeout: float = 600
    ) -> None:
        super().__init__(port, token, path, chunk=chunk, checksum=False, keep_alive=True, timeout=timeout)
        self.patch_seconds: list[float] = []

    def patch(self, offset: int) -> Reply:
        started = time.monotonic()
        reply = super().patch(offset)
        self.patch_seconds.append(time.monotonic() - started)
        return reply

    def send(self) -> None:
        """PATCH the whole file, `chunk` bytes per request, right after the creation."""
        self.resume(offset=0, attempts=4, pause=0.2)
