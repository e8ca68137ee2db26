"""The processing task, and the ways to queue it: after an upload, on
"Reprocess", and again for videos whose processing died.

django.tasks has no retries of its own, so aurio makes its own:

- a run that raises is retried by queueing the task again (later, when the
  backend can defer), up to AURIO_PROCESSING_TRIES runs;
- a run that is killed (worker stopped, machine lost, out of memory) leaves
  the video "processing" with a heartbeat that stops; `manage.py process_videos
  --stuck` (run every minute by the runner, `scripts/serve`) queues it again
  once the heartbeat is older than the lease, and so it is for a video whose
  task was never queued (the queue was down at upload time).

Queueing twice is harmless: a run only starts by claiming the video (see
videos.processing), so a second task finds nothing to do.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.tasks import TaskResultStatus, task
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from videos import processing
from videos.models import Video

log = logging.getLogger(__name__)


@task()
def process_video(video_id: str) -> str:
    """Probe, poster, MP4 rendition and tag suggestion for one video."""
    try:
        return processing.process(video_id)
    except processing.RetryLater as exc:
        _enqueue(video_id, delay=timedelta(seconds=30 * 2 ** (exc.tries - 1)))
        raise


def _enqueue(video_id: uuid.UUID | str, *, delay: timedelta | None = None) -> bool:
    queued = process_video
    if delay and queued.get_backend().supports_defer:
        queued = queued.using(run_after=timezone.now() + delay)
    try:
        result = queued.enqueue(str(video_id))
    except Exception:
        # The upload is safe in storage and its row says "uploaded"; the sweep
        # (`process_videos --stuck`) queues it once the queue is back.
        log.exception("could not queue processing of video %s; the sweep will retry", video_id)
        return False
    Video.objects.filter(pk=video_id).update(task_id=str(result.id)[:64])
    return True


def enqueue_processing(video: Video) -> bool:
    """Queue a freshly recorded video. Never raises: a queue that is down must
    not lose the candidate's upload."""
    try:
        processing.mark_waiting(video, reset_tries=False)
    except Exception:
        log.exception("could not mark video %s as queued", video.pk)
    return _enqueue(video.pk)


def reprocess(video: Video) -> bool:
    """Process the video again from its original, whatever its state."""
    processing.mark_waiting(video, reset_tries=True)
    return _enqueue(video.pk)


def _still_queued(video: Video) -> bool:
    """Is this video's last task still waiting in the queue (when the backend can tell)?"""
    backend = process_video.get_backend()
    if not video.task_id or not backend.supports_get_result:
        return False
    try:
        result = backend.get_result(video.task_id)
    except (TaskResultDoesNotExist, ValueError):
        return False
    return bool(result.status == TaskResultStatus.READY)


def requeue_stuck(*, now: datetime | None = None) -> list[Video]:
    """Queue again every video whose processing died or was never queued."""
    requeued = []
    for video in processing.stuck_videos(now=now):
        if _still_queued(video):
            continue  # a long queue, not a lost task
        processing.mark_waiting(video, reset_tries=False)
        if _enqueue(video.pk):
            requeued.append(video)
    return requeued
