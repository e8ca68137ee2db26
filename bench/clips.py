"""Real H.264/AAC MP4 files of about a given size, made with the tests' media maker.

x264 (ultrafast) on FFmpeg's test pattern tops out near 1 MB per second of
720p30 and 3 MB per second of 1080p60 whatever bitrate is asked, so a size is
reached by choosing the picture and the length. Past about 330 MB that would
need more than aurio's 120 s limit, so the largest clips use the media maker's
"camera" picture (a moving pattern with sensor noise): x264 then gives the
40 Mbit/s asked, about 5 MB per second of 720p30, and encodes it at about
25 MB/s, so a 480 MB clip is 96 s long and takes about 20 s to make.
Files are cached in bench/results/cache/ (git-ignored) by their recipe.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.support.media import make_video

CACHE = Path(__file__).resolve().parent / "results" / "cache"
MB = 1_000_000


@dataclass(frozen=True)
class Recipe:
    seconds: float
    width: int
    height: int
    rate: int
    bitrate: int
    picture: str = "testsrc"

    @property
    def filename(self) -> str:
        kind = "" if self.picture == "testsrc" else f"-{self.picture}"
        return (
            f"clip-{self.width}x{self.height}p{self.rate}-{self.bitrate // 1000}k{kind}-{self.seconds:g}s.mp4"
        )


# (width, height, rate, requested bitrate, picture, measured bytes per second it gives),
# cheapest first. The last is the densest, for sizes the others cannot reach in time.
_PROFILES = [
    (1280, 720, 30, 4_000_000, "testsrc", 0.5 * MB),
    (1920, 1080, 60, 60_000_000, "testsrc", 2.9 * MB),
    (1280, 720, 30, 40_000_000, "camera", 5.0 * MB),
]


def recipe_for(target_bytes: int, max_seconds: float) -> Recipe:
    """The cheapest recipe expected to give about `target_bytes` within `max_seconds`."""
    for width, height, rate, bitrate, picture, per_second in _PROFILES:
        seconds = math.ceil(target_bytes / per_second)
        if seconds <= max_seconds:
            return Recipe(max(seconds, 2), width, height, rate, bitrate, picture)
    width, height, rate, bitrate, picture, _ = _PROFILES[-1]
    return Recipe(max_seconds, width, height, rate, bitrate, picture)


def clip(
    recipe: Recipe, *, cache: bool = True, workdir: Path | None = None
) -> tuple[Path, dict[str, object]]:
    """Make (or reuse) the clip; returns its path and a description."""
    folder = CACHE if cache else (workdir or CACHE)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / recipe.filename
    made = False
    started = time.monotonic()
    if not (cache and path.exists() and path.stat().st_size > 0):
        partial = path.with_suffix(".partial.mp4")
        make_video(
            partial,
            seconds=recipe.seconds,
            fmt="mp4",
            size=(recipe.width, recipe.height),
            rate=recipe.rate,
            bitrate=recipe.bitrate,
            picture=recipe.picture,
        )
        partial.replace(path)
        made = True
    info: dict[str, object] = {
        **asdict(recipe),
        "path": str(path),
        "bytes": path.stat().st_size,
        "generated": made,
        "generate_seconds": round(time.monotonic() - started, 1) if made else 0.0,
    }
    return path, info
