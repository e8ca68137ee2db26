"""What a file really is, and making recorder output seekable.

FFmpeg comes through PyAV (its wheels bundle the libraries), so nothing here
needs a system package.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from django.conf import settings

log = logging.getLogger(__name__)

# Defaults of the budgets (settings AURIO_MAX_VIDEO_PIXELS, AURIO_MAX_FRAME_RATE).
MAX_VIDEO_PIXELS = 3840 * 2160
MAX_FRAME_RATE = 120
# Packets a second of the longest take allowed, over all streams: a 60 fps
# picture and two sound tracks need about 160. Demuxing costs per packet, so a
# file of millions of one-sample packets (a few MB) would hold a web process's
# CPU for minutes; it is refused once it passes this many.
PACKETS_PER_SECOND = 500
MAX_STREAMS = 16
_NAMED_SIZES = {
    3840 * 2160: "4K (3840×2160)",
    1920 * 1080: "1080p (1920×1080)",
    1280 * 720: "720p (1280×720)",
}


class NotAVideo(Exception):
    """The content is not a video container we accept (415)."""


class UnreadableVideo(Exception):
    """The container signature is right but the file can't be decoded (422)."""


class OverBudget(UnreadableVideo):
    """The picture is larger, or the frame rate higher, than aurio processes (422).

    A few hundred kilobytes of H.264 can hold frames of 16000×16000 pixels,
    384 MB each once decoded: such a file is refused before anything decodes it.
    """


def format_seconds(seconds: float) -> str:
    """m:ss, rounded to the nearest second."""
    whole = int(seconds + 0.5)
    return f"{whole // 60}:{whole % 60:02d}"


def longest_seconds(limit: int | None = None) -> int:
    """The longest take accepted: the limit (by default AURIO_MAX_DURATION_SECONDS) and its tolerance."""
    return (limit or settings.AURIO_MAX_DURATION_SECONDS) + settings.AURIO_DURATION_TOLERANCE_SECONDS


def too_long(seconds: float | None, limit: int | None = None) -> str | None:
    """Why a take of `seconds` is refused for its length, or None if it is not.
    `limit`: the question's answer time for this candidate (by default AURIO_MAX_DURATION_SECONDS)."""
    limit = limit or settings.AURIO_MAX_DURATION_SECONDS
    if seconds and seconds > longest_seconds(limit):
        return f"The video is {format_seconds(seconds)} long; the limit is {format_seconds(limit)}."
    return None


@dataclass(frozen=True)
class Container:
    content_type: str
    extension: str
    # Name of the FFmpeg muxer used to rewrite it with a seek index, if any.
    muxer: str | None


