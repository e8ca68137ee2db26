"""The remux keeps every packet or refuses (issue 10, item 1).

OBS and other desktop recorders write H.264 with B-frames in Matroska. FFmpeg's
Matroska demuxer gives the first packets of such a stream no DTS (Matroska
stores presentation times only), the keyframe among them; a remux that skips
them throws away the start of the take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from invites.models import Invite
from tests.support.media import make_obs_mkv, packets_of
from videos import media
from videos.models import Video


@pytest.fixture(scope="session")
def obs_mkv(media_dir: Path) -> Path:
    return make_obs_mkv(media_dir / "obs.mkv", seconds=3)


@pytest.fixture(scope="session")
def obs_three_frames(media_dir: Path) -> Path:
    """So short that the demuxer gives none of its video packets a DTS."""
    return make_obs_mkv(media_dir / "obs-3-frames.mkv", seconds=0.1, audio=False)


def upload(client: Client, invite: Invite, path: Path) -> HttpResponse:
    file = SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/x-matroska")
    return client.post(f"/api/v1/upload/{invite.token}", {"file": file})


def stored_path(media_root: Path, video: Video) -> Path:
    return media_root / (video.file.name or "")


# --- the premise ---------------------------------------------------------------------


def test_matroska_gives_the_first_packets_of_a_b_frame_stream_no_dts(obs_mkv: Path) -> None:
    with av.open(str(obs_mkv)) as container:
        video = [p for p in container.demux(video=0) if p.size]
    assert video[0].is_keyframe and video[0].dts is None


# --- the remux itself ------------------------------------------------------------------


def test_remux_of_obs_matroska_keeps_every_packet(obs_mkv: Path, tmp_path: Path) -> None:
    target = tmp_path / "seekable.mkv"
    assert media.remux(obs_mkv, target, media.MATROSKA)
    assert packets_of(target) == packets_of(obs_mkv)
    assert packets_of(target)["video"][0] == 90  # 3 s at 30 frames a second


def test_remux_of_a_file_whose_packets_all_lack_dts_keeps_them_or_refuses(
    obs_three_frames: Path, tmp_path: Path
) -> None:
    with av.open(str(obs_three_frames)) as container:
        assert all(p.dts is None for p in container.demux() if p.size)  # the premise
    target = tmp_path / "seekable.mkv"
    if media.remux(obs_three_frames, target, media.MATROSKA):
        assert packets_of(target) == packets_of(obs_three_frames)
    else:
        assert not target.exists()


class _LosingMuxer:
    """An output container whose muxer silently loses every tenth packet."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._count = 0

    def __enter__(self) -> _LosingMuxer:
        self._real.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def mux(self, packet: av.Packet) -> None:
        self._count += 1
        if self._count % 10:
            self._real.mux(packet)


@pytest.fixture
def losing_muxer(monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = av.open

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        container = real_open(file, mode, *args, **kwargs)
        return _LosingMuxer(container) if mode == "w" else container

    monkeypatch.setattr(media.av, "open", open_)


def test_a_remux_that_loses_packets_is_refused_and_its_output_removed(
    obs_mkv: Path, tmp_path: Path, losing_muxer: None
) -> None:
    target = tmp_path / "seekable.mkv"
    assert media.remux(obs_mkv, target, media.MATROSKA) is False
    assert not target.exists()


# --- through the upload ---------------------------------------------------------------


def test_an_obs_matroska_upload_is_stored_with_every_packet(
    client: Client, invite: Invite, obs_mkv: Path, media_root: Path
) -> None:
    response = upload(client, invite, obs_mkv)
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["videoId"])
    stored = stored_path(media_root, video)
    assert packets_of(stored) == packets_of(obs_mkv)
    count, first_pts, _ = packets_of(stored)["video"]
    assert (count, first_pts) == (90, 0.0)
    assert video.duration_seconds == pytest.approx(3.0, abs=0.1)
    with av.open(str(stored)) as container:
        assert container.duration / av.time_base == pytest.approx(3.0, abs=0.1)


def test_an_upload_whose_packets_all_lack_dts_is_stored_whole(
    client: Client, invite: Invite, obs_three_frames: Path, media_root: Path
) -> None:
    response = upload(client, invite, obs_three_frames)
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["videoId"])
    assert packets_of(stored_path(media_root, video)) == packets_of(obs_three_frames)
    assert packets_of(obs_three_frames)["video"][0] == 3


def test_when_the_remux_loses_packets_the_upload_keeps_the_received_bytes(
    client: Client, invite: Invite, obs_mkv: Path, media_root: Path, losing_muxer: None
) -> None:
    response = upload(client, invite, obs_mkv)
    assert response.status_code == 201, response.content
    video = Video.objects.get(pk=response.json()["videoId"])
    assert stored_path(media_root, video).read_bytes() == obs_mkv.read_bytes()
    assert video.size == obs_mkv.stat().st_size
