"""Prometheus metrics at /metrics, in the text exposition format (0.0.4).

gunicorn runs several worker processes, and a scrape reaches one of them, so
counters kept in a process's memory would disagree from scrape to scrape.
Every value here is therefore read when scraped: gauges of what the tables
hold now, and error counters kept in the shared cache (the database cache
table, or Redis), which every process adds to (`ErrorCountingMiddleware`).
Uploads refused before a row was written (oversize, not a video) leave no row;
they are in the logs.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.backend import DatabaseBackend

from aurio.ratelimit import cache_incr

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Set by reverse proxies: a request carrying them came through one, so its
# REMOTE_ADDR (often 127.0.0.1) says nothing about the client.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@dataclass
class Metric:
    """One metric and its samples. `title` heads it in `manage.py summary`;
    `unit` ("bytes", "age" (seconds waited) or "") says how summary shows its value."""

    name: str
    help: str
    kind: str = "gauge"
    title: str = ""
    unit: str = ""
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float | None, **labels: str) -> Metric:
        self.samples.append((labels, value or 0))
        return self

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(
                f"{self.name}{{{label_text}}} {_number(value)}" if labels else f"{self.name} {_number(value)}"
            )
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    # Byte counts must keep every digit ("{:g}" would round them to six).
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def task_metrics() -> Iterable[Metric]:
    """Tasks by status, for the database queue (the Redis queue keeps its own numbers)."""
    if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        return []
    from django_tasks_db.models import DBTaskResult

    by_status = dict(DBTaskResult.objects.order_by().values_list("status").annotate(n=Count("pk")))
    tasks = Metric("aurio_tasks", "Background tasks in the database queue, by status.", title="Tasks queued")
    for status, n in sorted(by_status.items()):
        tasks.add(n, status=status)
    return [tasks]


# Answers counted as errors: stalled (408), held back (429), and the server's own (5xx).
COUNTED_STATUSES = (408, 429, 500, 502, 503, 504)
_ERROR_KEY = "metrics:http:{}"


def _error_bucket(status: int) -> str | None:
    if status in COUNTED_STATUSES:
        return str(status)
    return "5xx" if status >= 500 else None


class ErrorCountingMiddleware:
    """Counts error answers in the shared cache, for `aurio_http_errors_total`.
    Errors are rare, so one cache write each costs nothing on the happy path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        bucket = _error_bucket(response.status_code)
        if bucket is not None:
            count_error(bucket)
        return response


def count_error(bucket: str) -> None:
    key = _ERROR_KEY.format(bucket)
    try:
        cache_incr(key, timeout=None)
        # The database cache's incr is a get and a set, which gives the key the
        # default expiry again: a counter must not vanish an hour after its last error.
        cache.touch(key, timeout=None)
    except Exception:
        # The cache may be down for the very reason of the error (the database).
        logger.warning("metrics: could not count an HTTP %s answer", bucket, exc_info=True)


def error_metrics() -> Iterable[Metric]:
    buckets = [str(status) for status in COUNTED_STATUSES] + ["5xx"]
    try:
        counts = cache.get_many([_ERROR_KEY.format(b) for b in buckets])
    except Exception:
        logger.warning("metrics: the cache is unavailable", exc_info=True)
        return []
    errors = Metric(
        "aurio_http_errors_total",
        "Answers with status 408, 429 or 5xx, all web processes, since the cache was last cleared.",
        kind="counter",
        title="HTTP errors counted",
    )
    for bucket in buckets:
        errors.add(counts.get(_ERROR_KEY.format(bucket), 0), status=bucket)
    return [errors]


def collect() -> list[Metric]:
    """Every metric, from the providers AURIO_METRICS names (each app provides its own)."""
    return [metric for provider in settings.AURIO_METRICS for metric in import_string(provider)()]


def render_metrics() -> str:
    return "".join(metric.render() for metric in collect())


def may_scrape(request: HttpRequest) -> bool:
    """A bearer token equal to METRICS_TOKEN, or a direct request from METRICS_ALLOWED_IPS."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and constant_time_compare(given.strip(), token):
        return True
    if any(header in request.META for header in _PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket
    return any(
        address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE)
