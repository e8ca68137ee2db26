"""One decoding pass over a take: the MP4 rendition, the poster and the analysis.

The original is decoded once, frame by frame. Each picture is encoded to
H.264 and, twice a second, scaled down and handed to the picture analyser
(the best-looking of those becomes the poster); the sound is encoded to AAC
and, resampled to 16 kHz mono, handed to the speech analyser. Nothing holds
more than a few frames at a time, so memory stays flat however long the take.

FFmpeg comes through PyAV's wheels (libx264 for H.264, FFmpeg's own AAC).

Given `limits`, the pass runs in a child process (`python -m videos.transcode`)
held to an address-space limit (RLIMIT_AS) and a wall-clock limit: a file
that needs more (a decompression bomb, a decoder gone astray) fails alone and
the worker goes on. The child reports its progress as JSON lines, so the
worker keeps the video's heartbeat going while it waits.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import cv2
import numpy as np

from videos import analysis
from videos.media import OverBudget, UnreadableVideo, display_rotation

log = logging.getLogger(__name__)

MAX_LONG_SIDE = 1920
MAX_SHORT_SIDE = 1080
POSTER_MAX_WIDTH = 1280
VIDEO_TIME_BASE = Fraction(1, 90_000)
AUDIO_RATE = 48_000
# x264: "veryfast" is the usual speed/size balance for on-the-fly renditions;
# CRF 23 is its default quality; a keyframe every 2 s keeps seeking snappy.
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "profile": "high"}
KEYFRAME_SECONDS = 2
# CRF alone spends what noisy webcam pictures ask for (more than the browser's
# own recording); a cap by picture size keeps renditions no larger than needed.
MAX_KBITS = [(640 * 480, 1_200), (1280 * 720, 2_500), (1920 * 1080, 5_000)]
# A few damaged packets are skipped; more than this and the file is unreadable.
MAX_BAD_PACKETS = 25


class NoPicture(UnreadableVideo):
    """Not one frame of the video stream could be decoded."""


class TooLong(UnreadableVideo):
    """The pictures or sound run past the limit; decoding stopped there.

    `seconds` is where the first frame past the limit begins.
    """

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass(frozen=True)
class Outputs:
    playback: Path
    poster: Path
    width: int
    height: int
    seconds: float
    has_audio: bool
    findings: analysis.Findings


def playback_size(width: int, height: int) -> tuple[int, int]:
    """The rendition's picture size: at most 1080p either way up, even sides."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, MAX_LONG_SIDE / long_side, MAX_SHORT_SIDE / short_side)
    w, h = round(width * scale), round(height * scale)
    return max(2, w - w % 2), max(2, h - h % 2)


def _rate_cap(width: int, height: int) -> dict[str, str]:
    kbits = next((rate for pixels, rate in MAX_KBITS if width * height <= pixels), MAX_KBITS[-1][1])
    return {"maxrate": f"{kbits}k", "bufsize": f"{2 * kbits}k"}


def _frame_rate(stream: av.VideoStream) -> Fraction:
    found = stream.average_rate or stream.guessed_rate
    rate = Fraction(found.numerator, found.denominator) if found else Fraction(0)
    # Recorders' WebM has no real frame rate; x264 only uses it for rate control.
    return rate if 1 <= rate <= 120 else Fraction(30)


def _scaled(width: int, height: int, target_height: int) -> tuple[int, int]:
    if height <= target_height:
        return width - width % 2 or 2, height - height % 2 or 2
    w = round(width * target_height / height)
    return max(2, w - w % 2), target_height


