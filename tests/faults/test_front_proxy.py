"""The shipped nginx config (deploy/nginx/aurio.conf), for real: Debian's nginx
runs it in front of aurio under gunicorn, changed only in its two addresses
(and given pid and temporary paths of its own, as a non-root server would).

The attack: 150 connections drip header lines (a line a second, never ending
their headers) while 20 connections that send nothing are opened every 4 s.
Straight at gunicorn, that takes every thread: gunicorn reads headers on a
blocking thread before any of aurio's limits apply (the control test below
shows it). Through nginx, other clients are still served (with a generous
timeout; this is not a speed test), and uploads still stream through.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ci import in_ci
from tests.support.processes import Server, free_port
from tests.support.server import HOST, REPO, WIRE_ERRORS, AurioServer, fetch, wait_until
from tests.support.tus import TusUpload

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONFIG = REPO / "deploy" / "nginx" / "aurio.conf"

pytestmark = pytest.mark.skipif(
    not os.access(NGINX, os.X_OK) and not in_ci(),
    reason="nginx is not installed (scripts/install-test-deps)",
)

MAIN_CONF = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/aurio.conf;
}}
"""


def shipped_config(*, listen: int, upstream: int) -> str:
    """deploy/nginx/aurio.conf with its two addresses pointed at this test's ports."""
    text = CONFIG.read_text()
    for pattern, replacement in (
        (r"\blisten 8000;", f"listen {HOST}:{listen};"),
        (r"\bserver web:8000;", f"server {HOST}:{upstream};"),
    ):
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"{pattern!r} should occur once in {CONFIG}"
    return text


@dataclass
class Proxied:
    aurio: AurioServer
    port: int  # nginx's


@pytest.fixture
def start_nginx(tmp_path: Path) -> Iterator[Callable[[AurioServer], Proxied]]:
    servers: list[Server] = []

    def start(aurio: AurioServer) -> Proxied:
        prefix = tmp_path / f"nginx-{len(servers)}"
        prefix.mkdir()
        port = free_port()
        (prefix / "aurio.conf").write_text(shipped_config(listen=port, upstream=aurio.port))
        # As root, nginx's workers would drop to `nobody`, who can't use this test's temporary folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(user=user, prefix=prefix))
        argv = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
        server = Server("nginx", [*argv, "-g", "daemon off;"], os.environ, prefix / "nginx.log", cwd=prefix)
        servers.append(server)
        server.wait_http(f"http://{HOST}:{port}/healthz", timeout=30)
        return Proxied(aurio, port)

    yield start
    for server in servers:
        server.stop()


class HeaderDrip:
    """150 connections dripping header lines, and 20 silent ones opened every 4 s,
    at `port`, from a thread of its own until `stop()`."""

    def __init__(self, port: int, *, drips: int = 150, idle_batch: int = 20) -> None:
        self.port = port
        self.drips = drips
        self.idle_batch = idle_batch
        self.opened = 0
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HeaderDrip:
        self._thread.start()
        deadline = time.monotonic() + 30
        while self.opened < self.drips and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.opened >= self.drips, "the attack could not open its connections"
        time.sleep(2)  # every dripping connection has sent a line or two
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        for sock in self._sockets:
            sock.close()

    def _connect(self, first: bytes) -> socket.socket | None:
        try:
            sock = socket.create_connection((HOST, self.port), timeout=2)
            if first:
                sock.sendall(first)
        except OSError:
            return None
        self.opened += 1
        self._sockets.append(sock)
        return sock

    def _run(self) -> None:
        start = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
        dripping: list[socket.socket | None] = [self._connect(start) for _ in range(self.drips)]
        next_idle = 0.0
        line = 0
        while not self._stopping.wait(1.0):
            line += 1
            for i, sock in enumerate(dripping):
                try:
                    if sock is None:
                        raise OSError
                    sock.sendall(f"X-Drip-{line}: {'a' * 20}\r\n".encode())
                except OSError:
                    # Closed on us (nginx's client_header_timeout): the attacker opens another.
                    dripping[i] = self._connect(start)
            if time.monotonic() >= next_idle:
                next_idle = time.monotonic() + 4
                for _ in range(self.idle_batch):
                    self._connect(b"")


