"""The heartbeat workers write, so that /healthz (aurio.health) can tell a
queue nobody works on from a quiet one.

A worker (`manage.py run_worker`, `python -m aurio.tasks_redis`) runs a
`Heartbeat` thread that records the time every AURIO_WORKER_HEARTBEAT_SECONDS:
in the Redis queue's own Redis for that queue (its backend has
`record_heartbeat`), otherwise in the cache every process shares.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.tasks.backends.base import BaseTaskBackend

log = logging.getLogger(__name__)


def _beat_key(backend: BaseTaskBackend) -> str:
    return f"worker-heartbeat:{backend.alias}"


def record_heartbeat(backend: BaseTaskBackend | None = None) -> None:
    """Say that a worker of `backend` (the default one) is alive, now.

    The Redis queue keeps the beat in its own Redis; other backends in the
    cache, which every process shares (except a per-process one, see below).
    """
    backend = backend or task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if hasattr(backend, "record_heartbeat"):  # aurio.tasks_redis.RedisBackend
        backend.record_heartbeat()
    else:
        cache.set(_beat_key(backend), time.time(), timeout=86400)


def last_heartbeat(backend: BaseTaskBackend | None = None) -> float | None:
    """When a worker of `backend` last beat (a Unix time), None if none has for a day."""
    backend = backend or task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if hasattr(backend, "last_heartbeat"):  # aurio.tasks_redis.RedisBackend
        return backend.last_heartbeat()  # type: ignore[no-any-return]
    value = cache.get(_beat_key(backend))
    return float(value) if value is not None else None


class Heartbeat:
    """A daemon thread that calls `record_heartbeat` now and every `interval` seconds.

    A beat that fails (the database locked or away) is logged and the next one
    tried as usual: the thread never stops the worker.
    """

    def __init__(self, interval: float | None = None, backend: BaseTaskBackend | None = None) -> None:
        self.interval = float(interval or settings.AURIO_WORKER_HEARTBEAT_SECONDS)
        self.backend = backend
        self.beats = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aurio-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)  # a beat stuck on a locked database: it is a daemon thread

    def _run(self) -> None:
        failing = False
        while True:
            try:
                record_heartbeat(self.backend)
                self.beats += 1
                if failing:
                    log.info("heartbeat: recorded again")
                failing = False
            except Exception:
                if not failing:
                    log.warning("heartbeat: could not record it; trying again", exc_info=True)
                failing = True
            finally:
                connections.close_all()  # this thread's own connections
            if self._stopped.wait(self.interval):
                return