def transcode(
    source: Path,
    workdir: Path,
    *,
    progress: Callable[[float], None] | None = None,
    max_seconds: float | None = None,
    max_pixels: int | None = None,
    limits: Limits | None = None,
) -> Outputs:
    """Decode `source` once; write playback.mp4 and poster.jpg into `workdir`.

    A frame that begins past `max_seconds` stops the pass with TooLong,
    whatever the probe measured: a length limit is also a limit on the work.
    Pictures above `max_pixels` are refused (OverBudget), including ones that
    grow mid-stream. With `limits`, the pass runs in a child process held to
    them (OverLimit when it needs more).
    """
    if limits is not None:
        return _in_child(
            source, workdir, limits=limits, progress=progress, max_seconds=max_seconds, max_pixels=max_pixels
        )
    target = workdir / "playback.mp4"
    poster_path = workdir / "poster.jpg"
    try:
        src = av.open(str(source))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UnreadableVideo("The video could not be read; it may be damaged or incomplete.") from exc
    with src:
        vin = next(iter(src.streams.video), None)
        if vin is None:
            raise UnreadableVideo("This file has no video in it.")
        ain = next(iter(src.streams.audio), None)
        vin.thread_type = "AUTO"
        width, height = vin.codec_context.width, vin.codec_context.height
        if not width or not height:
            raise UnreadableVideo("The video has no picture size; it may be damaged.")
        if max_pixels:
            if width * height > max_pixels:
                raise OverBudget(f"The video is {width}×{height} pixels, more than this server processes.")
            # The decoder refuses to allocate larger pictures, should the stream grow.
            vin.codec_context.options = {"max_pixels": str(max_pixels)}
        # Phones store the sensor's picture and say how to turn it for display;
        # every picture made here (rendition, poster, analysis) is turned upright.
        turns = display_rotation(vin) // 90
        if turns % 2:
            width, height = height, width
        out_w, out_h = playback_size(width, height)
        rate = _frame_rate(vin)
        origin = (src.start_time or 0) / av.time_base

        with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
            vout = dst.add_stream("libx264", rate=rate)
            vout.width, vout.height, vout.pix_fmt = out_w, out_h, "yuv420p"
            vout.codec_context.time_base = VIDEO_TIME_BASE
            vout.time_base = VIDEO_TIME_BASE
            vout.codec_context.gop_size = max(1, round(float(rate) * KEYFRAME_SECONDS))
            vout.codec_context.options = {**X264_OPTIONS, **_rate_cap(out_w, out_h)}
            aout = None
            encode_resampler = speech_resampler = None
            if ain is not None:
                layout = "mono" if ain.codec_context.channels == 1 else "stereo"
                aout = dst.add_stream("aac", rate=AUDIO_RATE)
                aout.layout = layout
                aout.bit_rate = 96_000 if layout == "mono" else 128_000
                encode_resampler = av.AudioResampler(format="fltp", layout=layout, rate=AUDIO_RATE)
                speech_resampler = av.AudioResampler(format="s16", layout="mono", rate=analysis.AUDIO_RATE)

            state = _PassState(
                width=width,
                height=height,
                turns=turns,
                origin=origin,
                progress=progress,
                max_seconds=max_seconds,
            )
            streams = [s for s in (vin, ain) if s is not None]
            packets = src.demux(*streams)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.error.MemoryError:
                    raise  # not a cut-off end: the limit, see _in_child
                except av.error.FFmpegError as exc:
                    if not state.pictures:
                        raise UnreadableVideo(
                            "The video could not be read; it may be damaged or incomplete."
                        ) from exc
                    # A cut-off end: keep what was recorded up to it.
                    log.warning("%s: stopped reading at %.1f s: %s", source, state.last_seconds, exc)
                    break
                try:
                    frames = packet.decode()
                except av.error.MemoryError:
                    raise
                except av.error.FFmpegError:
                    state.bad_packets += 1
                    if state.bad_packets > MAX_BAD_PACKETS:
                        raise UnreadableVideo(
                            "The video could not be read; it may be damaged or incomplete."
                        ) from None
                    continue
                for frame in frames:
                    if isinstance(frame, av.VideoFrame):
                        state.video_frame(frame, dst, vout)
                    elif isinstance(frame, av.AudioFrame) and aout is not None:
                        assert encode_resampler is not None and speech_resampler is not None
                        state.audio_frame(frame, dst, aout, encode_resampler, speech_resampler)
            if not state.pictures:
                raise NoPicture("Not one picture could be decoded from this video; it may be damaged.")
            for packet in vout.encode():
                dst.mux(packet)
            if aout is not None:
                assert encode_resampler is not None and speech_resampler is not None
                state.flush_audio(dst, aout, encode_resampler, speech_resampler)

    state.write_poster(poster_path)
    findings = analysis.Findings(
        has_audio=ain is not None,
        sound=state.sound.findings(),
        picture=state.picture.findings(),
    )
    return Outputs(
        playback=target,
        poster=poster_path,
        width=out_w,
        height=out_h,
        seconds=state.last_seconds,
        has_audio=ain is not None,
        findings=findings,
    )


