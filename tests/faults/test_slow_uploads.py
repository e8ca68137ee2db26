"""Slow upload bodies, for real: aurio under gunicorn (gunicorn.conf.py), a
client on a valid link that announces a large body and sends it far below
WEB_MIN_UPLOAD_RATE is cut within the grace period and a few seconds, not
when the announced length would have taken at that rate (hours); a client at a
good rate is never cut.

The bounds are lowered for the test (WEB_IDLE_TIMEOUT=2 s of grace,
WEB_MIN_UPLOAD_RATE=10 000 B/s); the rule is the one production runs.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from tests.support.server import HOST, AurioServer
from tests.support.tus import TUS

GRACE = 2.0
MIN_RATE = 10_000
BOUNDS = {"WEB_IDLE_TIMEOUT": str(int(GRACE)), "WEB_MIN_UPLOAD_RATE": str(MIN_RATE), "WEB_THREADS": "2"}
BOUNDARY = "aurio-slow-body"
MIB = 1 << 20


def multipart_head(token: str, file_bytes: int) -> tuple[bytes, bytes]:
    """The request head and the multipart preamble of a POST /api/v1/upload/ whose
    file part is `file_bytes` long; the closing boundary is the caller's."""
    preamble = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="answer.webm"\r\n'
        "Content-Type: video/webm\r\n\r\n"
    ).encode()
    length = len(preamble) + file_bytes + len(closing())
    head = (
        f"POST /api/v1/upload/{token} HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    return head, preamble


def closing() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


def tus_patch_head(server: AurioServer, token: str, length: int) -> bytes:
    reply = server.fetch("POST", f"/api/v1/tus/{token}/", headers={**TUS, "Upload-Length": str(length)})
    assert reply.status == 201, reply
    location = reply.headers["Location"]
    headers = {
        **TUS,
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(length),
    }
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"PATCH {location} HTTP/1.1\r\nHost: localhost\r\n{lines}\r\n".encode()


def drip(sock: socket.socket, *, rate: float, seconds: float) -> tuple[float, bool, int]:
    """Send at `rate` bytes a second (a tenth of a second at a time) for up to
    `seconds`: how long it went on, whether the server cut it off (an answer or
    a closed connection) before that, and how many bytes were sent."""
    piece = b"x" * max(1, int(rate / 10))
    sock.setblocking(False)
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        try:
            sock.recv(1 << 16, socket.MSG_PEEK)
            return time.monotonic() - started, True, sent  # an answer, or EOF: the server is done
        except BlockingIOError:
            pass
        except OSError:
            return time.monotonic() - started, True, sent
        try:
            sent += sock.send(piece)
        except BlockingIOError:
            pass
        except OSError:
            return time.monotonic() - started, True, sent
        time.sleep(0.1)
    return time.monotonic() - started, False, sent


def answer(sock: socket.socket, timeout: float = 30) -> bytes:
    sock.setblocking(True)
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                break
            data += more
    except OSError:
        pass
    return data


@pytest.mark.parametrize("endpoint", ["multipart", "tus"])
def test_a_slow_upload_of_a_large_body_is_cut_soon_after_the_grace_period(
    start_aurio: Callable[..., AurioServer], endpoint: str
) -> None:
    server = start_aurio(env=BOUNDS)
    token = server.new_invite()["token"]
    if endpoint == "multipart":
        head, preamble = multipart_head(token, 100 * MIB)  # at 1 000 B/s: 29 hours
        head += preamble
    else:
        head = tus_patch_head(server, token, 8 * MIB)  # one PATCH of the largest size: 2.3 hours
    with socket.create_connection((HOST, server.port)) as sock:
        sock.sendall(head)
        took, cut, _ = drip(sock, rate=MIN_RATE / 10, seconds=GRACE + 20)
    assert cut, f"still receiving after {took:.0f} s at a tenth of the minimum rate"
    assert took < GRACE + 8
    assert server.pids(), "gunicorn is still up"
    assert server.fetch("GET", "/healthz").status == 200


def test_an_upload_at_a_good_rate_is_not_cut(start_aurio: Callable[..., AurioServer]) -> None:
    server = start_aurio(env=BOUNDS)
    token = server.new_invite()["token"]
    file_bytes = 2 * MIB
    head, preamble = multipart_head(token, file_bytes)
    with socket.create_connection((HOST, server.port)) as sock:
        sock.sendall(head + preamble)
        seconds = GRACE + 6
        took, cut, sent = drip(sock, rate=MIN_RATE * 3, seconds=seconds)  # three times the minimum
        assert not cut, f"cut off after {took:.1f} s at three times the minimum rate"
        sock.setblocking(True)
        sock.sendall(b"x" * max(0, file_bytes - sent) + closing())  # the rest at full speed
        reply = answer(sock)
    # The whole body reached the view, which judged the file itself: not a video.
    status = reply.split(b" ", 2)[1] if reply.startswith(b"HTTP/1.1 ") else reply[:80]
    assert status == b"415", reply[:500]
