from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from aurio.metrics import Metric, collect


class Command(BaseCommand):
    help = (
        "Show the state of the system with the numbers /metrics serves: invites by status, videos by "
        "status and tag, resumable uploads in flight, bytes stored, how long the oldest unprocessed "
        "video has waited, queued tasks and HTTP errors counted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for metric in collect():
            for line in _lines(metric):
                self.stdout.write(line)


def _lines(metric: Metric) -> list[str]:
    title = metric.title or metric.name
    if not metric.samples:
        return [f"{title}: none"]
    if len(metric.samples) == 1 and not metric.samples[0][0]:
        return [f"{title}: {_value(metric, metric.samples[0][1])}"]
    total = sum(value for _, value in metric.samples)
    lines = [f"{title}: {_value(metric, total)}"]
    for labels, value in metric.samples:
        label = ",".join(labels.values())
        lines.append(f"  {label:<10} {_value(metric, value)}")
    return lines


def _value(metric: Metric, value: float) -> str:
    if metric.unit == "bytes":
        return f"{int(value)} bytes ({value / 1e6:.1f} MB)"
    if metric.unit == "age":
        return f"waiting {_age(value)}" if value else "none"
    return str(int(value))


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
