"""The videos' gauges for /metrics and `manage.py summary`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Min, Sum
from django.utils import timezone

from aurio.metrics import Metric
from videos.models import Status, Tag, Video


def _by(field: str) -> dict[str, int]:
    return dict(Video.objects.order_by().values_list(field).annotate(n=Count("pk")))


def video_metrics() -> Iterable[Metric]:
    videos = Metric("aurio_videos", "Videos stored, by processing status.", title="Videos")
    by_status = _by("status")
    for status in Status:
        videos.add(by_status.get(status.value, 0), status=status.value)
    tags = Metric("aurio_videos_by_tag", "Videos stored, by tag.", title="Videos by tag")
    by_tag = _by("tag")
    for tag in Tag:
        tags.add(by_tag.get(tag.value, 0), tag=tag.value)
    totals = Video.objects.aggregate(
        bytes=Sum("size"),
        poster_bytes=Sum("poster_size"),
        playback_bytes=Sum("playback_size"),
        runs=Sum("processing_run"),
    )
    oldest = Video.objects.unprocessed().aggregate(at=Min("created_at"))["at"]
    backlog_age = (timezone.now() - oldest).total_seconds() if oldest else 0
    stored = sum(totals[key] or 0 for key in ("bytes", "poster_bytes", "playback_bytes"))
    return [
        videos,
        tags,
        Metric("aurio_video_bytes", "Bytes of original videos stored.", title="Originals", unit="bytes").add(
            totals["bytes"]
        ),
        Metric(
            "aurio_video_stored_bytes",
            "Bytes stored for videos: originals, posters and renditions.",
            title="Storage used by videos",
            unit="bytes",
        ).add(stored),
        Metric(
            "aurio_video_processing_runs",
            "Processing runs started, over the videos stored (retries count).",
            title="Processing runs",
        ).add(totals["runs"]),
        Metric(
            "aurio_processing_backlog_age_seconds",
            "Age of the oldest video not processed yet (0: none waiting).",
            title="Oldest unprocessed video",
            unit="age",
        ).add(backlog_age),
    ]
