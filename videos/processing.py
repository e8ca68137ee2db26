"""Background processing of a stored take: probe, poster, MP4 rendition, tag suggestion.

A video's status moves uploaded → processing → ready, or failed with a reason a
person understands. Processing may crash or be killed at any point and run
again, so every step is safe to repeat:

- a run *claims* the video with a conditional UPDATE (a compare-and-swap on
  `processing_run`), so two workers never process one video at once;
- while it works it refreshes `heartbeat_at`; a run silent for longer than
  AURIO_PROCESSING_LEASE_SECONDS is taken as dead, and the next claim wins;
- it writes its files under names carrying its run number
  (`videos/<id>/poster-3.jpg`, `videos/<id>/playback-3.mp4`), never over files
  a reader may be using, then switches the row to them in one conditional
  UPDATE; only then are older outputs deleted. Leftovers of a run that died
  are deleted by the next run that finishes, so a video ends with one poster
  and one rendition however many runs it took;
- the original is only read, never changed.

Queueing and retrying live in videos.tasks; this module is the work itself.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.storage import Storage
from django.db.models import Q, QuerySet
from django.utils import timezone

from aurio.storage import save_verified, temporary_directory
from videos import media
from videos.models import Status, Video, video_path

log = logging.getLogger(__name__)

OUTPUT_PREFIXES = ("poster-", "playback-")
UNREADABLE = "The video could not be read; it may be damaged or incomplete."


class LeaseLost(Exception):
    """Another run took this video over (ours was presumed dead) or it was reset."""


class Failed(Exception):
    """Processing can't succeed on this file; `str(exc)` is the reason shown to people."""


class RetryLater(Exception):
    """This run crashed and the video was put back in the queue's hands."""

    def __init__(self, video_id: str, tries: int) -> None:
        super().__init__(f"processing video {video_id} failed (try {tries}); it will be retried")
        self.video_id = video_id
        self.tries = tries


@dataclass(frozen=True)
class Claim:
    video: Video
    run: int


def lease() -> timedelta:
    return timedelta(seconds=settings.AURIO_PROCESSING_LEASE_SECONDS)


# --- claiming --------------------------------------------------------------------


def claim(video_id: str, *, now: datetime | None = None) -> Claim | None:
    """Start a run on this video if it is waiting, or if its last run went silent.

    Returns None when there is nothing to do: the video is gone, settled
    (ready or failed), or being processed by a live run.
    """
    now = now or timezone.now()
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        log.info("video %s no longer exists; nothing to process", video_id)
        return None
    waiting = video.status == Status.UPLOADED
    abandoned = video.status == Status.PROCESSING and (
        video.heartbeat_at is None or video.heartbeat_at < now - lease()
    )
    if not (waiting or abandoned):
        return None
    run = video.processing_run + 1
    # Compare-and-swap on the run number: of two claimers, one wins.
    won = Video.objects.filter(pk=video.pk, processing_run=video.processing_run, status=video.status).update(
        status=Status.PROCESSING,
        processing_run=run,
        processing_tries=video.processing_tries + 1,
        heartbeat_at=now,
    )
    if not won:
        return None  # someone else claimed it between our read and our write
    video.refresh_from_db()
    if abandoned:
        log.warning("video %s: run %d went silent; starting run %d", video.pk, run - 1, run)
    return Claim(video=video, run=run)


def _mine(claim: Claim) -> Q:
    return Q(pk=claim.video.pk, processing_run=claim.run, status=Status.PROCESSING)


def heartbeat(claim: Claim) -> None:
    if not Video.objects.filter(_mine(claim)).update(heartbeat_at=timezone.now()):
        raise LeaseLost(f"video {claim.video.pk}: run {claim.run} was taken over")


def release_for_retry(claim: Claim) -> bool:
    """Give a crashed run's video back to the queue (status uploaded)."""
    return bool(Video.objects.filter(_mine(claim)).update(status=Status.UPLOADED, heartbeat_at=None))


