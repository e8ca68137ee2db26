"""Real media made with FFmpeg (through PyAV) for tests and benchmarks, and a
look at the packets of a file."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

DATA = Path(__file__).resolve().parent / "data"
AUDIO_RATE = 48_000


def make_video(
    path: Path,
    *,
    seconds: float = 3.0,
    fmt: str = "webm",
    size: tuple[int, int] = (320, 240),
    rate: int = 15,
    audio: bool = True,
    live: bool = False,
    fragmented: bool = False,
    bitrate: int | None = None,
    picture: str = "testsrc",
    sound: str = "tone",
    speaking: tuple[float, float] | None = None,
) -> Path:
    """Encode a video with a picture and a sound track of the given kinds.

    picture: "testsrc" (FFmpeg's test pattern), "camera" (a moving test
    pattern with sensor-like noise, for benchmarks), "dark" (a nearly black
    frame, as with a covered lens), or "face" (a real face on a plain
    background, see data/README.md).
    sound: "tone" (a 440 Hz sine: loud, but not speech), "speech" (synthetic
    voiced syllables, see `speechlike`), or "silence". `speaking=(start, end)`
    limits speech to that stretch, with silence around it.

    `live=True` writes WebM the way a browser's MediaRecorder does: no
    duration and no seek index. `fragmented=True` writes MP4 the way Safari's
    MediaRecorder does: an empty `moov` first, then a fragment per keyframe.
    """
    codec = {"webm": "libvpx", "mp4": "libx264", "matroska": "libvpx", "mov": "libx264"}[fmt]
    acodec = "libopus" if fmt in ("webm", "matroska") else "aac"
    options = {"live": "1"} if live else {}
    if fragmented:
        options["movflags"] = "frag_keyframe+empty_moov+default_base_moof"
    width, height = size
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vstream = out.add_stream(codec, rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        if bitrate:
            vstream.bit_rate = bitrate
        if codec == "libx264":
            vstream.options = {"preset": "ultrafast"}
        else:
            vstream.options = {"deadline": "realtime", "cpu-used": "8"}
        astream = out.add_stream(acodec, rate=AUDIO_RATE) if audio else None
        _encode(out, vstream, map(_unstamped, _pictures(picture, seconds, width, height, rate)))
        if astream is not None:
            _encode_sound(out, astream, _sounds(sound, seconds, speaking))
    return path


def _pictures(kind: str, seconds: float, width: int, height: int, rate: int) -> Iterator[av.VideoFrame]:
    if kind in ("testsrc", "camera"):
        source = "testsrc" if kind == "testsrc" else "testsrc2"
        graph = f"{source}=duration={seconds}:size={width}x{height}:rate={rate}"
        if kind == "camera":
            graph += ",noise=alls=3:allf=t"
        with av.open(graph, format="lavfi") as src:
            yield from src.decode(video=0)
        return
    count = round(seconds * rate)
    rng = np.random.default_rng(7)
    if kind == "dark":
        for _ in range(count):
            pixels = rng.integers(4, 14, size=(height, width, 3), dtype=np.uint8)
            yield av.VideoFrame.from_ndarray(pixels, format="rgb24")
        return
    if kind == "face":
        face = face_picture(round(height * 0.6))
        fh, fw = face.shape[:2]
        for i in range(count):
            pixels = np.full((height, width, 3), 170, dtype=np.uint8)
            drift = round((width - fw) / 2 + np.sin(i / rate) * width * 0.05)
            x = min(max(drift, 0), width - fw)
            y = (height - fh) // 2
            pixels[y : y + fh, x : x + fw] = face
            yield av.VideoFrame.from_ndarray(pixels, format="rgb24")
        return
    raise ValueError(f"unknown picture kind {kind!r}")


def face_picture(side: int) -> np.ndarray:
    """The test face (RGB), scaled to `side` pixels square."""
    with av.open(str(DATA / "face.jpg")) as src:
        frame = next(src.decode(video=0))
    return frame.reformat(width=side, height=side, format="rgb24").to_ndarray()


def _sounds(kind: str, seconds: float, speaking: tuple[float, float] | None) -> Iterator[av.AudioFrame]:
    if kind == "tone":
        with av.open(
            f"sine=frequency=440:duration={seconds}:sample_rate={AUDIO_RATE}", format="lavfi"
        ) as src:
            yield from src.decode(audio=0)
        return
    if kind == "speech":
        start, end = speaking or (0.0, seconds)
        samples = np.zeros(round(seconds * AUDIO_RATE), dtype=np.float32)
        voice = speechlike(end - start)
        at = round(start * AUDIO_RATE)
        samples[at : at + len(voice)] = voice[: len(samples) - at]
    elif kind == "silence":
        samples = np.zeros(round(seconds * AUDIO_RATE), dtype=np.float32)
    else:
        raise ValueError(f"unknown sound kind {kind!r}")
    step = 1024
    for i in range(0, len(samples), step):
        chunk = samples[i : i + step].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = AUDIO_RATE
        yield frame


# Formants (Hz) of a few vowels: a, i, u, e, o.
_VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410)]


def speechlike(seconds: float, *, seed: int = 1, level: float = 0.3) -> np.ndarray:
    """Synthetic speech: words of 1-4 syllables with pauses between them.

    Each syllable is a voiced vowel (a glottal pulse train at a wandering
    pitch around 120 Hz, shaped by three formant resonances and the
    voice's high-frequency roll-off) after a short fricative burst. That is what
    a voice activity detector looks for, and unlike a tone it rises and falls
    at syllable rate. (No recorded speech ships in a pip wheel, and espeak is a
    system package.)
    """
    rng = np.random.default_rng(seed)
    total = round(seconds * AUDIO_RATE)
    out = np.zeros(total)
    t = 0.0
    while t < seconds - 0.3:
        for _ in range(int(rng.integers(1, 5))):
            duration = rng.uniform(0.15, 0.28)
            if t + duration > seconds:
                break
            i0 = round(t * AUDIO_RATE)
            m = round(duration * AUDIO_RATE)
            times = np.arange(m) / AUDIO_RATE
            pitch = (
                120 * rng.uniform(0.85, 1.2) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * times))
            )
            phase = np.cumsum(pitch / AUDIO_RATE)
            pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
            pulses += 0.02 * rng.standard_normal(m)
            freqs = np.fft.rfftfreq(m, 1 / AUDIO_RATE)
            gain = np.zeros_like(freqs)
            for formant, bandwidth in zip(
                _VOWELS[int(rng.integers(len(_VOWELS)))], (80, 100, 140), strict=True
            ):
                gain += 1 / np.sqrt(1 + ((freqs - formant) / (bandwidth / 2)) ** 2)
            gain /= 1 + freqs / 150
            vowel = np.fft.irfft(np.fft.rfft(pulses) * gain, m)
            vowel /= np.sqrt(np.mean(vowel**2)) + 1e-12
            vowel *= np.sin(np.pi * np.arange(m) / m) ** 0.7
            c = round(0.05 * AUDIO_RATE)
            hiss = np.fft.irfft(
                np.fft.rfft(rng.standard_normal(c)) * (np.fft.rfftfreq(c, 1 / AUDIO_RATE) > 2500), c
            )
            vowel[:c] += hiss * 0.15 / (np.sqrt(np.mean(hiss**2)) + 1e-12) * np.hanning(c)
            out[i0 : i0 + m] += vowel[: total - i0]
            t += duration + rng.uniform(0.02, 0.06)
        t += rng.uniform(0.15, 0.4)
    peak = np.max(np.abs(out)) or 1.0
    return (out / peak * level).astype(np.float32)


def make_audio_only(path: Path, *, seconds: float = 2.0) -> Path:
    """A WebM with a sound track and no picture."""
    with av.open(str(path), "w", format="webm") as out:
        astream = out.add_stream("libopus", rate=AUDIO_RATE)
        _encode_sound(out, astream, _sounds("tone", seconds, None))
    return path


def make_obs_mkv(
    path: Path,
    *,
    seconds: float = 3.0,
    size: tuple[int, int] = (320, 240),
    rate: int = 30,
    audio: bool = True,
) -> Path:
    """A Matroska file as OBS and other desktop recorders write it: H.264 with
    B-frames (x264's "medium" preset, 3 B-frames) and AAC sound.

    FFmpeg's Matroska demuxer gives the first packets of such a stream (the
    keyframe among them) no DTS: Matroska stores presentation times only.
    """
    width, height = size
    with av.open(str(path), "w", format="matroska") as out:
        vstream = out.add_stream("libx264", rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"preset": "medium", "bf": "3"}
        vstream.codec_context.gop_size = 2 * rate
        astream = out.add_stream("aac", rate=AUDIO_RATE) if audio else None
        _encode(out, vstream, map(_untyped, _timed(_pictures("testsrc", seconds, width, height, rate), rate)))
        if astream is not None:
            _encode_sound(out, astream, _sounds("tone", seconds, None))
    return path


def _unstamped(frame: av.VideoFrame) -> av.VideoFrame:
    """The frame as a yuv420p picture with no time of its own (the encoder counts)."""
    frame.pts = None
    return frame.reformat(format="yuv420p")


def _untyped(picture: av.VideoFrame) -> av.VideoFrame:
    """A decoded frame says "I"; x264 would make every such frame a keyframe."""
    picture.pict_type = av.video.frame.PictureType.NONE
    return picture


def _timed(frames: Iterable[av.VideoFrame], rate: int) -> Iterator[av.VideoFrame]:
    """Each frame as a yuv420p picture, 1/`rate` s after the one before, from 0."""
    for i, frame in enumerate(frames):
        picture = frame.reformat(format="yuv420p")
        picture.pts, picture.time_base = i, Fraction(1, rate)
        yield picture


def _encode(
    out: av.container.OutputContainer, stream: av.VideoStream | av.AudioStream, frames: Iterable[Any]
) -> None:
    """Encode `frames` into `stream` and flush its encoder, muxing every packet into `out`."""
    for frame in frames:
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def _encode_sound(
    out: av.container.OutputContainer, astream: av.AudioStream, frames: Iterator[av.AudioFrame]
) -> None:
    resampler = av.AudioResampler(format=astream.format.name, layout="mono", rate=AUDIO_RATE)

    def timed() -> Iterator[av.AudioFrame]:
        pts = 0
        for frame in frames:
            for rframe in resampler.resample(frame):
                rframe.pts, rframe.time_base = pts, Fraction(1, AUDIO_RATE)
                pts += rframe.samples
                yield rframe

    _encode(out, astream, timed())


def make_avi(path: Path, *, seconds: float, size: tuple[int, int] = (64, 48), rate: int = 5) -> Path:
    """An AVI (MPEG-4 part 2 video, no sound), as old cameras and screen recorders write."""
    width, height = size
    with av.open(str(path), "w", format="avi") as out:
        vstream = out.add_stream("mpeg4", rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        _encode(out, vstream, _timed(_pictures("testsrc", seconds, width, height, rate), rate))
    return path


def lie_about_length(path: Path, *, seconds: float) -> Path:
    """Rewrite an AVI's headers to claim `seconds` of video, leaving its frames
    alone: the main header's dwTotalFrames and every stream header's dwLength
    (OpenDML's dmlh dwGrandFrames too, when there is one)."""
    data = bytearray(path.read_bytes())

    def dword(at: int) -> int:
        return int.from_bytes(data[at : at + 4], "little")

    def put(at: int, value: int) -> None:
        data[at : at + 4] = value.to_bytes(4, "little")

    avih = data.index(b"avih") + 8
    micro_seconds_per_frame = dword(avih)
    frames = round(seconds * 1_000_000 / micro_seconds_per_frame)
    put(avih + 16, frames)  # dwTotalFrames
    at = 0
    while (at := data.find(b"strh", at)) != -1:
        strh = at + 8
        scale, rate = dword(strh + 20), dword(strh + 24)  # dwScale, dwRate: units per second
        put(strh + 32, round(seconds * rate / scale))  # dwLength
        at = strh
    if (dmlh := data.find(b"dmlh")) != -1:
        put(dmlh + 8, frames)  # dwGrandFrames
    path.write_bytes(bytes(data))
    return path


def make_rotated(
    path: Path,
    *,
    rotation: int,
    size: tuple[int, int] = (320, 240),
    seconds: float = 1.0,
    picture: str = "halves",
) -> Path:
    """A phone-style MP4 or MOV (by the name's extension): the picture is
    stored `size` (landscape, as the sensor sees it) with a display matrix
    that turns it `rotation` degrees counter-clockwise for display (-90, a
    quarter turn clockwise, is what an iPhone held upright writes).

    picture: "halves" (the top half of the *stored* picture white, the bottom
    black, so where the white ends up shows the turn) or "face" (a face that
    is upright only once the turn is applied).
    """
    width, height = size
    rate = 10
    fmt = "mov" if path.suffix == ".mov" else "mp4"
    turns = -rotation // 90  # np.rot90 turns counter-clockwise; the file's matrix undoes it
    if picture == "halves":
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        pixels[: height // 2] = 255
        stored = [pixels] * round(seconds * rate)
    else:
        upright = (height, width) if turns % 2 else (width, height)
        stored = [
            np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), turns))
            for frame in _pictures(picture, seconds, *upright, rate)
        ]
    with av.open(str(path), "w", format=fmt) as out:
        vstream = out.add_stream("libx264", rate=rate)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"preset": "ultrafast"}
        vstream.set_display_rotation(rotation)
        astream = out.add_stream("aac", rate=AUDIO_RATE)
        _encode(out, vstream, _timed((av.VideoFrame.from_ndarray(p, format="rgb24") for p in stored), rate))
        _encode_sound(out, astream, _sounds("tone", seconds, None))
    return path


