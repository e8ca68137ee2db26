from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.backend import DatabaseBackend

from aurio.tasks_redis import RedisBackend

log = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        log.exception("healthz: database unreachable")
        return False


def _storage_ok() -> bool:
    try:
        default_storage.exists("healthz")
        return True
    except Exception:
        log.exception("healthz: storage unreachable")
        return False


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


def _queue_ok() -> bool:
    try:
        check_queue()
        return True
    except Exception:
        log.exception("healthz: task queue unreachable")
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "storage": _storage_ok(), "queue": _queue_ok()}
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        **{k: "ok" if v else "error" for k, v in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)
