"""The resumable uploads' gauges for /metrics and `manage.py summary`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Sum

from aurio.metrics import Metric
from uploads.models import Upload


def upload_metrics() -> Iterable[Metric]:
    counts = Upload.objects.in_flight().aggregate(in_flight=Count("pk"), in_flight_bytes=Sum("offset"))
    counts["refused"] = Upload.objects.exclude(failure="").count()
    return [
        Metric(
            "aurio_uploads_in_progress",
            "Resumable uploads begun, not finished, not expired.",
            title="Uploads in flight",
        ).add(counts["in_flight"]),
        Metric(
            "aurio_uploads_in_progress_bytes",
            "Bytes received so far by the uploads in progress.",
            title="Bytes received by uploads in flight",
            unit="bytes",
        ).add(counts["in_flight_bytes"]),
        Metric(
            "aurio_uploads_refused",
            "Finished resumable uploads whose file was refused (not a video, too long...).",
            title="Uploads refused",
        ).add(counts["refused"]),
    ]