def served(port: int, timeout: float) -> int | None:
    """The status of a plain request on a new connection, None if it got no answer in time."""
    try:
        return fetch(port, "GET", "/healthz", timeout=timeout).status
    except WIRE_ERRORS:
        return None


def test_through_nginx_other_clients_are_served_during_a_header_drip(
    start_aurio: Callable[..., AurioServer], start_nginx: Callable[[AurioServer], Proxied]
) -> None:
    proxied = start_nginx(start_aurio(env={"WEB_THREADS": "4"}))
    with HeaderDrip(proxied.port):
        statuses = []
        for _ in range(5):
            statuses.append(served(proxied.port, timeout=30))
            time.sleep(1)
    assert statuses == [200] * 5


def test_without_nginx_the_same_drip_starves_gunicorn(start_aurio: Callable[..., AurioServer]) -> None:
    """The control: the attack above is real, so the test above shows nginx's part."""
    aurio = start_aurio(env={"WEB_THREADS": "4"})
    with HeaderDrip(aurio.port):
        assert served(aurio.port, timeout=10) is None
    assert served(aurio.port, timeout=30) == 200  # and it recovers once the attack stops


def test_an_upload_streams_through_nginx(
    start_aurio: Callable[..., AurioServer],
    start_nginx: Callable[[AurioServer], Proxied],
    large_video: bytes,
) -> None:
    proxied = start_nginx(start_aurio())
    invite = proxied.aurio.new_invite()
    upload = TusUpload(proxied.port, invite["token"], large_video, chunk=4 << 20)
    upload.create()
    upload.resume()
    reply = upload.finish()
    assert reply.status == 201, reply
    [video] = proxied.aurio.videos_of(invite["id"])
    assert video["size"] == len(large_video)


def test_an_oversized_form_gets_a_json_413_from_nginx(
    start_aurio: Callable[..., AurioServer], start_nginx: Callable[[AurioServer], Proxied]
) -> None:
    proxied = start_nginx(start_aurio())
    with socket.create_connection((HOST, proxied.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/invites HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20000000\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"application/json" in reply and b'"detail"' in reply


def test_an_upload_chunk_reaches_aurio_while_it_is_still_arriving(
    start_aurio: Callable[..., AurioServer],
    start_nginx: Callable[[AurioServer], Proxied],
    large_video: bytes,
) -> None:
    """proxy_request_buffering off on the upload paths: aurio spools a PATCH as it comes,
    so what arrived before a dropped connection is kept (nginx would otherwise hold it)."""
    proxied = start_nginx(start_aurio())
    upload = TusUpload(proxied.port, proxied.aurio.new_invite()["token"], large_video, chunk=4 << 20)
    upload.create()
    connection = upload.start_patch(0, send=1 << 20)  # a quarter of the chunk, then nothing
    try:
        wait_until(proxied.aurio.spooling, timeout=20, what="aurio to be reading the PATCH's body")
    finally:
        connection.close()


def test_a_forged_x_forwarded_for_does_not_dodge_the_rate_limit(
    start_aurio: Callable[..., AurioServer], start_nginx: Callable[[AurioServer], Proxied]
) -> None:
    """nginx appends the address it saw; aurio (USE_X_FORWARDED_FOR, one trusted proxy)
    takes that one, not the entries the client wrote."""
    aurio = start_aurio(env={"USE_X_FORWARDED_FOR": "true", "AURIO_RATE_LIMIT_BAD_TOKENS": "3"})
    proxied = start_nginx(aurio)
    statuses = [
        fetch(
            proxied.port,
            "GET",
            f"/api/v1/invites/{'x' * 40}{i}",
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status
        for i in range(5)
    ]
    assert statuses == [404, 404, 404, 429, 429]
