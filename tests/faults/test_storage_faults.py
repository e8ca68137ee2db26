"""Storage failing mid-write, for real: aurio's S3 storage talks HTTP to moto's
S3 server through the fault-injecting proxy (tests/support/faultproxy.py), and the
proxy cuts the connection part-way through a write, or refuses connections
(the store is down). The web side is Django's test client; what is real is
the S3 protocol, the network errors boto3 sees, and its own retries.

For each write a candidate's answer goes through (a tus chunk, the finish step
that stores the original, the plain multipart upload) and for processing's
writes: a clear error (a 503 that says to retry, never a 500), nothing
half-written counted, and a retry once the store is back that ends with exactly
what was submitted. The bucket is always listed straight from moto, past the
proxy.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from invites.models import Invite, InviteStatus
from tests.support import s3
from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.media import make_video
from uploads.models import Chunk, Upload
from uploads.tests.test_tus import TUS, create, patch
from videos.models import Status, Video

FOREVER = 3600.0  # "until the test lifts it": refuse_for(0) brings the store back
RETRY_ADVICE = re.compile(r"retry|try again", re.IGNORECASE)


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with s3.s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def proxy(moto: str) -> Iterator[FaultProxy]:
    host, port = moto.removeprefix("http://").split(":")
    with fault_proxy(host, int(port)) as running:
        yield running


@pytest.fixture
def bucket(moto: str, proxy: FaultProxy, settings: Any) -> Iterator[str]:
    """A fresh bucket as aurio's default storage, reached only through the proxy."""
    name = s3.new_bucket(moto)
    through_proxy = s3.s3_storage_settings(proxy.url, name)
    with override_settings(STORAGES={**settings.STORAGES, "default": through_proxy}):
        yield name


@pytest.fixture
def web() -> Client:
    """A client that gets the server's answer to a crash (a 500 page) instead of
    the exception, so a missing error path fails on the status, as a browser sees it."""
    return Client(raise_request_exception=False)


@pytest.fixture(scope="module")
def answer(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A recording large enough (a few hundred kB) that a cut lands mid-body."""
    path = make_video(
        tmp_path_factory.mktemp("faults") / "answer.webm", seconds=4, live=True, bitrate=600_000
    )
    return path.read_bytes()


def store_down_after(proxy: FaultProxy, n: int) -> None:
    """Cut every connection to the store once `n` more bytes have gone to it
    (mid-request), and refuse connections from then on, boto3's retries included."""
    proxy.cut_after(n, refuse_for=FOREVER)


def store_back(proxy: FaultProxy) -> None:
    proxy.refuse_for(0)


def last_write(proxy: FaultProxy) -> str:
    """The last request sent to the store: where the fault hit."""
    writes = [r for r in proxy.requests if r.method in ("PUT", "POST")]
    assert writes, proxy.requests
    return f"{writes[-1].method} {writes[-1].path}"


def assert_clear_retry_error(response: Any) -> None:
    assert response.status_code == 503, response.content[:2000]
    assert response["Content-Type"].startswith("application/json")
    assert RETRY_ADVICE.search(response.json()["detail"]), response.json()


def finish(web: Client, invite: Invite, location: str) -> Any:
    return web.post(reverse("api:finish_upload", args=[invite.token, location.rsplit("/", 1)[1]]))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a tus chunk --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["cut mid-chunk", "refused"])
def test_a_chunk_the_store_fails_is_refused_with_503_and_the_upload_resumes_byte_identical(
    web: Client, invite: Invite, answer: bytes, proxy: FaultProxy, bucket: str, moto: str, fault: str
) -> None:
    location = create(web, invite, len(answer))["Location"]
    upload = Upload.objects.get(pk=location.rsplit("/", 1)[1])
    half = len(answer) // 2
    assert patch(web, location, answer[:half], 0).status_code == 204
    first_part = s3.keys(moto, bucket, "uploads/")

    if fault == "refused":
        proxy.refuse_for(FOREVER)
    else:
        store_down_after(proxy, 16 * 1024)
    assert_clear_retry_error(patch(web, location, answer[half:], half))
    if fault == "cut mid-chunk":
        assert proxy.cuts == 1 and last_write(proxy).startswith(f"PUT /{bucket}/uploads/")

    # The offset did not move, no half chunk is counted or stored.
    assert web.head(location, headers=TUS)["Upload-Offset"] == str(half)
    assert list(Chunk.objects.filter(upload=upload).values_list("offset", "size")) == [(0, half)]
    assert s3.keys(moto, bucket, "uploads/") == first_part

    store_back(proxy)
    assert patch(web, location, answer[half:], half).status_code == 204
    assert web.head(location, headers=TUS)["Upload-Offset"] == str(len(answer))
    parts = s3.keys(moto, bucket, "uploads/")
    assert len(parts) == 2
    # Byte-identical: the stored parts, in offset order, are the recording.
    stored = b"".join(s3.read(moto, bucket, chunk.name) for chunk in upload.chunks.order_by("offset"))
    assert stored == answer

    finished = finish(web, invite, location)
    assert finished.status_code == 201, finished.content
    upload.refresh_from_db()
    assert upload.sha256 == sha256(answer)
    assert s3.keys(moto, bucket, "uploads/") == []


@pytest.mark.django_db
def test_one_dropped_connection_to_the_store_is_retried_without_the_candidate_noticing(
    web: Client, invite: Invite, answer: bytes, proxy: FaultProxy, bucket: str, moto: str
) -> None:
    location = create(web, invite, len(answer))["Location"]
    proxy.cut_after(16 * 1024)  # once; the store stays up
    assert patch(web, location, answer, 0).status_code == 204
    assert proxy.cuts == 1
    [key] = s3.keys(moto, bucket, "uploads/")
    assert s3.read(moto, bucket, key) == answer


