from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.support.media import make_video
from videos import media


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00", "video/3gpp"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
        (b"OggS\x00\x02", "video/ogg"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
    ],
)
def test_containers_are_known_by_their_signature(head: bytes, content_type: str) -> None:
    assert media.sniff(head).content_type == content_type


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"%PDF-1.7",
        b"<html><body>",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"ID3\x03",
    ],
)
def test_other_content_is_not_a_video(head: bytes) -> None:
    with pytest.raises(media.NotAVideo):
        media.sniff(head)


def test_recorder_webm_has_no_duration_until_remuxed(recorder_webm: Path, tmp_path: Path) -> None:
    with av.open(str(recorder_webm)) as container:
        assert container.duration is None
    target = tmp_path / "seekable.webm"
    assert media.remux(recorder_webm, target, media.WEBM)
    with av.open(str(target)) as container:
        assert container.duration / av.time_base == pytest.approx(3.0, abs=0.1)


def test_probe_measures_recorder_webm_from_its_packets(recorder_webm: Path) -> None:
    info = media.probe(recorder_webm)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert (info.width, info.height) == (320, 240)
    assert (info.video_codec, info.audio_codec) == ("vp8", "opus")


def test_remux_keeps_every_packet(recorder_webm: Path, tmp_path: Path) -> None:
    target = tmp_path / "seekable.webm"
    media.remux(recorder_webm, target, media.WEBM)

    def packets(path: Path) -> list[tuple[int, int | None, bytes]]:
        with av.open(str(path)) as container:
            return [(p.stream.index, p.pts, bytes(p)) for p in container.demux() if p.dts is not None]

    assert packets(target) == packets(recorder_webm)


def test_mp4_is_rewritten_with_its_index_first(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", seconds=1, fmt="mp4")
    target = tmp_path / "out.mp4"
    media.remux(source, target, media.MP4)
    assert top_level_boxes(target).index(b"moov") < top_level_boxes(target).index(b"mdat")


def top_level_boxes(path: Path) -> list[bytes]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8])
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        offset += size or len(data)
    return boxes


def test_formats_without_a_muxer_are_left_alone(tmp_path: Path) -> None:
    assert media.remux(tmp_path / "x.avi", tmp_path / "y.avi", media.AVI) is False


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "voice.webm"
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000)
        src = av.open("sine=duration=1:sample_rate=48000", format="lavfi")
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=48000)
        for frame in src.decode(audio=0):
            for rframe in resampler.resample(frame):
                rframe.pts = None
                for packet in stream.encode(rframe):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(media.NotAVideo):
        media.probe(path)


def test_truncated_video_is_unreadable(recorder_webm: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.webm"
    broken.write_bytes(recorder_webm.read_bytes()[:60])
    with pytest.raises((media.UnreadableVideo, media.NotAVideo)):
        media.probe(broken)
