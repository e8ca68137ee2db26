"""The candidate's multipart upload (`POST /api/v1/upload/{token}`).

Every write is checked on both sides: the Video row and the stored file.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from aurio.storage import PrivateFileSystemStorage
from invites.models import Invite, InviteStatus
from invites.services import invite_revoke
from videos.models import Status, Video

# --- helpers and fixtures -----------------------------------------------------


@pytest.fixture(autouse=True)
def _own_media(media_root: Path) -> None:
    """Every test here gets an empty storage location (conftest's media_root)."""


def stored_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(
    client: Client,
    invite: Invite,
    content: bytes,
    name: str = "answer.webm",
    content_type: str = "video/webm",
) -> HttpResponse:
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(f"/api/v1/upload/{invite.token}", {"file": file})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def png_bytes() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def audio_only_webm(media_dir: Path) -> Path:
    """A WebM with an Opus track and no video track (a voice memo, not an answer)."""
    path = media_dir / "audio-only.webm"
    tone = av.open("sine=frequency=440:duration=1:sample_rate=48000", format="lavfi")
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000)
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=48000)
        pts = 0
        for frame in tone.decode(audio=0):
            for rframe in resampler.resample(frame):
                rframe.pts = pts
                rframe.time_base = Fraction(1, 48000)
                pts += rframe.samples
                for packet in stream.encode(rframe):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tone.close()
    return path


# --- upload: accepted -----------------------------------------------------------


def test_recorder_webm_upload_is_accepted(client: Client, invite: Invite, recorder_webm: Path) -> None:
    response = upload(client, invite, recorder_webm.read_bytes())
    assert response.status_code == 201
    video = Video.objects.get()
    assert response.json() == {"videoId": str(video.id)}
    assert video.invite == invite
    assert video.status == Status.UPLOADED  # processing is queued
    assert video.content_type == "video/webm"
    assert video.original_name == "answer.webm"
    assert video.video_codec == "vp8"
    assert (video.width, video.height) == (320, 240)