def make_huge(path: Path, *, size: tuple[int, int] = (16000, 16000), frames: int = 2) -> Path:
    """A decompression bomb: a few black frames of a huge picture, H.264 in MP4.

    16000×16000 makes a 750 KB file whose frames take 384 MB each once decoded.
    """
    width, height = size
    with av.open(str(path), "w", format="mp4") as out:
        vstream = out.add_stream("libx264", rate=30)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"preset": "ultrafast", "threads": "1"}
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        _encode(out, vstream, _timed(itertools.repeat(frame, frames), 30))  # the one frame, not copied
    return path


def packets_of(path: Path) -> dict[str, tuple[int, float | None, float]]:
    """Per stream kind ("video", "audio"): how many packets with data, the
    first presentation time (seconds) and the length from first to last."""
    found: dict[str, list[float | None]] = {}
    counts: dict[str, int] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if not packet.size:
                continue
            kind = packet.stream.type
            counts[kind] = counts.get(kind, 0) + 1
            t = packet.pts if packet.pts is not None else packet.dts
            if t is not None and packet.time_base is not None:
                found.setdefault(kind, []).append(float(t * packet.time_base))
    result: dict[str, tuple[int, float | None, float]] = {}
    for kind, count in counts.items():
        times = [t for t in found.get(kind, []) if t is not None]
        result[kind] = (count, min(times) if times else None, max(times) - min(times) if times else 0.0)
    return result
