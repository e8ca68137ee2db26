"""Phone takes are shown the way up they were filmed (issue 10, item 6).

A phone stores its sensor's landscape picture and a display matrix saying how
to turn it. The probe reports the picture as displayed; the rendition, the
poster and the frames the analysis looks at are turned.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django import Settings

from invites.models import Invite
from tests.support.factories import store_video
from tests.support.media import make_rotated
from videos import media, processing
from videos.models import Status, Video

pytestmark = pytest.mark.usefixtures("media_root")

# rotation in the file (degrees counter-clockwise) → where the stored picture's
# white top half is once the picture is shown upright
TURNS = [(-90, "mov", "right"), (90, "mp4", "left"), (180, "mp4", "bottom")]


def white_side(gray: np.ndarray) -> str:
    h, w = gray.shape[:2]
    halves = {
        "top": gray[: h // 2].mean(),
        "bottom": gray[h // 2 :].mean(),
        "left": gray[:, : w // 2].mean(),
        "right": gray[:, w // 2 :].mean(),
    }
    return max(halves, key=lambda side: halves[side])


def test_an_iphone_take_is_reported_portrait(tmp_path: Path) -> None:
    path = make_rotated(tmp_path / "iphone.mov", rotation=-90, size=(320, 240))
    with av.open(str(path)) as container:  # the premise: stored landscape
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
    info = media.probe(path)
    assert (info.width, info.height) == (240, 320)
    assert info.rotation == 270


def test_an_upright_take_is_listed_portrait_at_upload(
    client: Client, invite: Invite, tmp_path: Path, media_root: Path
) -> None:
    path = make_rotated(tmp_path / "iphone.mov", rotation=-90, size=(320, 240))
    file = SimpleUploadedFile("IMG_0001.MOV", path.read_bytes(), content_type="video/quicktime")
    response = client.post(f"/api/v1/upload/{invite.token}", {"file": file})
    assert response.status_code == 201, response.content
    video = Video.objects.get()
    assert (video.width, video.height) == (240, 320)
    # The remux that made the original seekable kept the display matrix.
    assert media.probe(media_root / (video.file.name or "")).rotation == 270


def process(invite: Invite, path: Path) -> Video:
    video = store_video(invite, path.read_bytes(), extension=path.suffix[1:])
    assert processing.process(str(video.pk)) == "ready"
    video.refresh_from_db()
    assert video.status == Status.READY
    return video


def read_stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


@pytest.mark.django_db
@pytest.mark.parametrize(("rotation", "fmt", "white"), TURNS)
def test_the_rendition_is_turned_upright(
    invite: Invite, tmp_path: Path, rotation: int, fmt: str, white: str
) -> None:
    video = process(invite, make_rotated(tmp_path / f"take.{fmt}", rotation=rotation, size=(320, 240)))
    upright = (240, 320) if rotation % 180 else (320, 240)
    assert (video.width, video.height) == upright
    assert (video.playback_width, video.playback_height) == upright
    local = tmp_path / "playback.mp4"
    local.write_bytes(read_stored(video.playback.name))
    with av.open(str(local)) as rendition:
        stream = rendition.streams.video[0]
        assert media.display_rotation(stream) == 0  # turned in the pixels, not by a matrix
        frame = next(rendition.decode(video=0))
    assert (frame.width, frame.height) == upright
    assert white_side(frame.to_ndarray(format="gray")) == white


@pytest.mark.django_db
@pytest.mark.parametrize(("rotation", "fmt", "white"), TURNS)
def test_the_poster_is_turned_upright(
    invite: Invite, tmp_path: Path, rotation: int, fmt: str, white: str
) -> None:
    video = process(invite, make_rotated(tmp_path / f"take.{fmt}", rotation=rotation, size=(320, 240)))
    poster = cv2.imdecode(np.frombuffer(read_stored(video.poster.name), np.uint8), cv2.IMREAD_GRAYSCALE)
    height, width = poster.shape
    assert (width, height) == ((240, 320) if rotation % 180 else (320, 240))
    assert white_side(poster) == white


@pytest.mark.django_db
def test_the_analysis_sees_the_face_upright(invite: Invite, tmp_path: Path, settings: Settings) -> None:
    path = make_rotated(tmp_path / "face.mov", rotation=-90, size=(640, 480), seconds=3, picture="face")
    video = process(invite, path)
    assert video.analysis["face_ratio"] > 0.5