def test_recorder_webm_upload_stores_exactly_one_file_matching_the_row(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    upload(client, invite, recorder_webm.read_bytes())
    video = Video.objects.get()
    assert stored_files(media_root) == [Path(video.file.name)]
    stored = (media_root / video.file.name).read_bytes()
    assert sha256(stored) == video.sha256
    assert len(stored) == video.size


def test_recorder_webm_upload_gets_its_real_duration(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    upload(client, invite, recorder_webm.read_bytes())
    assert Video.objects.get().duration_seconds == pytest.approx(3.0, abs=0.25)


def test_recorder_webm_is_stored_seekable(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    with av.open(str(recorder_webm)) as original:
        assert original.duration is None  # the premise: MediaRecorder output has no duration
    upload(client, invite, recorder_webm.read_bytes())
    with av.open(str(media_root / Video.objects.get().file.name)) as stored:
        assert stored.duration is not None
        assert stored.duration / av.time_base == pytest.approx(3.0, abs=0.25)


def test_upload_marks_the_invite_submitted(client: Client, invite: Invite, recorder_webm: Path) -> None:
    upload(client, invite, recorder_webm.read_bytes())
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED
    assert invite.submitted_at is not None


def test_mp4_upload_is_accepted_and_stored(
    client: Client, invite: Invite, plain_mp4: Path, media_root: Path
) -> None:
    response = upload(client, invite, plain_mp4.read_bytes(), name="answer.mp4", content_type="video/mp4")
    assert response.status_code == 201
    video = Video.objects.get(pk=response.json()["videoId"])
    assert video.content_type == "video/mp4"
    assert video.file.name.endswith(".mp4")
    assert video.duration_seconds == pytest.approx(2.0, abs=0.25)
    assert stored_files(media_root) == [Path(video.file.name)]
    assert sha256((media_root / video.file.name).read_bytes()) == video.sha256


def test_upload_type_comes_from_the_content_not_the_name_or_browser(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    response = upload(client, invite, recorder_webm.read_bytes(), name="notes.txt", content_type="text/plain")
    assert response.status_code == 201
    video = Video.objects.get()
    assert video.content_type == "video/webm"
    assert video.file.name.endswith(".webm")


def test_upload_within_the_duration_tolerance_is_accepted(
    client: Client, invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    settings.AURIO_MAX_DURATION_SECONDS = 2
    settings.AURIO_DURATION_TOLERANCE_SECONDS = 2
    assert upload(client, invite, recorder_webm.read_bytes()).status_code == 201


def test_upload_at_exactly_the_size_limit_is_accepted(
    client: Client, invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    data = recorder_webm.read_bytes()
    settings.AURIO_MAX_UPLOAD_BYTES = len(data)
    assert upload(client, invite, data).status_code == 201


# --- upload: refused ------------------------------------------------------------


def assert_nothing_stored(invite: Invite, media_root: Path) -> None:
    assert Video.objects.count() == 0
    assert stored_files(media_root) == []
    invite.refresh_from_db()
    assert invite.submitted_at is None


def test_empty_file_is_refused(client: Client, invite: Invite, media_root: Path) -> None:
    response = upload(client, invite, b"")
    assert response.status_code == 400
    assert response.json() == {"detail": "The file is empty."}
    assert_nothing_stored(invite, media_root)


def test_upload_without_the_file_field_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    with recorder_webm.open("rb") as f:
        response = client.post(f"/api/v1/upload/{invite.token}", {"video": f})
    assert response.status_code == 400
    assert "'file'" in response.json()["detail"]
    assert_nothing_stored(invite, media_root)


def test_upload_without_a_body_is_refused(client: Client, invite: Invite, media_root: Path) -> None:
    response = client.post(f"/api/v1/upload/{invite.token}")
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
    assert_nothing_stored(invite, media_root)


@pytest.mark.parametrize("length", ["abc", "-5", "1e9", "²"])
def test_a_content_length_that_is_no_number_is_400_not_500(
    client: Client, invite: Invite, media_root: Path, length: str
) -> None:
    file = SimpleUploadedFile("answer.webm", b"\x1a\x45\xdf\xa3", content_type="video/webm")
    response = client.post(f"/api/v1/upload/{invite.token}", {"file": file}, CONTENT_LENGTH=length)
    assert response.status_code == 400
    assert response.json() == {"detail": "Content-Length must be a whole number of bytes."}
    assert_nothing_stored(invite, media_root)


def test_png_named_webm_is_refused_as_not_a_video(client: Client, invite: Invite, media_root: Path) -> None:
    response = upload(client, invite, png_bytes(), name="answer.webm", content_type="video/webm")
    assert response.status_code == 415
    assert "not a video" in response.json()["detail"]
    assert_nothing_stored(invite, media_root)


def test_text_named_webm_is_refused_as_not_a_video(client: Client, invite: Invite, media_root: Path) -> None:
    response = upload(client, invite, b"hello, this is plain text\n" * 40, content_type="video/webm")
    assert response.status_code == 415
    assert_nothing_stored(invite, media_root)


def test_audio_only_webm_is_refused_as_having_no_video(
    client: Client, invite: Invite, audio_only_webm: Path, media_root: Path
) -> None:
    response = upload(client, invite, audio_only_webm.read_bytes())
    assert response.status_code == 415
    assert "no video" in response.json()["detail"]
    assert_nothing_stored(invite, media_root)


def test_truncated_mp4_is_refused_as_damaged(
    client: Client, invite: Invite, plain_mp4: Path, media_root: Path
) -> None:
    data = plain_mp4.read_bytes()
    response = upload(client, invite, data[: len(data) // 2], name="answer.mp4", content_type="video/mp4")
    assert response.status_code == 422
    assert "damaged" in response.json()["detail"]
    assert_nothing_stored(invite, media_root)


def test_webm_with_headers_but_no_frames_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    data = recorder_webm.read_bytes()
    first_cluster = data.index(b"\x1f\x43\xb6\x75")  # Matroska Cluster element ID
    response = upload(client, invite, data[:first_cluster])
    assert response.status_code == 422
    assert_nothing_stored(invite, media_root)


def test_webm_signature_followed_by_garbage_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    garbage = bytes(range(256)) * 80
    response = upload(client, invite, recorder_webm.read_bytes()[:64] + garbage)
    assert response.status_code == 422
    assert_nothing_stored(invite, media_root)


def test_oversize_upload_is_refused_before_the_body_is_read(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path, settings: Settings
) -> None:
    settings.AURIO_MAX_UPLOAD_BYTES = 10_000  # the 215 kB body is far past limit + slack
    response = upload(client, invite, recorder_webm.read_bytes())
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert_nothing_stored(invite, media_root)


def test_upload_one_byte_over_the_size_limit_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path, settings: Settings
) -> None:
    data = recorder_webm.read_bytes()
    settings.AURIO_MAX_UPLOAD_BYTES = len(data) - 1
    response = upload(client, invite, data)
    assert response.status_code == 413
    assert_nothing_stored(invite, media_root)


def test_over_length_video_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path, settings: Settings
) -> None:
    settings.AURIO_MAX_DURATION_SECONDS = 1
    settings.AURIO_DURATION_TOLERANCE_SECONDS = 0
    response = upload(client, invite, recorder_webm.read_bytes())
    assert response.status_code == 422
    assert response.json() == {"detail": "The video is 0:03 long; the limit is 0:01."}
    assert_nothing_stored(invite, media_root)


def test_upload_to_an_unknown_token_is_refused(
    client: Client, db: None, recorder_webm: Path, media_root: Path
) -> None:
    file = SimpleUploadedFile("answer.webm", recorder_webm.read_bytes(), content_type="video/webm")
    response = client.post("/api/v1/upload/not-a-real-token", {"file": file})
    assert response.status_code == 404
    assert response.json() == {"detail": "This link is not valid."}
    assert Video.objects.count() == 0
    assert stored_files(media_root) == []


def test_upload_to_an_overlong_token_is_404_not_500(client: Client, db: None, media_root: Path) -> None:
    response = client.post("/api/v1/upload/" + "x" * 5000, {"file": SimpleUploadedFile("a.webm", b"x")})
    assert response.status_code == 404


def test_upload_to_an_expired_invite_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = upload(client, invite, recorder_webm.read_bytes())
    assert response.status_code == 410
    assert response.json() == {"detail": "This link has expired."}
    assert_nothing_stored(invite, media_root)


def test_upload_to_a_revoked_invite_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    invite_revoke(invite=invite)
    response = upload(client, invite, recorder_webm.read_bytes())
    assert response.status_code == 410
    assert response.json() == {"detail": "This link has been withdrawn."}
    assert_nothing_stored(invite, media_root)


def test_second_upload_after_submission_is_refused(
    client: Client, invite: Invite, recorder_webm: Path, plain_mp4: Path, media_root: Path
) -> None:
    first = upload(client, invite, recorder_webm.read_bytes())
    assert first.status_code == 201
    before = stored_files(media_root)

    second = upload(client, invite, plain_mp4.read_bytes(), name="again.mp4", content_type="video/mp4")

    assert second.status_code == 409
    assert "already been submitted" in second.json()["detail"]
    assert list(Video.objects.values_list("id", flat=True)) == [uuid.UUID(first.json()["videoId"])]
    assert stored_files(media_root) == before


def test_refused_upload_leaves_the_invite_usable(client: Client, invite: Invite, recorder_webm: Path) -> None:
    assert upload(client, invite, png_bytes()).status_code == 415
    assert upload(client, invite, recorder_webm.read_bytes()).status_code == 201


def test_get_on_the_upload_endpoint_is_not_allowed(client: Client, invite: Invite) -> None:
    assert client.get(f"/api/v1/upload/{invite.token}").status_code == 405


def test_storage_failure_gives_a_clear_error_and_keeps_the_invite_open(
    invite: Invite, recorder_webm: Path, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Design: "not on a storage error (clear error, retry)": the candidate must be
    told, in JSON, that it is worth trying again, and nothing is half-written."""

    def refuse(self: PrivateFileSystemStorage, name: str, content: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PrivateFileSystemStorage, "_save", refuse)
    client = Client(raise_request_exception=False)

    response = upload(client, invite, recorder_webm.read_bytes())

    assert_nothing_stored(invite, media_root)
    assert response.status_code == 503
    assert isinstance(response.json()["detail"], str)


def test_database_failure_after_storing_removes_the_file_and_reopens_the_invite(
    invite: Invite, recorder_webm: Path, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Video, *args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Video, "save", fail)
    response = upload(Client(raise_request_exception=False), invite, recorder_webm.read_bytes())
    assert response.status_code == 500
    assert_nothing_stored(invite, media_root)


# --- GET /videos ----------------------------------------------------------------
