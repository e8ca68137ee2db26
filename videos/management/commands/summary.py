from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count, Min, Sum
from django.utils import timezone

from invites.models import Invite, InviteStatus
from uploads.models import Upload
from videos.models import Status, Tag, Video


class Command(BaseCommand):
    help = (
        "Show the state of the system: invites by status, videos by status and tag, resumable uploads "
        "in flight, bytes stored for videos, and how long the oldest unprocessed video has waited."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        # An invite's status is computed from its dates, so it is counted here rather than in SQL.
        invites = Counter(i.status for i in Invite.objects.only(
            "expires_at", "opened_at", "submitted_at", "revoked_at"
        ).iterator())  # fmt: skip
        self.stdout.write(f"Invites: {sum(invites.values())}")
        for status in InviteStatus:
            self.stdout.write(f"  {status.value:<10} {invites[status]}")

        by_status = dict(Video.objects.values_list("status").annotate(n=Count("pk")).order_by())
        by_tag = dict(Video.objects.values_list("tag").annotate(n=Count("pk")).order_by())
        self.stdout.write(f"Videos: {sum(by_status.values())}")
        for video_status in Status:
            self.stdout.write(f"  {video_status.value:<10} {by_status.get(video_status.value, 0)}")
        self.stdout.write("Videos by tag:")
        for tag in Tag:
            self.stdout.write(f"  {tag.value:<10} {by_tag.get(tag.value, 0)}")

        in_flight = Upload.objects.filter(video__isnull=True, expires_at__gt=now).filter(failure="")
        self.stdout.write(f"Uploads in flight: {in_flight.count()}")

        sizes = Video.objects.aggregate(
            original=Sum("size"), poster=Sum("poster_size"), playback=Sum("playback_size")
        )
        stored = sum(value or 0 for value in sizes.values())
        self.stdout.write(f"Storage used by videos: {stored} bytes ({stored / 1e6:.1f} MB)")

        oldest = Video.objects.filter(status__in=[Status.UPLOADED, Status.PROCESSING]).aggregate(
            at=Min("created_at")
        )["at"]
        if oldest is None:
            self.stdout.write("Oldest unprocessed video: none")
        else:
            self.stdout.write(f"Oldest unprocessed video: waiting {_age(now - oldest)}")


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
