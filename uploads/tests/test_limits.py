"""Uploads can't take every thread: slots per process and per link, over real sockets.

The live server reads request bodies in its own threads, so a client that
sends headers and part of a body, then waits, holds a slot exactly as a slow
phone (or an attacker) would.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import pytest
from django.http import UnreadablePostError
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from aurio.errors import Refused
from aurio.slots import upload_slots
from invites.models import Invite
from uploads.models import Upload
from uploads.services import Checksum, upload_append

from .test_tus import OCTETS, TUS, create

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def address(live_server: LiveServer) -> tuple[str, int]:
    parts = urlsplit(live_server.url)
    return "127.0.0.1", parts.port or 80


@contextmanager
def held_patch(live_server: LiveServer, url: str, offset: int = 0) -> Iterator[socket.socket]:
    """A PATCH that announces 1 MB, sends 10 bytes and waits: its slot stays taken."""
    sock = socket.create_connection(address(live_server))
    head = (
        f"PATCH {url} HTTP/1.1\r\nHost: testserver\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: {OCTETS}\r\nUpload-Offset: {offset}\r\nContent-Length: 1000000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"\x1a\x45\xdf\xa3" + b"\0" * 6)
    try:
        yield sock
    finally:
        sock.close()


def patch(live_server: LiveServer, url: str, body: bytes, offset: int) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*address(live_server), timeout=10)
    connection.request(
        "PATCH", url, body,
        headers={**TUS, "Content-Type": OCTETS, "Upload-Offset": str(offset)},
    )  # fmt: skip
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def new_upload(invite: Invite, length: int = 1_000_000) -> str:
    response = create(Client(), invite, length)
    assert response.status_code == 201
    return str(response["Location"])


@pytest.fixture
def slots_free() -> Iterator[None]:
    assert upload_slots.busy == 0
    yield
    wait_for(lambda: upload_slots.busy == 0, "the held uploads' slots to be given back")


def test_a_link_gets_two_uploads_at_once_and_the_third_is_told_to_wait(
    live_server: LiveServer, invite: Invite, slots_free: None
) -> None:
    url = new_upload(invite)
    with ExitStack() as held:
        held.enter_context(held_patch(live_server, url))
        held.enter_context(held_patch(live_server, url))
        wait_for(lambda: upload_slots.busy == 2, "two held uploads")

        refused = patch(live_server, url, b"abc", 0)
        assert refused.status == 429
        assert refused.getheader("Retry-After") == "5"

        other = Invite.objects.create(email="b@example.com", name="B")
        other_url = new_upload(other, length=3)
        accepted = patch(live_server, other_url, b"abc", 0)
        assert accepted.status == 204  # another link is not held up
    wait_for(lambda: upload_slots.busy == 0, "the held uploads to end")
    assert Upload.objects.get(pk=url.rsplit("/", 1)[1]).offset <= 20  # nothing from the refused PATCH


def test_a_full_process_refuses_more_uploads_with_503_but_pages_still_load(
    live_server: LiveServer, invite: Invite, settings: Settings, slots_free: None
) -> None:
    settings.AURIO_MAX_UPLOADS_PER_PROCESS = 1
    url = new_upload(invite)
    other = Invite.objects.create(email="b@example.com", name="B")
    other_url = new_upload(other, length=3)
    with held_patch(live_server, url):
        wait_for(lambda: upload_slots.busy == 1, "the held upload")

        refused = patch(live_server, other_url, b"abc", 0)
        assert refused.status == 503
        assert refused.getheader("Retry-After") == "5"
        page = http.client.HTTPConnection(*address(live_server), timeout=10)
        page.request("GET", reverse("invites:record", args=[other.token]))
        assert page.getresponse().status == 200  # no body, no slot needed

    wait_for(lambda: upload_slots.busy == 0, "the held upload to end")
    retried = patch(live_server, other_url, b"abc", 0)
    assert retried.status == 204
    assert Upload.objects.get(pk=other_url.rsplit("/", 1)[1]).offset == 3


def test_the_refusal_explains_itself_in_json(
    live_server: LiveServer, invite: Invite, settings: Settings, slots_free: None
) -> None:
    settings.AURIO_MAX_UPLOADS_PER_LINK = 1
    url = new_upload(invite)
    with held_patch(live_server, url):
        wait_for(lambda: upload_slots.busy == 1, "the held upload")
        connection = http.client.HTTPConnection(*address(live_server), timeout=10)
        connection.request(
            "PATCH", url, b"abc", headers={**TUS, "Content-Type": OCTETS, "Upload-Offset": "0"}
        )
        response = connection.getresponse()
        assert response.status == 429
        assert "under way" in json.loads(response.read())["detail"]


class StallsAfter:
    """A request body that delivers `data`, then times out as gunicorn's idle bound makes it."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        if self.data:
            part, self.data = self.data[:size], self.data[size:]
            return part
        try:
            raise TimeoutError("timed out")
        except TimeoutError as exc:
            raise UnreadablePostError("timed out") from exc  # as Django's request.read() wraps it


def test_a_stalled_checksummed_chunk_is_408_and_nothing_is_kept(invite: Invite) -> None:
    upload = Upload.objects.get(pk=new_upload(invite, length=100).rsplit("/", 1)[1])
    whole = hashlib.sha256(b"y" * 100).digest()
    with pytest.raises(Refused) as refused:
        upload_append(
            upload=upload, offset=0, stream=StallsAfter(b"y" * 40), checksum=Checksum("sha256", whole)
        )
    assert refused.value.status == 408
    upload.refresh_from_db()
    assert upload.offset == 0
    assert not upload.chunks.exists()


def test_a_stalled_chunk_without_checksum_keeps_what_arrived(invite: Invite) -> None:
    upload = Upload.objects.get(pk=new_upload(invite, length=100).rsplit("/", 1)[1])
    upload = upload_append(upload=upload, offset=0, stream=StallsAfter(b"y" * 40))
    assert upload.offset == 40  # tus lets the server keep it; the client resumes from HEAD