WEBM = Container("video/webm", "webm", "webm")
MATROSKA = Container("video/x-matroska", "mkv", "matroska")
MP4 = Container("video/mp4", "mp4", "mp4")
QUICKTIME = Container("video/quicktime", "mov", "mov")
THREE_GP = Container("video/3gpp", "3gp", None)
OGG = Container("video/ogg", "ogv", None)
AVI = Container("video/x-msvideo", "avi", None)

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> Container:
    """Identify the container from its first bytes (never the name or the browser's word)."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # EBML header; the DocType element says webm or matroska.
        return WEBM if b"webm" in head[:64] else MATROSKA
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return QUICKTIME
        if brand.startswith(b"3g"):
            return THREE_GP
        return MP4
    if head[4:8] in _QUICKTIME_ATOMS:
        return QUICKTIME
    if head[:4] == b"OggS":
        return OGG
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    raise NotAVideo("This file is not a video we can accept (WebM, MP4, QuickTime, Ogg or AVI).")


@dataclass(frozen=True)
class MediaInfo:
    duration_seconds: float | None
    width: int | None
    height: int | None
    video_codec: str
    audio_codec: str
    # How far the stored picture is turned for display (see `display_rotation`);
    # width and height above are the picture as displayed.
    rotation: int = 0
    frame_rate: float | None = None


def _open(path: Path, *, max_pixels: int | None = None) -> av.container.InputContainer:
    # Opening decodes a few frames to learn the streams' parameters; the
    # decoders' own pixel limit keeps that from allocating a bomb's frames.
    options = {"max_pixels": str(max_pixels)} if max_pixels else None
    try:
        return av.open(str(path), options=options)
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UnreadableVideo("The video could not be read; it may be damaged or incomplete.") from exc


def budgets() -> tuple[int, float]:
    """The largest picture (pixels) and the highest frame rate aurio accepts."""
    return (
        int(getattr(settings, "AURIO_MAX_VIDEO_PIXELS", MAX_VIDEO_PIXELS)),
        float(getattr(settings, "AURIO_MAX_FRAME_RATE", MAX_FRAME_RATE)),
    )


def probe(path: Path, *, max_pixels: int | None = None, max_frame_rate: float | None = None) -> MediaInfo:
    """Streams, picture size as displayed, and the real length.

    The length is measured from the packets themselves (demuxed, not decoded),
    never taken from the header: a header can say 30 s of a file that plays
    for 10 minutes. Pictures above `max_pixels` and frame rates above
    `max_frame_rate` (by default the settings AURIO_MAX_VIDEO_PIXELS and
    AURIO_MAX_FRAME_RATE) raise OverBudget.
    """
    default_pixels, default_rate = budgets()
    max_pixels = max_pixels or default_pixels
    max_frame_rate = max_frame_rate or default_rate
    # Twice the budget for the decoders: the refusal below, with its message,
    # is ours; theirs only guards the memory.
    with _open(path, max_pixels=2 * max_pixels) as container:
        video = next(iter(container.streams.video), None)
        if video is None:
            raise NotAVideo("This file has no video in it.")
        audio = next(iter(container.streams.audio), None)
        width, height = video.codec_context.width or 0, video.codec_context.height or 0
        if width * height > max_pixels:
            raise OverBudget(
                f"The video is {width}×{height} pixels; the largest we accept is {_size_name(max_pixels)}."
            )
        if len(container.streams) > MAX_STREAMS:
            raise OverBudget(
                f"The file has {len(container.streams)} streams; "
                "a video answer needs no more than a picture and a sound track."
            )
        timing = _measure(container, video, max_packets=_max_packets())
        if not timing.video_packets:
            raise UnreadableVideo("The video has no pictures in it; it may be damaged or incomplete.")
        rate = timing.frame_rate
        if rate is not None and rate > max_frame_rate * 1.01:
            raise OverBudget(
                f"The video has {rate:.0f} frames a second; the most we accept is {max_frame_rate:g}."
            )
        rotation = display_rotation(video)
        if rotation in (90, 270):
            width, height = height, width
        return MediaInfo(
            duration_seconds=timing.seconds,
            width=width or None,
            height=height or None,
            video_codec=video.codec_context.name or "",
            audio_codec=audio.codec_context.name if audio is not None else "",
            rotation=rotation,
            frame_rate=rate,
        )


def _size_name(pixels: int) -> str:
    return _NAMED_SIZES.get(pixels) or f"{pixels / 1e6:.1f} megapixels a frame"


def display_rotation(stream: av.VideoStream) -> int:
    """How far the picture is turned for display, counter-clockwise, in
    quarter turns' degrees (0, 90, 180 or 270); 0 when the file says nothing.

    Phones store the camera's picture as the sensor sees it and put a display
    matrix in the file (MP4/MOV `tkhd`); FFmpeg hands it on as side data.
    A held-upright iPhone's matrix reads as 270 (a quarter turn clockwise).
    """
    matrix = stream.codec_context.coded_side_data.get("display_matrix")
    if not matrix or len(matrix) < 36:
        return 0
    a, b, _, c, d, *_ = struct.unpack("<9i", matrix[:36])
    # As FFmpeg's av_display_rotation_get: the angle of the matrix's first column.
    scale_x, scale_y = math.hypot(a, c), math.hypot(b, d)
    if not scale_x or not scale_y:
        return 0
    degrees = -math.degrees(math.atan2(b / scale_y, a / scale_x))
    return round(degrees / 90) % 4 * 90


@dataclass(frozen=True)
class _Timing:
    seconds: float | None
    video_packets: int
    frame_rate: float | None


# The longest answer time a question can give: 5 minutes with 200% extra time
# (interviews.models.ANSWER_SECONDS_MAX, invites.models.EXTRA_TIME_MAX_PERCENT).
LONGEST_ANSWER_SECONDS = 900


def _max_packets() -> int:
    return (
        longest_seconds(max(settings.AURIO_MAX_DURATION_SECONDS, LONGEST_ANSWER_SECONDS)) * PACKETS_PER_SECOND
    )


def _measure(container: av.container.InputContainer, video: av.VideoStream, *, max_packets: int) -> _Timing:
    """From first to last packet (the last one's duration included), over
    every stream; and the video's average frame rate, from its packet count.
    More than `max_packets` packets raise OverBudget at once."""
    start = end = None
    video_start = video_end = None
    video_packets = packets = 0
    try:
        for packet in container.demux():
            if not packet.size:  # the empty packet that ends each stream
                continue
            packets += 1
            if packets > max_packets:
                raise OverBudget(
                    "The file is cut into far more pieces (packets) than a video answer has; "
                    "it may be damaged. Please export it again or record in the browser."
                )
            is_video = packet.stream.index == video.index
            video_packets += is_video
            at = packet.pts if packet.pts is not None else packet.dts
            if at is None or packet.time_base is None:
                continue
            begins = float(at * packet.time_base)
            finishes = float((at + (packet.duration or 0)) * packet.time_base)
            start = begins if start is None else min(start, begins)
            end = finishes if end is None else max(end, finishes)
            if is_video:
                video_start = begins if video_start is None else min(video_start, begins)
                video_end = begins if video_end is None else max(video_end, begins)
    except av.error.FFmpegError as exc:
        if not video_packets:
            raise UnreadableVideo("The video could not be read; it may be damaged or incomplete.") from exc
        # A cut-off end: what was recorded up to it is what plays (and is processed).
        log.info("%s: packets end in an error at %s s: %s", container.name, end, exc)
    seconds = end - start if start is not None and end is not None else None
    rate = None
    if video_start is not None and video_end is not None and video_end > video_start:
        rate = (video_packets - 1) / (video_end - video_start)
    return _Timing(seconds=seconds or None, video_packets=video_packets, frame_rate=rate)


def remux(source: Path, target: Path, container: Container) -> bool:
    """Rewrite the same packets into a fresh container with a duration and seek
    index (WebM cues, MP4 moov at the front). Lossless and fast: no decoding.

    Every packet goes across, those without a DTS too (Matroska gives none to
    the first packets of a stream with B-frames, the keyframe among them). The
    result is read back and must hold as many packets, and as many bytes, of
    each stream as the source; otherwise it is deleted.

    Returns False when the format needs no rewrite, or when the rewrite could
    not keep every packet: the caller then keeps the file as it came.
    """
    if container.muxer is None:
        return False
    options = {"movflags": "+faststart"} if container.muxer in ("mp4", "mov") else {}
    with _open(source) as src:
        streams = [s for s in src.streams if s.type in ("video", "audio")]
        received = {(n, s.type): (0, 0) for n, s in enumerate(streams)}
        key = {s.index: (n, s.type) for n, s in enumerate(streams)}
        try:
            with av.open(str(target), "w", format=container.muxer, options=options) as dst:
                mapping = {s.index: dst.add_stream_from_template(s) for s in streams}
                for packet in src.demux(*streams):
                    if not packet.size:  # the empty packet that ends each stream
                        continue
                    count, size = received[key[packet.stream.index]]
                    received[key[packet.stream.index]] = (count + 1, size + packet.size)
                    packet.stream = mapping[packet.stream.index]
                    dst.mux(packet)
        except (av.error.FFmpegError, ValueError, TypeError) as exc:
            log.warning("remux of %s failed (%s); keeping the file as received", source.name, exc)
            target.unlink(missing_ok=True)
            return False
    written = _packet_tally(target) if target.exists() else {}
    if not any(count for count, _ in received.values()) or written != received:
        log.warning(
            "remux of %s kept %s of %s (packets, bytes per stream); keeping the file as received",
            source.name,
            written,
            received,
        )
        target.unlink(missing_ok=True)
        return False
    return True


def _packet_tally(path: Path) -> dict[tuple[int, str], tuple[int, int]]:
    """(packets, bytes) of each video and audio stream, by (index among them, kind)."""
    tally: dict[tuple[int, str], tuple[int, int]] = {}
    try:
        with av.open(str(path)) as container:
            kept = [s for s in container.streams if s.type in ("video", "audio")]
            position = {s.index: (n, s.type) for n, s in enumerate(kept)}
            for key in position.values():
                tally[key] = (0, 0)
            for packet in container.demux(*kept):
                if packet.size:
                    key = position[packet.stream.index]
                    count, size = tally[key]
                    tally[key] = (count + 1, size + packet.size)
    except (av.error.FFmpegError, UnicodeDecodeError):
        return {}
    return tally
