from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from audit.services import Actor
from aurio.storage import remove_stale_temp
from videos import tasks
from videos.models import Status, Video
from videos.services import video_reprocess

# Temporary files untouched this long belong to no live request or run (a run
# touches its folder as it writes; a request body stalls out within a minute).
TEMP_GRACE_SECONDS = 3600


class Command(BaseCommand):
    help = (
        "Process videos again (poster, MP4 rendition, tag suggestion): the videos named, or every "
        "video in a status; or, with --stuck, queue again those whose processing died or was never queued."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("video_ids", nargs="*", metavar="VIDEO_ID", help="Videos to process again.")
        parser.add_argument(
            "--status", choices=Status.values, help="Process again every video in this status."
        )
        parser.add_argument(
            "--stuck",
            action="store_true",
            help="Queue again videos whose run went silent for longer than the lease, or never started.",
        )
        parser.add_argument(
            "--every",
            type=float,
            nargs="?",
            const=settings.AURIO_PROCESSING_SWEEP_SECONDS,
            metavar="SECONDS",
            help="With --stuck: keep looking, every SECONDS (default AURIO_PROCESSING_SWEEP_SECONDS).",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="Process in this process, one video after the other, instead of queueing for the worker.",
        )

    def handle(
        self,
        *args: Any,
        video_ids: list[str],
        status: str | None,
        stuck: bool,
        every: float | None,
        now: bool,
        **options: Any,
    ) -> None:
        if every is not None and not every > 0:  # not NaN either
            raise CommandError("--every needs a number of seconds above 0.")
        if stuck:
            if video_ids or status:
                raise CommandError("--stuck looks for videos itself; name no videos and no --status with it.")
            self._sweep(every)
            return
        if every is not None:
            raise CommandError("--every goes with --stuck.")
        videos = self._select(video_ids, status)
        actor = Actor.command("process_videos")
        for video in videos:
            outcome = video_reprocess(video=video, actor=actor, here=now)
            if outcome == "not queued":
                outcome = "NOT queued (see the log)"
            elif now:
                video.refresh_from_db()
                outcome += f": {video.failure_reason}" if video.status == Status.FAILED else ""
            self.stdout.write(f"video {video.pk}: {outcome}")
        self.stdout.write(f"{len(videos)} video(s) {'processed' if now else 'queued'}.")

    def _select(self, video_ids: list[str], status: str | None) -> list[Video]:
        if video_ids and status:
            raise CommandError("Name videos or give --status, not both.")
        if status:
            return list(Video.objects.filter(status=status).order_by("created_at"))
        if not video_ids:
            raise CommandError("Name the videos to process, or give --status or --stuck.")
        found = []
        for raw in video_ids:
            try:
                video = Video.objects.filter(pk=uuid.UUID(raw)).first()
            except ValueError:
                video = None
            if video is None:
                raise CommandError(f"No video with id {raw!r}.")
            found.append(video)
        return found

    def _sweep(self, every: float | None) -> None:
        """Queue stuck videos again; and, as the one process that runs all the
        time, let go of uploads that can't be finished any more and of
        temporary files that killed processes left."""
        while True:
            requeued = tasks.requeue_stuck()
            for video in requeued:
                self.stdout.write(f"video {video.pk}: was {video.status}, queued again")
            for step in settings.AURIO_SWEEP_STEPS:
                for line in import_string(step)():
                    self.stdout.write(line)
            for name in remove_stale_temp(older_than=TEMP_GRACE_SECONDS):
                self.stdout.write(f"temporary file {name} left by a stopped process: deleted")
            if every is None:
                self.stdout.write(f"{len(requeued)} stuck video(s) queued again.")
                return
            time.sleep(every)
