"""Slow and stalled clients can't hold gunicorn's threads (aurio/slowclients.py).

The end-to-end tests run the real gunicorn with gunicorn.conf.py and one
thread: while a client stalls or drips its body, a second client must still
be answered once the bound has passed.
"""

from __future__ import annotations

import http.client
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.http.unreader import SocketUnreader

from aurio.slowclients import (
    BodyDeadline,
    BodyProgress,
    BodyRate,
    SlowClientLimits,
    Watchdog,
    body_length,
    count_reads,
)
from tests.support.server import HOST, running_aurio


def test_body_length_reads_content_length_and_chunked() -> None:
    assert body_length([]) == 0
    assert body_length([("Content-Length", "1234")]) == 1234
    assert body_length([("CONTENT-LENGTH", " 5 ")]) == 5
    assert body_length([("Transfer-Encoding", "gzip, chunked")]) is None
    assert body_length([("Content-Length", "nonsense")]) == 0


def request(path: str, headers: list[tuple[str, str]], unreader: object = None) -> SimpleNamespace:
    """What the hooks see of a gunicorn request."""
    reader = unreader or SimpleNamespace(buf=io.BytesIO(), chunk=lambda size_hint=None: b"")
    return SimpleNamespace(path=path, headers=headers, unreader=reader)


def test_an_upload_must_keep_arriving_at_the_minimum_rate_after_the_grace_period() -> None:
    limits = SlowClientLimits(idle=30, min_rate=2048)
    rule = limits.rule(request("/api/v1/upload/abc", [("Content-Length", str(100 << 20))]), now=100.0)
    assert isinstance(rule, BodyRate)
    assert not rule.overdue(129.0)  # the grace period: nothing need have come yet
    rule.progress.received = 2048 * 10
    assert not rule.overdue(140.0)  # ten seconds after the grace period, ten seconds' worth
    assert rule.overdue(141.0)
    rule.progress.received = 0
    assert rule.overdue(131.0)  # nothing at all: cut a second after the grace period, not in 14 hours


def test_a_tus_patch_and_a_chunked_upload_are_held_to_the_rate_too() -> None:
    limits = SlowClientLimits(idle=30, min_rate=2048)
    patch = limits.rule(request("/api/v1/tus/tok/up", [("Content-Length", "5000000")]), now=0.0)
    chunked = limits.rule(request("/api/v1/upload/abc", [("Transfer-Encoding", "chunked")]), now=0.0)
    assert isinstance(patch, BodyRate) and isinstance(chunked, BodyRate)
    assert chunked.length is None and chunked.overdue(32.0)


def test_a_whole_upload_is_never_cut_while_the_view_works_on_it() -> None:
    rule = BodyRate(progress=BodyProgress(), started=0.0, grace=30, min_rate=2048, length=1000)
    rule.progress.received = 1000
    assert not rule.overdue(3600.0)


def test_a_body_for_anything_but_an_upload_must_be_in_soon_whatever_its_length() -> None:
    limits = SlowClientLimits(idle=30, min_rate=2048)
    form = limits.rule(request("/admin/login/", [("Content-Length", "2500000")]), now=100.0)
    api = limits.rule(request("/api/v1/invites", [("Transfer-Encoding", "chunked")]), now=100.0)
    assert isinstance(form, BodyDeadline) and form.deadline == 160.0
    assert isinstance(api, BodyDeadline) and api.deadline == 160.0
    assert limits.rule(request("/api/v1/upload/abc", []), now=100.0) is None  # no body, nothing to watch


def test_the_socket_reader_counts_what_arrives() -> None:
    server, client = socket.socketpair()
    with server, client:
        unreader = SocketUnreader(server)
        client.sendall(b"x" * 1000)
        progress = count_reads(unreader)
        assert progress.received == 0
        assert len(unreader.read(1000)) == 1000
        assert progress.received == 1000
        client.sendall(b"y" * 300)
        unreader.unread(unreader.read(300)[100:])  # 200 bytes read ahead with the next request's headers
        assert count_reads(unreader) is progress  # one counter per connection, the reader wrapped once
        assert progress.received == 200  # the next request starts from what was read ahead
        client.sendall(b"z" * 50)
        unreader.read(250)
        assert progress.received == 250


def test_the_watchdog_ends_overdue_reads_and_leaves_the_others() -> None:
    watchdog = Watchdog()
    overdue_server, overdue_client = socket.socketpair()
    timely_server, timely_client = socket.socketpair()
    with overdue_server, overdue_client, timely_server, timely_client:
        watchdog._watched = {
            overdue_server: BodyDeadline(10.0),
            timely_server: BodyDeadline(20.0),
        }  # no thread
        watchdog.check(now=15.0)
        assert overdue_server.recv(10) == b""  # a blocked read would return at once: end of body
        timely_server.setblocking(False)
        with pytest.raises(BlockingIOError):
            timely_server.recv(10)  # still open, still waiting for its client
        assert watchdog.cut == 1
        watchdog.forget(timely_server)
        watchdog.check(now=25.0)
        assert watchdog.cut == 1


# --- the real gunicorn ------------------------------------------------------------------------


@pytest.fixture
def one_thread_gunicorn(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """aurio under gunicorn.conf.py with a single thread and short bounds.

    The requests below never need the database (a 404 page, a form body read
    before any lookup), so the server has none of its own."""
    bounds = {"WEB_IDLE_TIMEOUT": "1", "WEB_MIN_UPLOAD_RATE": "1000", "ACCESS_LOG": "false"}
    with running_aurio(tmp_path, None, threads=1, env=bounds) as server:
        yield HOST, server.port


def start_upload(address: tuple[str, int], length: int) -> socket.socket:
    """A form post whose body is read before anything else is looked at (the
    CSRF check reads it to find the token): a slow body holds the thread."""
    sock = socket.create_connection(address)
    sock.sendall(
        f"POST /admin/login/ HTTP/1.1\r\nHost: localhost\r\nCookie: csrftoken={'a' * 32}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
        "username=".encode()
    )
    return sock


def answered_within(address: tuple[str, int], seconds: float) -> int:
    """The status of a plain page fetched on a second connection."""
    connection = http.client.HTTPConnection(*address, timeout=seconds)
    connection.request("GET", "/no-such-page")
    status = connection.getresponse().status
    connection.close()
    return status


def test_a_stalled_upload_gives_its_thread_back(one_thread_gunicorn: tuple[str, int]) -> None:
    with start_upload(one_thread_gunicorn, 1_000_000):
        # The only thread is reading that body; WEB_IDLE_TIMEOUT=1 frees it.
        assert answered_within(one_thread_gunicorn, seconds=15) == 404


def test_an_upload_that_drips_gives_its_thread_back(one_thread_gunicorn: tuple[str, int]) -> None:
    upload = start_upload(one_thread_gunicorn, 2_000)  # due within 1 s + 2000 B / 1000 B/s
    page = socket.create_connection(one_thread_gunicorn)
    with upload, page:
        page.sendall(b"GET /no-such-page HTTP/1.1\r\nHost: localhost\r\n\r\n")
        page.settimeout(0.5)
        started, answer = time.monotonic(), b""
        while not answer and time.monotonic() - started < 30:
            try:
                upload.sendall(b"x")  # a byte every half second: never idle for 1 s
            except OSError:
                pass  # the server cut the upload off: that's the point
            try:
                answer = page.recv(100)
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 404")