# --- the finish step: the original is written --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fault",
    [
        "cut mid-original",
        "cut reading back",  # the GET of a part is cut mid-body, then the store is gone
        pytest.param("refused"),  # reading the parts back fails first
    ],
)
def test_a_finish_the_store_fails_keeps_the_parts_and_a_retry_makes_one_video(
    web: Client, invite: Invite, answer: bytes, proxy: FaultProxy, bucket: str, moto: str, fault: str
) -> None:
    location = create(web, invite, len(answer))["Location"]
    half = len(answer) // 2
    assert patch(web, location, answer[:half], 0).status_code == 204
    assert patch(web, location, answer[half:], half).status_code == 204
    parts = s3.keys(moto, bucket, "uploads/")

    if fault == "refused":
        proxy.refuse_for(FOREVER)
        assert_clear_retry_error(finish(web, invite, location))
    elif fault == "cut reading back":
        proxy.cut_response_after(4 * 1024, refuse_for=FOREVER)
        assert_clear_retry_error(finish(web, invite, location))
        assert proxy.cuts == 1
    else:
        # Reading the two parts back sends a few small requests; the cut lands
        # in the body of the original's PUT.
        store_down_after(proxy, 32 * 1024)
        assert_clear_retry_error(finish(web, invite, location))
        assert proxy.cuts == 1 and last_write(proxy).startswith(f"PUT /{bucket}/videos/")

    # Nothing is submitted, nothing is lost: the parts are kept, the invite is
    # still open, no video exists (none can look complete), nothing under videos/.
    assert s3.keys(moto, bucket, "uploads/") == parts
    assert Chunk.objects.count() == 2
    invite.refresh_from_db()
    assert invite.status != InviteStatus.SUBMITTED and invite.submitted_at is None
    assert not Video.objects.exists()
    assert s3.keys(moto, bucket, "videos/") == []

    store_back(proxy)
    retried = finish(web, invite, location)
    assert retried.status_code == 201, retried.content
    again = finish(web, invite, location)
    assert (again.status_code, again.json()) == (200, retried.json())
    video = Video.objects.get()
    assert str(video.pk) == retried.json()["videoId"]
    assert s3.keys(moto, bucket) == [video.file.name]
    assert sha256(s3.read(moto, bucket, video.file.name)) == video.sha256
    assert Upload.objects.get().sha256 == sha256(answer)
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED


# --- the plain multipart upload ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_multipart_upload_the_store_fails_gets_503_and_a_retry_is_accepted_once(
    web: Client, invite: Invite, answer: bytes, proxy: FaultProxy, bucket: str, moto: str, tmp_path: Path
) -> None:
    path = tmp_path / "answer.webm"
    path.write_bytes(answer)
    url = reverse("api:upload_video", args=[invite.token])

    def send() -> Any:
        with path.open("rb") as f:
            return web.post(url, {"file": f})

    store_down_after(proxy, 32 * 1024)
    assert_clear_retry_error(send())
    assert proxy.cuts == 1 and last_write(proxy).startswith(f"PUT /{bucket}/videos/")
    invite.refresh_from_db()
    assert invite.status != InviteStatus.SUBMITTED
    assert not Video.objects.exists()
    assert s3.keys(moto, bucket) == []

    store_back(proxy)
    accepted = send()
    assert accepted.status_code == 201, accepted.content
    video = Video.objects.get()
    assert s3.keys(moto, bucket) == [video.file.name]
    assert sha256(s3.read(moto, bucket, video.file.name)) == video.sha256
    assert send().status_code == 409  # submitted once
    assert Video.objects.count() == 1


# --- processing's writes ---------------------------------------------------------------------


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_processing_whose_outputs_the_store_fails_is_retried_and_ends_with_one_poster_and_one_rendition(
    web: Client, invite: Invite, answer: bytes, proxy: FaultProxy, bucket: str, moto: str, tmp_path: Path
) -> None:
    path = tmp_path / "answer.webm"
    path.write_bytes(answer)
    with path.open("rb") as f:
        response = web.post(reverse("api:upload_video", args=[invite.token]), {"file": f})
    assert response.status_code == 201
    video = Video.objects.get()
    original = s3.read(moto, bucket, video.file.name)
    folder = f"videos/{video.pk}/"

    # The worker reads the original back (a few small requests), transcodes,
    # then writes the poster and the rendition: the cut lands in those writes.
    store_down_after(proxy, 8 * 1024)
    run_worker()
    assert proxy.cuts == 1
    assert re.match(rf"PUT /{bucket}/{folder}(poster|playback)-1\.", last_write(proxy)), last_write(proxy)
    video.refresh_from_db()
    assert video.status == Status.UPLOADED  # handed back for a retry, not failed, not ready
    assert s3.read(moto, bucket, video.file.name) == original
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)

    store_back(proxy)
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())  # skip the back-off
    run_worker()
    video.refresh_from_db()
    assert video.status == Status.READY, video.failure_reason
    assert video.processing_run == 2
    assert s3.keys(moto, bucket) == sorted([video.file.name, video.poster.name, video.playback.name])
    assert video.poster.name == f"{folder}poster-2.jpg" and video.playback.name == f"{folder}playback-2.mp4"
    assert s3.read(moto, bucket, video.file.name) == original
    assert sha256(original) == video.sha256


# --- the backend tested is the one configured ---------------------------------------------------


def test_aurio_on_s3_uses_the_storage_these_tests_break() -> None:
    from aurio import settings as configured

    assert configured._S3_MEDIA["BACKEND"] == s3.BACKEND
