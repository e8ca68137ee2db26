"""A file cut into millions of tiny packets: a few MB that would hold a web
process's CPU for minutes while it is probed (found by an outside probe: 7.8 MB
took 23 s, 30 MB 125 s and 140 MB of memory). It is refused as soon as it
passes the packet budget."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from aurio.errors import Refused
from invites.models import Invite
from tests.support.media import make_video
from uploads.accept import video_accept_upload
from videos import media
from videos.models import Video


def make_packet_storm(path: Path, *, seconds: int = 110, rate: int = 8000, tracks: int = 2) -> Path:
    """A 64×48 picture at 1 fps and PCM sound tracks of one sample per packet."""
    with av.open(str(path), "w", format="matroska") as out:
        picture = out.add_stream("libx264", rate=1)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        picture.options = {"preset": "ultrafast"}
        sounds = [out.add_stream("pcm_s16le", rate=rate) for _ in range(tracks)]
        for sound in sounds:
            sound.layout = "mono"
        frame = av.VideoFrame(64, 48, "yuv420p")
        for second in range(seconds):
            frame.pts, frame.time_base = second, Fraction(1, 1)
            for packet in picture.encode(frame):
                out.mux(packet)
        for packet in picture.encode():
            out.mux(packet)
        for sound in sounds:
            for i in range(rate * seconds):
                packet = av.Packet(b"\0\0")
                packet.pts = packet.dts = i
                packet.time_base = Fraction(1, rate)
                packet.stream = sound
                out.mux(packet)
    return path


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_packet_storm(tmp_path_factory.mktemp("storm") / "storm.mkv")


def test_a_file_of_millions_of_tiny_packets_is_refused_quickly(storm: Path) -> None:
    started = time.monotonic()
    with pytest.raises(media.OverBudget, match="far more pieces"):
        media.probe(storm)
    # Not a speed test: the budget stops the demux after a few percent of the file.
    assert time.monotonic() - started < 10


@pytest.mark.django_db
def test_the_packet_storm_is_a_422_at_upload_and_nothing_is_stored(invite: Invite, storm: Path) -> None:
    upload = SimpleUploadedFile("storm.mkv", storm.read_bytes(), "video/x-matroska")
    with pytest.raises(Refused, match="far more pieces") as refused:
        video_accept_upload(invite=invite, upload=upload)
    assert refused.value.status == 422
    assert not Video.objects.exists()


def test_a_long_ordinary_take_is_within_the_packet_budget(tmp_path: Path) -> None:
    take = make_video(tmp_path / "long.webm", seconds=118, size=(64, 48), rate=60, live=True)
    assert media.probe(take).duration_seconds == pytest.approx(118, abs=0.5)
