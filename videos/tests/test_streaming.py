"""HTTP Range streaming (`GET/HEAD /api/v1/videos/{id}/stream`, videos/streaming.py).

Every body is compared byte for byte with the file in storage.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from wsgiref.util import FileWrapper as WsgirefFileWrapper

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.http import FileResponse, HttpResponseBase
from django.test import Client, RequestFactory
from django.utils.http import http_date
from gunicorn.http.wsgi import FileWrapper as GunicornFileWrapper

from invites.models import Invite
from tests.support.factories import store_video
from videos.models import Status, Video
from videos.streaming import CHUNK, Unsatisfiable, parse_range, stream_video

SIZE = 600_000  # more than two CHUNKs, so the generator path loops


@pytest.fixture(autouse=True)
def _own_media(media_root: Path) -> None:
    """Every test here gets an empty storage location (conftest's media_root)."""


@pytest.fixture
def video(invite: Invite) -> Video:
    return store_video(invite, random.Random(2).randbytes(SIZE), status=Status.READY)  # type: ignore[return-value]


@pytest.fixture
def stored(video: Video, media_root: Path) -> bytes:
    """The bytes as they are in storage: the reference for every comparison."""
    data = (media_root / video.file.name).read_bytes()
    assert len(data) == SIZE
    return data


@pytest.fixture
def url(video: Video) -> str:
    return f"/api/v1/videos/{video.id}/stream"


def body(response: HttpResponseBase) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined]


# --- whole file -------------------------------------------------------------------


def test_full_get_returns_the_stored_file(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url)
    assert response.status_code == 200
    assert body(response) == stored


def test_full_get_has_content_length_and_accepts_ranges(api: Client, url: str) -> None:
    response = api.get(url)
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in response
    response.close()


def test_stream_is_served_as_inline_webm_without_sniffing(api: Client, url: str, video: Video) -> None:
    response = api.get(url)
    assert response["Content-Type"] == "video/webm"
    assert response["Content-Disposition"] == f'inline; filename="video-{video.id}.webm"'
    assert response["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_stream_carries_etag_and_last_modified(api: Client, url: str, video: Video) -> None:
    response = api.get(url)
    assert response["ETag"] == f'"{video.sha256[:40]}"'
    assert response["Last-Modified"] == http_date(int(video.created_at.timestamp()))
    response.close()


def test_stream_is_privately_cacheable_only(api: Client, url: str) -> None:
    response = api.get(url)
    assert response["Cache-Control"].startswith("private")
    response.close()


def test_uploaded_recording_streams_byte_exact(
    api: Client, client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    file = SimpleUploadedFile("answer.webm", recorder_webm.read_bytes(), content_type="video/webm")
    video_id = client.post(f"/api/v1/upload/{invite.token}", {"file": file}).json()["videoId"]
    video = Video.objects.get(pk=video_id)
    on_disk = (media_root / video.file.name).read_bytes()

    response = api.get(f"/api/v1/videos/{video_id}/stream", headers={"Range": "bytes=1000-"})

    assert response.status_code == 206
    assert body(response) == on_disk[1000:]
    assert hashlib.sha256(on_disk).hexdigest() == video.sha256


# --- single ranges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=262100-524400", 262100, 524400),  # across two chunk boundaries
        ("bytes=599999-599999", SIZE - 1, SIZE - 1),
        ("bytes=0-0", 0, 0),
    ],
)
def test_range_returns_exactly_those_bytes(
    api: Client, url: str, stored: bytes, header: str, first: int, last: int
) -> None:
    response = api.get(url, headers={"Range": header})
    assert response.status_code == 206
    assert body(response) == stored[first : last + 1]
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"


def test_open_range_returns_the_rest_of_the_file(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"Range": "bytes=123456-"})
    assert response.status_code == 206
    assert body(response) == stored[123456:]
    assert response["Content-Range"] == f"bytes 123456-{SIZE - 1}/{SIZE}"
    assert response["Content-Length"] == str(SIZE - 123456)


def test_suffix_range_returns_the_last_bytes(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"Range": "bytes=-500"})
    assert response.status_code == 206
    assert body(response) == stored[-500:]
    assert response["Content-Range"] == f"bytes {SIZE - 500}-{SIZE - 1}/{SIZE}"


def test_suffix_longer_than_the_file_returns_the_whole_file(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"Range": f"bytes=-{SIZE * 2}"})
    assert response.status_code == 206
    assert body(response) == stored
    assert response["Content-Range"] == f"bytes 0-{SIZE - 1}/{SIZE}"


def test_range_past_the_end_is_clipped_to_the_file(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"Range": "bytes=10-999999999"})
    assert response.status_code == 206
    assert body(response) == stored[10:]
    assert response["Content-Range"] == f"bytes 10-{SIZE - 1}/{SIZE}"
    assert response["Content-Length"] == str(SIZE - 10)


