"""`/healthz`: the database, storage and task queue reachable, room on local
media, and a worker beating (aurio.heartbeat) when tasks wait.

/healthz fails ("worker": "error") only when tasks have been waiting for six
beats *and* no worker has beaten for as long: a task queued a moment ago, or a
worker that is just starting, is not an outage, so neither the test suite nor
a fresh `make run` sees a failure before the first beat.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.tasks.backends.base import BaseTaskBackend
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.backend import DatabaseBackend

from aurio.heartbeat import last_heartbeat
from aurio.tasks_redis import RedisBackend

log = logging.getLogger(__name__)

# A worker is taken as gone after this many missed beats.
STALE_BEATS = 6


def _reachable(what: str, check: Callable[[], object]) -> bool:
    """Run one of /healthz's checks: False, and logged, when it raises."""
    try:
        check()
    except Exception:
        log.exception("healthz: %s unreachable", what)
        return False
    return True


def _query_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def storage_free_bytes(storage: Storage) -> int | None:
    """Free bytes on the filesystem of a local storage (None for others: S3 has no "full")."""
    if not isinstance(storage, FileSystemStorage):
        return None
    path = Path(storage.location)
    while not path.exists() and path != path.parent:
        path = path.parent  # the media folder is made on the first save
    return shutil.disk_usage(path).free


def _free_bytes() -> tuple[bool, int | None]:
    try:
        free = storage_free_bytes(default_storage)
    except OSError:
        log.exception("healthz: can't tell the free space of the media folder")
        return False, None
    if free is not None and free < settings.AURIO_MIN_FREE_BYTES:
        log.error(
            "healthz: %d bytes free for media, fewer than AURIO_MIN_FREE_BYTES (%d)",
            free,
            settings.AURIO_MIN_FREE_BYTES,
        )
        return False, free
    return True, free


def check_queue() -> None:
    """Raise when the task queue videos are processed through can't be reached.

    A backend may bring its own `check_health()`; otherwise the Redis queue
    gets a PING and the database queue a query of its table. Backends without
    a queue to reach (immediate, dummy) pass.
    """
    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    check_health = getattr(backend, "check_health", None)
    if callable(check_health):
        check_health()
    elif isinstance(backend, RedisBackend):
        backend.connection.ping()
    elif isinstance(backend, DatabaseBackend):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.exists()


def _tasks_waiting_since(backend: BaseTaskBackend, cutoff_seconds: float) -> bool | None:
    """Has a task been due for `cutoff_seconds` without being started? (None: can't tell)."""
    cutoff = timezone.now() - timedelta(seconds=cutoff_seconds)
    if isinstance(backend, RedisBackend):
        oldest = backend.oldest_waiting()
        return oldest is not None and oldest <= cutoff
    if isinstance(backend, DatabaseBackend):
        from django.db.models import Q
        from django_tasks_db.models import DBTaskResult, get_date_max

        return (
            DBTaskResult.objects.ready()
            .filter(backend_name=backend.alias, enqueued_at__lte=cutoff)
            .filter(Q(run_after=get_date_max()) | Q(run_after__lte=cutoff))
            .exists()
        )
    return None  # immediate and dummy backends keep no queue a worker serves


def worker_alive() -> bool | None:
    """False when tasks wait and no worker beats; None when that can't be told."""
    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if not isinstance(backend, RedisBackend) and isinstance(cache, LocMemCache | DummyCache):
        return None  # a worker's beat in its own process's memory can't be seen from here
    stale = STALE_BEATS * settings.AURIO_WORKER_HEARTBEAT_SECONDS
    try:
        waiting = _tasks_waiting_since(backend, stale)
        if not waiting:
            return None if waiting is None else True
        beat = last_heartbeat(backend)
    except Exception:
        log.exception("healthz: can't read the queue or the workers' heartbeat")
        return None
    if beat is not None and time.time() - beat < stale:
        return True
    log.error(
        "healthz: tasks have waited over %d s and no worker has beaten for as long (last beat: %s)",
        stale,
        "never" if beat is None else f"{time.time() - beat:.0f} s ago",
    )
    return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    enough_space, free = _free_bytes()
    checks = {
        "database": _reachable("database", _query_database),
        "storage": _reachable("storage", lambda: default_storage.exists("healthz")) and enough_space,
        "queue": _reachable("task queue", check_queue),
    }
    worker = worker_alive()
    healthy = all(checks.values()) and worker is not False
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unavailable",
        **{k: "ok" if v else "error" for k, v in checks.items()},
        "worker": {True: "ok", False: "error", None: "unknown"}[worker],
    }
    if free is not None:
        body["storageFreeBytes"] = free
    return JsonResponse(body, status=200 if healthy else 503)
