"""Playback meets a dropped connection: the stream endpoint under real gunicorn
(sendfile), behind the fault-injecting proxy cutting the server-to-client
direction (tests/support/faultproxy.py).

A cut download is never mistaken for a whole one (the body is shorter than its
Content-Length), the client resumes it with Range and If-Range, and the joined
bytes are the stored file's. A reset mid-body costs the server nothing.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

import pytest

from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.server import HOST, WIRE_ERRORS, AurioServer
from tests.support.tus import MIB, TusUpload


@dataclass(frozen=True)
class Stored:
    """The uploaded video as the server stores it, and where the API streams it."""

    url: str
    content: bytes


@dataclass
class Download:
    status: int
    headers: Message
    body: bytes

    @property
    def complete(self) -> bool:
        return len(self.body) == int(self.headers["Content-Length"])


@pytest.fixture(scope="module")
def stored(aurio: AurioServer, large_video: bytes) -> Stored:
    invite = aurio.new_invite()
    tus = TusUpload(aurio.port, invite["token"], large_video)
    tus.create()
    tus.resume()
    finished = tus.finish()
    assert finished.status == 201, finished
    video = aurio.api("GET", f"/videos/{finished.json()['videoId']}").json()
    [(name,)] = aurio.database.rows("SELECT file FROM videos_video WHERE id = %s", video["id"])
    content = (aurio.media / name).read_bytes()
    assert len(content) == video["size"]
    return Stored(video["streamUrl"], content)


@pytest.fixture
def front(aurio: AurioServer) -> Iterator[FaultProxy]:
    with fault_proxy(HOST, aurio.port) as proxy:
        yield proxy


def download(aurio: AurioServer, port: int, url: str, headers: dict[str, str] | None = None) -> Download:
    """GET with the recruiter's key, keeping whatever arrives before the connection fails."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(
            "GET", url, headers={"Authorization": f"Bearer {aurio.api_key}", **(headers or {})}
        )
        response = connection.getresponse()
        body = bytearray()
        try:
            while data := response.read(64 * 1024):
                body += data
        except WIRE_ERRORS:
            pass
        return Download(response.status, response.headers, bytes(body))
    finally:
        connection.close()


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
def test_cut_stream_is_short_and_resumes_with_range_into_the_stored_bytes(
    aurio: AurioServer, front: FaultProxy, stored: Stored, reset: bool
) -> None:
    size = len(stored.content)
    front.cut_response_after(size // 2, reset=reset)
    cut = download(aurio, front.port, stored.url)
    assert cut.status == 200
    assert int(cut.headers["Content-Length"]) == size
    assert not cut.complete  # the client can tell: fewer bytes than announced
    assert len(cut.body) < size // 2 and cut.body == stored.content[: len(cut.body)]

    rest = download(
        aurio, front.port, stored.url, {"Range": f"bytes={len(cut.body)}-", "If-Range": cut.headers["ETag"]}
    )
    assert rest.status == 206
    assert rest.headers["Content-Range"] == f"bytes {len(cut.body)}-{size - 1}/{size}"
    assert rest.complete
    assert cut.body + rest.body == stored.content


def test_resume_against_a_changed_validator_gets_the_whole_file(
    aurio: AurioServer, front: FaultProxy, stored: Stored
) -> None:
    """If-Range with an ETag the file no longer has: 200 and every byte, never a
    206 the client would join to bytes of another file."""
    front.cut_response_after(MIB)
    cut = download(aurio, front.port, stored.url)
    assert not cut.complete
    stale = cut.headers["ETag"][:-1] + 'x"'
    again = download(aurio, front.port, stored.url, {"Range": f"bytes={len(cut.body)}-", "If-Range": stale})
    assert again.status == 200 and again.complete
    assert again.body == stored.content


def test_reset_mid_stream_leaves_the_server_serving(
    aurio: AurioServer, front: FaultProxy, stored: Stored
) -> None:
    workers = aurio.pids()
    log_before = len(aurio.log())
    # Slowed down, the server is still sending (sendfile blocked on a full socket) when the reset comes.
    front.throttle_responses(4 * MIB)
    front.cut_response_after(MIB)
    cut = download(aurio, front.port, stored.url)
    assert not cut.complete
    front.throttle_responses(None)

    whole = download(aurio, front.port, stored.url)
    assert whole.status == 200 and whole.complete and whole.body == stored.content
    assert aurio.fetch("GET", "/healthz").status == 200
    assert aurio.pids() == workers  # no worker died or was replaced
    written = aurio.log()[log_before:]
    assert "Traceback" not in written and '"level": "ERROR"' not in written, written