# --- unsatisfiable and malformed ------------------------------------------------------


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(api: Client, url: str, header: str) -> None:
    response = api.get(url, headers={"Range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert body(response) == b""


@pytest.mark.parametrize(
    "header", ["bytes=abc", "items=0-1", "bytes=5-2", "bytes=0-1,4-5", "bytes=", "bytes=-", "0-99"]
)
def test_malformed_or_multiple_range_is_ignored_and_the_whole_file_sent(
    api: Client, url: str, stored: bytes, header: str
) -> None:
    response = api.get(url, headers={"Range": header})
    assert response.status_code == 200
    assert body(response) == stored
    assert "Content-Range" not in response


# --- HEAD --------------------------------------------------------------------------------


def test_head_gives_the_headers_without_a_body(api: Client, url: str) -> None:
    response = api.head(url)
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/webm"
    assert "ETag" in response
    assert body(response) == b""


def test_head_with_a_range_describes_the_range(api: Client, url: str) -> None:
    response = api.head(url, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response["Content-Length"] == "100"
    assert response["Content-Range"] == f"bytes 100-199/{SIZE}"
    assert body(response) == b""


def test_head_view_itself_writes_no_body(rf: RequestFactory, video: Video) -> None:
    """The test client strips HEAD bodies itself, so ask the view directly."""
    request = rf.head(f"/api/v1/videos/{video.id}/stream")
    response = stream_video(request, video)
    assert not response.streaming
    assert response.content == b""  # type: ignore[attr-defined]
    assert response["Content-Length"] == str(SIZE)


# --- conditional requests ------------------------------------------------------------------


def test_if_none_match_with_the_etag_is_304(api: Client, url: str, video: Video) -> None:
    response = api.get(url, headers={"If-None-Match": video.etag})
    assert response.status_code == 304
    assert body(response) == b""
    assert response["ETag"] == video.etag


def test_if_none_match_with_another_etag_sends_the_file(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"If-None-Match": '"something-else"'})
    assert response.status_code == 200
    assert body(response) == stored


def test_if_range_with_the_current_etag_serves_the_range(
    api: Client, url: str, video: Video, stored: bytes
) -> None:
    response = api.get(url, headers={"Range": "bytes=0-99", "If-Range": video.etag})
    assert response.status_code == 206
    assert body(response) == stored[:100]


def test_if_range_with_a_stale_etag_sends_the_whole_file(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"Range": "bytes=0-99", "If-Range": '"stale0000"'})
    assert response.status_code == 200
    assert body(response) == stored
    assert "Content-Range" not in response


def test_if_range_with_a_weak_etag_sends_the_whole_file(
    api: Client, url: str, video: Video, stored: bytes
) -> None:
    response = api.get(url, headers={"Range": "bytes=0-99", "If-Range": f"W/{video.etag}"})
    assert response.status_code == 200
    assert body(response) == stored


def test_if_range_with_the_last_modified_date_serves_the_range(
    api: Client, url: str, video: Video, stored: bytes
) -> None:
    date = http_date(int(video.created_at.timestamp()))
    response = api.get(url, headers={"Range": "bytes=50-149", "If-Range": date})
    assert response.status_code == 206
    assert body(response) == stored[50:150]


def test_if_range_with_an_older_date_sends_the_whole_file(
    api: Client, url: str, video: Video, stored: bytes
) -> None:
    date = http_date(int(video.created_at.timestamp()) - 3600)
    response = api.get(url, headers={"Range": "bytes=50-149", "If-Range": date})
    assert response.status_code == 200
    assert body(response) == stored


def test_if_range_that_fails_overrides_an_unsatisfiable_range(api: Client, url: str, stored: bytes) -> None:
    response = api.get(url, headers={"Range": f"bytes={SIZE}-", "If-Range": '"stale0000"'})
    assert response.status_code == 200
    assert body(response) == stored


def test_stream_of_a_row_whose_file_is_missing_is_a_json_404_not_a_500(
    url: str, video: Video, recruiter: User, token_for: Callable[[User], str]
) -> None:
    """A row pointing at a lost file is an inconsistency for `reconcile`, but the
    player must still get a clear error ({"detail": ...}), never a server error."""
    default_storage.delete(video.file.name)
    key = token_for(recruiter)
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {key}"})
    response = client.get(url)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


# --- which body goes to which WSGI server -----------------------------------------------------


def test_a_range_is_the_seeked_file_ending_at_the_range(
    rf: RequestFactory, video: Video, stored: bytes
) -> None:
    """One body for every server: sendfile starts at the file's offset and sends
    Content-Length bytes; readers stop where read() does, at the range's end."""
    request = rf.get("/stream", headers={"Range": "bytes=300000-300999"})
    response = stream_video(request, video)
    try:
        assert isinstance(response, FileResponse)
        assert response.status_code == 206
        assert response["Content-Length"] == "1000"
        body = response.file_to_stream
        assert os.lseek(body.fileno(), 0, os.SEEK_CUR) == 300000  # where sendfile starts
        assert body.read() == stored[300000:301000]
        assert body.read() == b""
    finally:
        response.close()


def test_the_whole_file_is_the_file_from_its_start(rf: RequestFactory, video: Video, stored: bytes) -> None:
    response = stream_video(rf.get("/stream"), video)
    try:
        assert isinstance(response, FileResponse)
        assert os.lseek(response.file_to_stream.fileno(), 0, os.SEEK_CUR) == 0
        assert response["Content-Length"] == str(SIZE)
        assert b"".join(response.streaming_content) == stored
    finally:
        response.close()


def test_copying_servers_read_big_blocks(rf: RequestFactory, video: Video) -> None:
    response = stream_video(rf.get("/stream"), video)
    response.close()
    assert response.block_size >= 256 * 1024


def test_repo_gunicorn_config_keeps_sendfile_on() -> None:
    """gunicorn treats any `sendfile` setting in a config file as "off"."""
    import runpy

    from gunicorn.config import Config

    cfg = Config()
    for key, value in runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py")).items():
        if key in cfg.settings:
            cfg.set(key, value)
    assert cfg.worker_class_str == "gthread"
    assert cfg.sendfile is True


@pytest.fixture(autouse=True)
def _wsgi_keeps_the_test_connection(keep_test_connection: None) -> None:
    """The WSGI-handler tests below call the application directly."""


def run_wsgi(environ: dict[str, object]) -> tuple[str, dict[str, str], Iterable[bytes]]:
    captured: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    result = WSGIHandler()(environ, start_response)
    return captured["status"], captured["headers"], result  # type: ignore[return-value]


def test_range_through_the_wsgi_handler_with_wsgiref_sends_only_the_range(
    rf: RequestFactory, url: str, stored: bytes, recruiter: User, token_for: Callable[[User], str]
) -> None:
    """The runserver case end to end: Django's WSGI handler with wsgiref's file wrapper."""
    key = token_for(recruiter)
    environ = rf.get(url, headers={"Range": "bytes=5000-5999", "Authorization": f"Bearer {key}"}).environ
    environ["wsgi.file_wrapper"] = WsgirefFileWrapper
    status, headers, result = run_wsgi(environ)
    try:
        sent = b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]
    assert status.startswith("206")
    assert headers["Content-Length"] == "1000"
    assert sent == stored[5000:6000]