def mark_failed(videos: QuerySet[Video], reason: str) -> int:
    """Mark these videos failed with a reason, by one rule whoever finds the
    fault (processing, `reconcile --fix`). How many were marked."""
    return videos.update(
        status=Status.FAILED, failure_reason=reason[:300], heartbeat_at=None, processed_at=timezone.now()
    )


def fail(claim: Claim, reason: str) -> bool:
    """Mark the claimed video failed, while this run still holds it; the
    outputs of earlier runs stay usable."""
    done = mark_failed(Video.objects.filter(_mine(claim)), reason)
    if done:
        log.info("video %s failed: %s", claim.video.pk, reason)
        remove_stale_outputs(claim.video.pk)
    return bool(done)


# --- the work --------------------------------------------------------------------


def _local_original(video: Video, storage: Storage, workdir: Path) -> Path:
    name = video.file.name or ""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        pass
    local = workdir / ("original" + PurePosixPath(name).suffix)
    with storage.open(name, "rb") as src, local.open("wb") as out:
        while chunk := src.read(1024 * 1024):
            out.write(chunk)
    return local


def _save(storage: Storage, name: str, path: Path) -> str:
    """Store an output, verified (a short write on a full disk raises OSError: the run is retried)."""
    if storage.exists(name):  # left by an earlier crash of this very run number
        storage.delete(name)
    return save_verified(storage, name, path)


def check_duration(seconds: float | None, limit: int | None = None) -> None:
    if (too_long := media.too_long(seconds, limit)) is not None:
        raise Failed(too_long)


def run(claim: Claim) -> Video:
    """Probe, transcode and analyse the claimed video, store the outputs and
    switch the row to them. Raises Failed for files that can't be processed;
    anything else is a crash (the caller decides about retrying).
    """
    # Imported here: OpenCV and NumPy add ~30 MB to a process, and web workers
    # only ever queue processing.
    from videos import analysis, transcode

    video = claim.video
    storage = video.file.storage
    if not video.file.name or not storage.exists(video.file.name):
        raise Failed("The original file is missing from storage; it can't be processed.")
    with temporary_directory("process") as tmp:
        workdir = Path(tmp)
        source = _local_original(video, storage, workdir)
        try:
            info = media.probe(source)
        except media.NotAVideo as exc:
            raise Failed(str(exc)) from exc
        except media.OverBudget as exc:
            raise Failed(str(exc)) from exc
        except media.UnreadableVideo as exc:
            raise Failed(UNREADABLE) from exc
        limit = video.invite.answer_seconds(video.question)
        check_duration(info.duration_seconds, limit)
        heartbeat(claim)

        try:
            # In a child process held to memory and time limits: a file that
            # needs more fails alone, and this worker goes on to the next one.
            outputs = transcode.transcode(
                source,
                workdir,
                progress=lambda seconds: heartbeat(claim),
                max_seconds=media.longest_seconds(limit),
                max_pixels=settings.AURIO_MAX_VIDEO_PIXELS,
                limits=transcode.Limits(
                    memory_mb=settings.AURIO_PROCESSING_MEMORY_MB,
                    timeout_seconds=settings.AURIO_PROCESSING_TIMEOUT_SECONDS,
                ),
            )
        except transcode.TooLong as exc:
            raise Failed(f"The video runs longer than the limit of {media.format_seconds(limit)}.") from exc
        except media.UnreadableVideo as exc:
            raise Failed(str(exc) or UNREADABLE) from exc
        except transcode.OverLimit as exc:
            raise Failed(str(exc)) from exc
        heartbeat(claim)
        suggestion = analysis.suggest(outputs.findings)

        # Sizes first: saving may move the files away.
        poster_size, playback_size = outputs.poster.stat().st_size, outputs.playback.stat().st_size
        poster = _save(storage, video_path(video, f"poster-{claim.run}.jpg"), outputs.poster)
        playback = _save(storage, video_path(video, f"playback-{claim.run}.mp4"), outputs.playback)

        switched = Video.objects.filter(_mine(claim)).update(
            status=Status.READY,
            failure_reason="",
            duration_seconds=info.duration_seconds or outputs.seconds,
            width=info.width,
            height=info.height,
            video_codec=info.video_codec,
            audio_codec=info.audio_codec,
            poster=poster,
            poster_size=poster_size,
            playback=playback,
            playback_size=playback_size,
            playback_width=outputs.width,
            playback_height=outputs.height,
            suggested_tag=suggestion.tag,
            suggestion_reasons=suggestion.reasons,
            analysis=outputs.findings.as_json(),
            heartbeat_at=None,
            processed_at=timezone.now(),
        )
    if not switched:
        storage.delete(poster)
        storage.delete(playback)
        raise LeaseLost(f"video {video.pk}: run {claim.run} was taken over before it finished")
    remove_stale_outputs(video.pk)
    video.refresh_from_db()
    log.info(
        "video %s ready (run %d): suggested %s — %s",
        video.pk,
        claim.run,
        video.suggested_tag,
        "; ".join(video.suggestion_reasons),
    )
    return video