class _PassState:
    """What the single pass keeps between frames: a few counters and one candidate poster."""

    def __init__(
        self,
        *,
        width: int,
        height: int,
        turns: int = 0,
        origin: float,
        progress: Callable[[float], None] | None,
        max_seconds: float | None = None,
    ) -> None:
        self.turns = turns
        self.origin = origin
        self.progress = progress
        self.max_seconds = max_seconds
        self.analysis_size = _scaled(width, height, analysis.ANALYSIS_HEIGHT)
        pw = min(width, POSTER_MAX_WIDTH)
        self.poster_size = _scaled(width, height, round(height * pw / width))
        self.picture = analysis.PictureAnalyser()
        self.sound = analysis.SoundAnalyser()
        self.pictures = 0
        self.bad_packets = 0
        self.last_pts = -1
        self.last_seconds = 0.0
        self.audio_samples = 0
        self.audio_start: int | None = None
        self.best_score = -1.0
        self.best_poster: np.ndarray | None = None
        self._last_progress = time.monotonic()

    def _seconds(self, frame: av.frame.Frame, fallback: float) -> float:
        t = frame.time
        seconds = fallback if t is None else max(0.0, t - self.origin)
        if self.max_seconds is not None and seconds > self.max_seconds:
            raise TooLong(f"The video runs past {self.max_seconds:g} s; processing stopped there.", seconds)
        return seconds

    def video_frame(
        self, frame: av.VideoFrame, dst: av.container.OutputContainer, vout: av.VideoStream
    ) -> None:
        seconds = self._seconds(frame, self.last_seconds + 1 / 30)
        pts = round(seconds / VIDEO_TIME_BASE)
        if pts <= self.last_pts:  # recorders sometimes repeat a timestamp
            pts = self.last_pts + 1
        self.last_pts = pts
        self.last_seconds = seconds
        self.pictures += 1

        if self.picture.due(seconds):
            small = self._upright_bgr(frame, *self.analysis_size)
            gray = analysis.grayscale(small.astype(np.uint8, copy=False))
            look = self.picture.feed(seconds, gray)
            # A little preference for early frames, the way a take opens.
            score = look.poster_score - 0.001 * seconds
            if score > self.best_score or self.best_poster is None:
                self.best_poster = self._upright_bgr(frame, *self.poster_size)
                self.best_score = score
            if self.progress is not None and time.monotonic() - self._last_progress > 5:
                self._last_progress = time.monotonic()
                self.progress(seconds)

        out = self._upright_yuv(frame, vout.width, vout.height)
        out.pts = pts
        out.time_base = VIDEO_TIME_BASE
        for packet in vout.encode(out):
            dst.mux(packet)

    def _upright_bgr(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        """The picture scaled to `width`×`height` once turned upright, as BGR."""
        stored_w, stored_h = (height, width) if self.turns % 2 else (width, height)
        pixels = frame.reformat(width=stored_w, height=stored_h, format="bgr24").to_ndarray()
        return np.ascontiguousarray(np.rot90(pixels, self.turns)) if self.turns else pixels

    def _upright_yuv(self, frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
        """The picture scaled to `width`×`height` (both even) once turned upright, as YUV 4:2:0."""
        if not self.turns:
            return frame.reformat(width=width, height=height, format="yuv420p")
        stored_w, stored_h = (height, width) if self.turns % 2 else (width, height)
        scaled = frame.reformat(width=stored_w, height=stored_h, format="yuv420p")
        # Each plane (Y, then the half-size U and V) turned on its own; PyAV
        # takes 4:2:0 as one array of the three planes one after the other.
        planes = []
        for plane in scaled.planes:
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
            planes.append(np.rot90(rows, self.turns).ravel())
        return av.VideoFrame.from_ndarray(
            np.concatenate(planes).reshape(height * 3 // 2, width), format="yuv420p"
        )

    def audio_frame(
        self,
        frame: av.AudioFrame,
        dst: av.container.OutputContainer,
        aout: av.AudioStream,
        encode_resampler: av.AudioResampler,
        speech_resampler: av.AudioResampler,
    ) -> None:
        began = self._seconds(frame, ((self.audio_start or 0) + self.audio_samples) / AUDIO_RATE)
        if self.audio_start is None:
            self.audio_start = round(began * AUDIO_RATE)
        for pcm in speech_resampler.resample(frame):
            self.sound.feed(pcm.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        frame.pts = None
        for chunk in encode_resampler.resample(frame):
            self._encode_audio(chunk, dst, aout)

    def _encode_audio(
        self, chunk: av.AudioFrame, dst: av.container.OutputContainer, aout: av.AudioStream
    ) -> None:
        chunk.pts = (self.audio_start or 0) + self.audio_samples
        chunk.time_base = Fraction(1, AUDIO_RATE)
        self.audio_samples += chunk.samples
        for packet in aout.encode(chunk):
            dst.mux(packet)

    def flush_audio(
        self,
        dst: av.container.OutputContainer,
        aout: av.AudioStream,
        encode_resampler: av.AudioResampler,
        speech_resampler: av.AudioResampler,
    ) -> None:
        for pcm in speech_resampler.resample(None):
            self.sound.feed(pcm.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        for chunk in encode_resampler.resample(None):
            self._encode_audio(chunk, dst, aout)
        for packet in aout.encode():
            dst.mux(packet)

    def write_poster(self, path: Path) -> None:
        if self.best_poster is None:
            raise NoPicture("Not one picture could be decoded from this video; it may be damaged.")
        ok, data = cv2.imencode(".jpg", self.best_poster, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError("The poster could not be encoded as JPEG.")
        path.write_bytes(data.tobytes())


# --- the pass in a child process, held to limits -----------------------------------

# How often the waiting worker reports progress (its heartbeat) while the child works.
HEARTBEAT_SECONDS = 5.0
_ROOT = Path(__file__).resolve().parents[1]
_UNREADABLE_KINDS: dict[str, type[UnreadableVideo]] = {
    "NoPicture": NoPicture,
    "OverBudget": OverBudget,
    "UnreadableVideo": UnreadableVideo,
}


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    timeout_seconds: float


class OverLimit(Exception):
    """The pass needed more memory or time than its limits; `str(exc)` says so for people."""


class ChildCrashed(RuntimeError):
    """The child died without an answer, for some reason other than a limit."""


def _in_child(
    source: Path,
    workdir: Path,
    *,
    limits: Limits,
    progress: Callable[[float], None] | None,
    max_seconds: float | None,
    max_pixels: int | None,
) -> Outputs:
    request = {
        "source": str(source),
        "workdir": str(workdir),
        "max_seconds": max_seconds,
        "max_pixels": max_pixels,
        "memory_mb": limits.memory_mb,
        "parent": os.getpid(),
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
        # The limit is on address space: keep what is reserved close to what is
        # used (glibc makes a 64 MB heap arena per thread; OpenBLAS, loaded with
        # NumPy, a buffer per core), or a many-core machine fails small takes.
        "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "videos.transcode", json.dumps(request)],
            cwd=_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            answer = _wait_for(child, limits=limits, progress=progress)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            assert child.stdout is not None
            child.stdout.close()
        if answer is None:
            errors.seek(0)
            said = errors.read()[-4000:].decode(errors="replace")
            if child.returncode == -signal.SIGKILL or "MemoryError" in said:
                # Killed from outside, which is what the kernel's OOM killer does.
                raise OverLimit(_memory_reason(limits))
            raise ChildCrashed(f"the transcode child of {source.name} exited with {child.returncode}: {said}")
    return _answer_to_outputs(answer, workdir, limits)


def _wait_for(
    child: subprocess.Popen[bytes], *, limits: Limits, progress: Callable[[float], None] | None
) -> dict[str, Any] | None:
    """Read the child's reports until its answer or its end; report progress
    every HEARTBEAT_SECONDS meanwhile; kill it at the time limit."""
    assert child.stdout is not None
    out = child.stdout.fileno()
    deadline = time.monotonic() + limits.timeout_seconds
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
    pending, seconds = b"", 0.0
    while True:
        now = time.monotonic()
        if now >= deadline:
            child.kill()
            raise OverLimit(
                f"Processing took longer than allowed ({limits.timeout_seconds:g} seconds). "
                "The original is kept; an administrator can raise AURIO_PROCESSING_TIMEOUT_SECONDS "
                "and use “Reprocess”."
            )
        if progress is not None and now >= next_beat:
            progress(seconds)  # may raise (the run lost its claim): the caller kills the child
            next_beat = now + HEARTBEAT_SECONDS
        ready, _, _ = select.select([out], [], [], max(0.0, min(deadline, next_beat) - now))
        if not ready:
            continue
        chunk = os.read(out, 65536)
        if not chunk:
            return None  # the child is gone without an answer
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            try:
                report = json.loads(line)
            except ValueError:
                continue  # not ours: a library writing to standard output
            if not isinstance(report, dict):
                continue
            if "progress" in report:
                seconds = float(report["progress"])
            elif "outputs" in report or "error" in report:
                return report


def _memory_reason(limits: Limits) -> str:
    return (
        f"Processing needed more memory than allowed ({limits.memory_mb} MB). The original is kept; "
        "an administrator can raise AURIO_PROCESSING_MEMORY_MB and use “Reprocess”."
    )


def _answer_to_outputs(answer: dict[str, Any], workdir: Path, limits: Limits) -> Outputs:
    error = answer.get("error")
    if error == "memory":
        raise OverLimit(_memory_reason(limits))
    if error == "too long":
        raise TooLong(answer["message"], float(answer["seconds"]))
    if error == "unreadable":
        raise _UNREADABLE_KINDS.get(answer["kind"], UnreadableVideo)(answer["message"])
    if error is not None:
        raise ChildCrashed(f"the transcode child crashed: {answer.get('traceback', error)}")
    found = answer["outputs"]
    findings = found["findings"]
    return Outputs(
        playback=workdir / "playback.mp4",
        poster=workdir / "poster.jpg",
        width=int(found["width"]),
        height=int(found["height"]),
        seconds=float(found["seconds"]),
        has_audio=bool(found["has_audio"]),
        findings=analysis.Findings(
            has_audio=bool(findings["has_audio"]),
            sound=analysis.SoundFindings(**findings["sound"]),
            picture=analysis.PictureFindings(**findings["picture"]),
        ),
    )


def _report(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _die_with(parent: int) -> None:
    """Ask Linux to kill this child when the worker that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _child(request: dict[str, Any]) -> int:
    """The child's side: limits on, one pass, one answer on standard output."""
    _die_with(int(request["parent"]))
    limit = int(request["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    last = 0.0

    def report_progress(seconds: float) -> None:
        nonlocal last
        if time.monotonic() - last >= 1:
            last = time.monotonic()
            _report({"progress": seconds})

    try:
        outputs = transcode(
            Path(request["source"]),
            Path(request["workdir"]),
            progress=report_progress,
            max_seconds=request["max_seconds"],
            max_pixels=request["max_pixels"],
        )
    except MemoryError:  # Python's, NumPy's, and FFmpeg's ENOMEM (av.error.MemoryError)
        _report({"error": "memory"})
        return 1
    except TooLong as exc:
        _report({"error": "too long", "message": str(exc), "seconds": exc.seconds})
        return 1
    except UnreadableVideo as exc:
        _report({"error": "unreadable", "kind": type(exc).__name__, "message": str(exc)})
        return 1
    except Exception as exc:
        # Libraries that fail to allocate say so in their own words (OpenCV's
        # "Insufficient memory", x264's "external library" error): near the
        # limit, that is what any failure is.
        if _peak_mb() * 1024 * 1024 >= 0.8 * limit or "memory" in str(exc).lower():
            _report({"error": "memory"})
        else:
            _report({"error": "crash", "traceback": traceback.format_exc()[-4000:]})
        return 1
    found = asdict(outputs)
    found["playback"], found["poster"] = outputs.playback.name, outputs.poster.name
    found["findings"] = asdict(outputs.findings)
    _report({"outputs": found})
    return 0


if __name__ == "__main__":
    sys.exit(_child(json.loads(sys.argv[1])))
