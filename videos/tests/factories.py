"""Real media made with FFmpeg (through PyAV) for tests and benchmarks."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av


def make_video(
    path: Path,
    *,
    seconds: float = 3.0,
    fmt: str = "webm",
    size: tuple[int, int] = (320, 240),
    rate: int = 15,
    audio: bool = True,
    live: bool = False,
    bitrate: int | None = None,
) -> Path:
    """Encode a test-pattern video with a sine tone.

    `live=True` writes WebM the way a browser's MediaRecorder does: no
    duration and no seek index.
    """
    codec = {"webm": "libvpx", "mp4": "libx264", "matroska": "libvpx", "mov": "libx264"}[fmt]
    acodec = "libopus" if fmt in ("webm", "matroska") else "aac"
    options = {"live": "1"} if live else {}
    width, height = size
    src = av.open(f"testsrc=duration={seconds}:size={width}x{height}:rate={rate}", format="lavfi")
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vstream = out.add_stream(codec, rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        if bitrate:
            vstream.bit_rate = bitrate
        if codec == "libx264":
            vstream.options = {"preset": "ultrafast"}
        else:
            vstream.options = {"deadline": "realtime", "cpu-used": "8"}
        astream = out.add_stream(acodec, rate=48000) if audio else None
        for frame in src.decode(video=0):
            frame.pts = None
            for packet in vstream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in vstream.encode():
            out.mux(packet)
        if astream is not None:
            tone = av.open(f"sine=frequency=440:duration={seconds}:sample_rate=48000", format="lavfi")
            resampler = av.AudioResampler(format=astream.format.name, layout="mono", rate=48000)
            pts = 0
            for frame in tone.decode(audio=0):
                for rframe in resampler.resample(frame):
                    rframe.pts = pts
                    rframe.time_base = Fraction(1, 48000)
                    pts += rframe.samples
                    for packet in astream.encode(rframe):
                        out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
            tone.close()
    src.close()
    return path
