"""A take's length is measured from its packets, never taken from the header,
and no transcode runs past the limit (issue 10, item 5).

The lying file is a real AVI whose headers are then rewritten to claim 30 s
(avih dwTotalFrames, strh dwLength) while it holds 10 minutes of frames.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django import Settings

from invites.models import Invite, InviteStatus
from tests.support.factories import store_video, stored_names
from tests.support.media import lie_about_length, make_avi, make_video
from videos import media, processing, transcode
from videos.models import Status, Video

TEN_MINUTES = 600


@pytest.fixture(scope="session")
def lying_avi(media_dir: Path) -> Path:
    path = make_avi(media_dir / "ten-minutes.avi", seconds=TEN_MINUTES)
    return lie_about_length(path, seconds=30)


def test_the_lying_avi_says_30_seconds_in_its_header(lying_avi: Path) -> None:
    with av.open(str(lying_avi)) as container:  # the premise
        assert container.duration / av.time_base == pytest.approx(30)


def test_probe_measures_the_length_from_the_packets(lying_avi: Path) -> None:
    assert media.probe(lying_avi).duration_seconds == pytest.approx(TEN_MINUTES, abs=0.5)


def test_a_header_that_lies_about_the_length_is_refused_at_upload(
    client: Client, invite: Invite, lying_avi: Path, media_root: Path
) -> None:
    file = SimpleUploadedFile("answer.avi", lying_avi.read_bytes(), content_type="video/x-msvideo")
    response = client.post(f"/api/v1/upload/{invite.token}", {"file": file})
    assert response.status_code == 422
    assert response.json() == {"detail": "The video is 10:00 long; the limit is 2:00."}
    assert not Video.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]
    invite.refresh_from_db()
    assert invite.status != InviteStatus.SUBMITTED


@pytest.fixture(scope="session")
def twenty_seconds(media_dir: Path) -> Path:
    return make_video(media_dir / "twenty-seconds.webm", seconds=20, size=(160, 120), rate=10, live=True)


def test_a_transcode_stops_at_the_limit(twenty_seconds: Path, tmp_path: Path) -> None:
    with pytest.raises(transcode.TooLong) as stopped:
        transcode.transcode(twenty_seconds, tmp_path, max_seconds=5)
    assert 5 < stopped.value.seconds < 5.5  # the first frame past the limit, not the end
    # What was encoded before it stopped holds no more than the limit.
    with av.open(str(tmp_path / "playback.mp4")) as rendition:
        times = [float(p.pts * p.time_base) for p in rendition.demux(video=0) if p.size]
    assert max(times) <= 5


@pytest.mark.django_db
def test_processing_stops_at_the_limit_whatever_the_probe_said(
    invite: Invite, twenty_seconds: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.AURIO_MAX_DURATION_SECONDS, settings.AURIO_DURATION_TOLERANCE_SECONDS = 4, 1
    real_probe = media.probe

    def fooled(path: Path, **kwargs: object) -> media.MediaInfo:
        info = real_probe(path)
        return media.MediaInfo(**{**info.__dict__, "duration_seconds": 3.0})

    monkeypatch.setattr(media, "probe", fooled)
    video = store_video(invite, twenty_seconds.read_bytes())
    assert processing.process(str(video.pk)) == "failed"
    video.refresh_from_db()
    assert video.status == Status.FAILED
    assert video.failure_reason == "The video runs longer than the limit of 0:04."
    assert stored_names(video) == ["original.webm"]