def test_range_through_the_wsgi_handler_with_gunicorn_hands_over_the_seeked_file(
    rf: RequestFactory, url: str, stored: bytes, recruiter: User, token_for: Callable[[User], str]
) -> None:
    key = token_for(recruiter)
    environ = rf.get(url, headers={"Range": "bytes=5000-5999", "Authorization": f"Bearer {key}"}).environ
    environ["wsgi.file_wrapper"] = GunicornFileWrapper
    status, headers, result = run_wsgi(environ)
    try:
        assert isinstance(result, GunicornFileWrapper)
        assert status.startswith("206")
        assert os.lseek(result.filelike.fileno(), 0, os.SEEK_CUR) == 5000  # sendfile's start
        assert b"".join(result) == stored[5000:6000]  # gunicorn without sendfile iterates
    finally:
        result.close()


# --- parse_range --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=0-0", 1000, (0, 0)),
        ("bytes=999-999", 1000, (999, 999)),
        ("bytes=500-", 1000, (500, 999)),
        ("bytes=-100", 1000, (900, 999)),
        ("bytes=-1000", 1000, (0, 999)),
        ("bytes=-5000", 1000, (0, 999)),
        ("bytes=10-999999999999999999999", 1000, (10, 999)),
        ("bytes=0-1000", 1000, (0, 999)),
        ("BYTES=1-2", 1000, (1, 2)),
        (" bytes = 3 - 4 ", 1000, (3, 4)),
        ("bytes=007-008", 1000, (7, 8)),
        ("bytes=-" + "1" * 4301, 1000, (0, 999)),
        ("bytes=0-" + "9" * 4301, 1000, (0, 999)),
    ],
)
def test_parse_range_accepts_single_ranges(header: str, size: int, expected: tuple[int, int]) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=abc",
        "bytes=1-a",
        "items=0-1",
        "0-1",
        "bytes=5-2",
        "bytes=0-1,4-5",
        "bytes=0-1, 4-5",
        "bytes=-1-2",
        "bytes=1.5-2",
        "bytes=0x10-0x20",
    ],
)
def test_parse_range_ignores_malformed_or_multiple_ranges(header: str) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=1000-1000", 1000),
        ("bytes=5000-6000", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=-5", 0),
        ("bytes=" + "1" * 4301 + "-", 1000),
    ],
)
def test_parse_range_raises_for_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_parse_range_returns_ranges_within_the_file() -> None:
    """Whatever it returns is a real, non-empty span of the file."""
    for size in (1, 2, 10, CHUNK + 1):
        for header in ("bytes=0-", "bytes=-1", f"bytes=-{size}", f"bytes={size - 1}-", "bytes=0-99999999"):
            first, last = parse_range(header, size)  # type: ignore[misc]
            assert 0 <= first <= last < size
