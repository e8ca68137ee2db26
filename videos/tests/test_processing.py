"""Processing a stored take, on real media made in the tests: status, probe,
poster, MP4 rendition, tag suggestion, and the failure states with their reasons.

The task backend is Django's ImmediateBackend here, so an upload runs the real
task code before it returns; tests/test_tasks.py covers the database queue and
its worker.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from invites.models import Invite
from tests.support.factories import store_video, stored_names
from tests.support.media import make_audio_only, make_video
from uploads.accept import video_accept_upload
from videos import processing
from videos.models import Status, Tag, Video

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def immediate_tasks(settings: Settings) -> None:
    settings.TASKS = IMMEDIATE


@pytest.fixture(scope="session")
def speaking_face_webm(media_dir: Path) -> Path:
    """A recorder-style WebM: a face on screen, speech-like sound."""
    return make_video(
        media_dir / "face-speech.webm", seconds=4, size=(640, 360), picture="face", sound="speech", live=True
    )


@pytest.fixture(scope="session")
def dark_silent_webm(media_dir: Path) -> Path:
    return make_video(media_dir / "dark-silent.webm", seconds=3, picture="dark", sound="silence", live=True)


def upload(invite: Invite, path: Path) -> Video:
    video = video_accept_upload(
        invite=invite, upload=SimpleUploadedFile(path.name, path.read_bytes(), "video/webm")
    )
    video.refresh_from_db()
    return video


def read_stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


# --- the happy path ---------------------------------------------------------------


def test_an_upload_is_processed_to_ready(invite: Invite, speaking_face_webm: Path) -> None:
    video = upload(invite, speaking_face_webm)
    assert video.status == Status.READY
    assert video.failure_reason == ""
    assert video.processed_at is not None
    assert video.duration_seconds == pytest.approx(4.0, abs=0.1)
    assert (video.width, video.height, video.video_codec, video.audio_codec) == (640, 360, "vp8", "opus")
    assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]


def test_the_original_is_kept_unchanged(invite: Invite, speaking_face_webm: Path) -> None:
    video = upload(invite, speaking_face_webm)
    assert hashlib.sha256(read_stored(video.file.name)).hexdigest() == video.sha256


def test_the_rendition_is_faststart_h264_aac_mp4_that_decodes(
    invite: Invite, speaking_face_webm: Path, tmp_path: Path
) -> None:
    video = upload(invite, speaking_face_webm)
    data = read_stored(video.playback.name)
    assert len(data) == video.playback_size
    assert data[4:8] == b"ftyp"
    assert data.find(b"moov") < data.find(b"mdat"), "the index must come first (+faststart)"
    path = tmp_path / "playback.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        assert vstream.codec_context.name == "h264"
        assert vstream.codec_context.pix_fmt == "yuv420p"
        assert astream.codec_context.name == "aac"
        assert (vstream.codec_context.width, vstream.codec_context.height) == (640, 360)
        assert (video.playback_width, video.playback_height) == (640, 360)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == pytest.approx(4 * 15, abs=2)


def test_the_rendition_seeks(invite: Invite, speaking_face_webm: Path, tmp_path: Path) -> None:
    video = upload(invite, speaking_face_webm)
    path = tmp_path / "playback.mp4"
    path.write_bytes(read_stored(video.playback.name))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(3.0 / stream.time_base), stream=stream)
        frame = next(container.decode(stream))
        assert frame.time is not None and frame.time <= 3.0


def test_the_poster_is_a_jpeg_of_the_picture(invite: Invite, speaking_face_webm: Path) -> None:
    video = upload(invite, speaking_face_webm)
    data = read_stored(video.poster.name)
    assert data[:3] == b"\xff\xd8\xff"
    assert len(data) == video.poster_size
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (360, 640)
    assert image.mean() > 60, "the poster is a lit frame"


def test_an_mp4_upload_is_processed_too(invite: Invite, plain_mp4: Path) -> None:
    video = video_accept_upload(
        invite=invite, upload=SimpleUploadedFile("a.mp4", plain_mp4.read_bytes(), "video/mp4")
    )
    video.refresh_from_db()
    assert video.status == Status.READY
    assert stored_names(video) == ["original.mp4", "playback-1.mp4", "poster-1.jpg"]


# --- suggestions -------------------------------------------------------------------


def test_a_speaking_face_is_suggested_for_review(invite: Invite, speaking_face_webm: Path) -> None:
    video = upload(invite, speaking_face_webm)
    assert video.suggested_tag == Tag.REVIEW
    assert video.suggestion_reasons[0].startswith("face visible 100% of the time, speaking ")
    assert video.suggestion_reasons[1].startswith("voice level ")
    assert video.analysis["speech_ratio"] > 0.5
    assert video.analysis["face_ratio"] == 1.0


def test_a_dark_silent_take_is_suggested_pass(invite: Invite, dark_silent_webm: Path) -> None:
    video = upload(invite, dark_silent_webm)
    assert video.suggested_tag == Tag.PASS
    assert video.suggestion_reasons == ["no speech detected", "camera covered or dark for 100% of the take"]


def test_a_tone_over_a_test_pattern_is_no_speech(invite: Invite, recorder_webm: Path) -> None:
    video = upload(invite, recorder_webm)
    assert video.suggested_tag == Tag.PASS
    assert video.suggestion_reasons == ["no speech detected"]
    assert video.analysis["face_ratio"] == 0.0


def test_the_suggestion_never_changes_the_tag(invite: Invite, dark_silent_webm: Path) -> None:
    video = upload(invite, dark_silent_webm)
    assert (video.tag, video.suggested_tag) == (Tag.PENDING, Tag.PASS)


# --- failures, with reasons --------------------------------------------------------


def process(video: Video) -> Video:
    processing.process(str(video.pk))
    video.refresh_from_db()
    return video


def test_a_corrupt_file_fails_with_a_reason(invite: Invite) -> None:
    garbage = b"\x1a\x45\xdf\xa3" + np.random.default_rng(3).bytes(50_000)
    video = process(store_video(invite, garbage))
    assert video.status == Status.FAILED
    assert video.failure_reason == "The video could not be read; it may be damaged or incomplete."
    assert stored_names(video) == ["original.webm"]


def test_a_file_without_picture_fails_with_a_reason(invite: Invite, tmp_path: Path) -> None:
    video = process(store_video(invite, make_audio_only(tmp_path / "sound.webm").read_bytes()))
    assert video.status == Status.FAILED
    assert video.failure_reason == "This file has no video in it."


def test_a_take_over_the_limit_fails_with_a_reason(
    invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    settings.AURIO_MAX_DURATION_SECONDS = 1
    settings.AURIO_DURATION_TOLERANCE_SECONDS = 1
    video = process(store_video(invite, recorder_webm.read_bytes()))
    assert video.status == Status.FAILED
    assert video.failure_reason == "The video is 0:03 long; the limit is 0:01."


def test_a_take_within_the_tolerance_is_processed(
    invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    settings.AURIO_MAX_DURATION_SECONDS = 2
    settings.AURIO_DURATION_TOLERANCE_SECONDS = 2
    assert process(store_video(invite, recorder_webm.read_bytes())).status == Status.READY


def test_a_missing_original_fails_with_a_reason(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    default_storage.delete(video.file.name)
    video = process(video)
    assert video.status == Status.FAILED
    assert video.failure_reason == "The original file is missing from storage; it can't be processed."


def test_a_cut_off_recording_is_processed_up_to_the_cut(invite: Invite, speaking_face_webm: Path) -> None:
    data = speaking_face_webm.read_bytes()
    video = process(store_video(invite, data[: len(data) * 6 // 10]))
    assert video.status == Status.READY
    assert 1.0 < video.duration_seconds < 4.0


# --- what the pages show -------------------------------------------------------------


def test_the_player_uses_the_rendition_and_poster_once_ready(
    staff_client: Client, invite: Invite, speaking_face_webm: Path
) -> None:
    video = upload(invite, speaking_face_webm)
    body = staff_client.get(video.get_absolute_url()).content.decode()
    assert f'src="{reverse("api:playback_video", args=[video.id])}"' in body
    assert f'poster="{reverse("api:video_poster", args=[video.id])}"' in body
    assert "face visible 100% of the time" in body


def test_the_player_uses_the_original_until_then(
    staff_client: Client, invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    video = upload(invite, recorder_webm)
    assert video.status == Status.UPLOADED
    body = staff_client.get(video.get_absolute_url()).content.decode()
    assert f'src="{reverse("api:stream_video", args=[video.id])}"' in body
    assert "poster=" not in body
    assert "the original is playing meanwhile" in body
    assert "when processing finishes" in body


def test_a_failed_video_shows_its_reason_and_plays_the_original(staff_client: Client, invite: Invite) -> None:
    video = process(store_video(invite, b"\x1a\x45\xdf\xa3" + b"\0" * 1000))
    body = staff_client.get(video.get_absolute_url()).content.decode()
    assert "failed — The video could not be read" in body
    assert f'src="{reverse("api:stream_video", args=[video.id])}"' in body