def remove_stale_outputs(video_id: uuid.UUID | str) -> list[str]:
    """Delete posters and renditions of this video that its row no longer points at."""
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return []
    storage = video.file.storage
    folder = video_path(video, "").rstrip("/")
    try:
        _, files = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return []
    keep = {video.poster.name, video.playback.name, video.file.name}
    removed = []
    for filename in files:
        name = f"{folder}/{filename}"
        if filename.startswith(OUTPUT_PREFIXES) and name not in keep:
            storage.delete(name)
            removed.append(name)
    return removed


def process(video_id: str) -> str:
    """Claim and process one video; what the task runs. Returns what happened.

    A crash puts the video back to "uploaded" and raises RetryLater while tries
    remain, and marks it failed once they are used up.
    """
    current = claim(video_id)
    if current is None:
        return "nothing to do"
    tries = current.video.processing_tries
    if tries > settings.AURIO_PROCESSING_TRIES:
        fail(
            current,
            f"Processing did not finish in {tries - 1} tries (the worker stopped or crashed each time). "
            "Use “Reprocess” to try again.",
        )
        return "failed"
    try:
        run(current)
    except Failed as exc:
        fail(current, str(exc))
        return "failed"
    except LeaseLost as exc:
        log.warning("%s", exc)
        return "taken over"
    except Exception as exc:
        log.exception("video %s: processing run %d crashed", video_id, current.run)
        if tries < settings.AURIO_PROCESSING_TRIES:
            if release_for_retry(current):
                raise RetryLater(video_id, tries) from exc
            return "taken over"
        fail(
            current,
            f"Processing failed {tries} times with an internal error; the details are in the worker's "
            "log. Use “Reprocess” to try again.",
        )
        raise
    return "ready"


def process_here(video_id: str) -> str:
    """Run processing in this process, retrying a crashed run as the task would."""
    while True:
        try:
            return process(video_id)
        except RetryLater:
            continue
        except Exception:  # tries used up: the video is marked failed, the log has the details
            return "failed"


# --- asking for processing -----------------------------------------------------


def mark_waiting(video: Video, *, reset_tries: bool) -> None:
    """About to queue the video: note when. `reset_tries` (a new request for
    processing, as "Reprocess") also puts it back to uploaded with fresh tries;
    a live run of it then loses its claim and stops."""
    now = timezone.now()
    fields: dict[str, object] = {"queued_at": now}
    if reset_tries:
        fields.update(status=Status.UPLOADED, processing_tries=0, heartbeat_at=None, failure_reason="")
    Video.objects.filter(pk=video.pk).update(**fields)
    for key, value in fields.items():
        setattr(video, key, value)


def stuck_videos(*, now: datetime | None = None) -> list[Video]:
    """Videos that may need queueing again: waiting, or processing but silent
    for longer than the lease, and not queued within the lease either (the
    enqueue may have been lost; videos.tasks also asks the queue whether their
    last task is still waiting)."""
    now = now or timezone.now()
    cutoff = now - lease()
    silent = Q(status=Status.PROCESSING) & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff))
    not_queued_lately = Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff)
    return list(
        Video.objects.filter((Q(status=Status.UPLOADED) | silent) & not_queued_lately).order_by("created_at")
    )
