"""Uploads streamed from disk (multipart, and tus 1.0 in chunks), and samplers
of a process's resident memory."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from bench.procs import HOST

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


class TusFailed(RuntimeError):
    pass


class _Connection(http.client.HTTPConnection):
    """Counts the TCP connections it opens."""

    opened = 0

    def connect(self) -> None:
        super().connect()
        self.opened += 1


class TusUpload:
    """One file sent the way aurio's record page sends it: tus 1.0 creation, then
    PATCHes of `chunk` bytes each, read from disk 1 MiB at a time, over one
    persistent connection; then aurio's finish call.

    A request that fails on the wire (not one the server refuses) is resumed as
    a tus client does: new connection, HEAD for the server's offset, go on.
    """

    TUS = "1.0.0"

    def __init__(
        self, port: int, token: str, path: Path, *, chunk: int = 5 * CHUNK, timeout: float = 600
    ) -> None:
        self.token = token
        self.path = path
        self.size = path.stat().st_size
        self.chunk = chunk
        self.conn = _Connection(HOST, port, timeout=timeout)
        self.location = ""
        self.upload_id = ""
        self.patches = 0
        self.resumes = 0
        self.patch_seconds: list[float] = []

    def close(self) -> None:
        self.conn.close()

    @property
    def connections(self) -> int:
        return self.conn.opened

    def _request(
        self, method: str, url: str, headers: dict[str, str], body: Iterator[bytes] | bytes = b""
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        self.conn.request(method, url, body=body, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, response.headers, raw

    def create(self) -> None:
        def b64(text: str) -> str:
            return base64.b64encode(text.encode()).decode()

        status, headers, raw = self._request(
            "POST",
            f"/api/v1/tus/{self.token}/",
            {
                "Tus-Resumable": self.TUS,
                "Upload-Length": str(self.size),
                "Upload-Metadata": f"filename {b64(self.path.name)},filetype {b64('video/mp4')}",
                "Content-Length": "0",
            },
        )
        location = headers.get("Location", "")
        if status != 201 or not location:
            raise TusFailed(f"tus creation answered {status} (Location {location!r}): {raw[:300]!r}")
        self.location = urllib.parse.urlsplit(location).path
        self.upload_id = self.location.rstrip("/").rsplit("/", 1)[-1]

    def _body(self, f: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
        f.seek(offset)
        left = length
        while left > 0:
            block = f.read(min(CHUNK, left))
            if not block:
                raise TusFailed(f"{self.path} ended early at byte {offset + length - left}")
            left -= len(block)
            yield block

    def _server_offset(self) -> int:
        status, headers, raw = self._request(
            "HEAD", self.location, {"Tus-Resumable": self.TUS, "Content-Length": "0"}
        )
        if status != 200:
            raise TusFailed(f"tus HEAD answered {status}: {raw[:300]!r}")
        return int(headers.get("Upload-Offset", "-1"))

    def send(self, max_resumes: int = 3) -> None:
        """PATCH the whole file, `chunk` bytes per request."""
        offset = 0
        with self.path.open("rb") as f:
            while offset < self.size:
                length = min(self.chunk, self.size - offset)
                headers = {
                    "Tus-Resumable": self.TUS,
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                    "Content-Length": str(length),
                }
                started = time.monotonic()
                try:
                    status, answer, raw = self._request(
                        "PATCH", self.location, headers, self._body(f, offset, length)
                    )
                except (OSError, http.client.HTTPException) as exc:
                    problem: object = exc
                    self.conn.close()
                else:
                    self.patches += 1
                    self.patch_seconds.append(time.monotonic() - started)
                    if status == 204:
                        moved = int(answer.get("Upload-Offset", "-1"))
                        if moved != offset + length:
                            raise TusFailed(f"PATCH at {offset}+{length} left the server at offset {moved}")
                        offset = moved
                        continue
                    if status != 409:
                        raise TusFailed(f"PATCH at {offset} answered {status}: {raw[:300]!r}")
                    # The server is elsewhere, e.g. still storing what arrived of
                    # a cut request when we asked: ask again, as tus-js-client does.
                    problem = raw[:300]
                self.resumes += 1
                if self.resumes > max_resumes:
                    raise TusFailed(f"PATCH at {offset} failed {self.resumes} times: {problem!r}")
                time.sleep(0.2 * self.resumes)
                offset = self._server_offset()

    def finish(self) -> tuple[int, dict[str, object]]:
        status, _, raw = self._request(
            "POST", f"/api/v1/uploads/{self.token}/{self.upload_id}/finish", {"Content-Length": "0"}
        )
        return status, _json(raw)
