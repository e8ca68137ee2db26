from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.services import Actor
from videos.models import Video
from videos.services import video_delete


class Command(BaseCommand):
    help = (
        "Delete videos recorded more than N days ago, with their files (original, poster, MP4 "
        "rendition), for a retention period. Their invites are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days", type=int, required=True, metavar="N", help="Retention period in days."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be deleted.")

    def handle(self, *args: Any, older_than_days: int, dry_run: bool, **options: Any) -> None:
        if older_than_days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=older_than_days)
        videos = Video.objects.filter(created_at__lt=cutoff).select_related("invite").order_by("created_at")
        count = size = 0
        actor = Actor.command("purge_videos")
        for video in videos:
            video_bytes = video.size + (video.poster_size or 0) + (video.playback_size or 0)
            label = f"{video.pk} {video.invite.email} {video.created_at:%Y-%m-%d}"
            if not dry_run:
                video_delete(video=video, actor=actor, retention_days=older_than_days)
            count += 1
            size += video_bytes
            self.stdout.write(f"{label}: {'would delete' if dry_run else 'deleted'} ({video_bytes} bytes)")
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {count} video(s), {size} bytes, older than {cutoff:%Y-%m-%d %H:%M %Z}.")
