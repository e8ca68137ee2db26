"""`manage.py run_worker`: django-tasks-db's `db_worker`, made to stay up.

- A database that is locked (SQLite while the web or the sweep writes, for
  longer than its busy timeout) no longer ends the worker: db_worker only
  catches that inside the transaction that claims a task, and SQLite raises it
  at the transaction's BEGIN, outside. The worker waits (1 s, doubling to 60 s)
  and goes on; a run cut off that way is picked up by the sweep like any dead
  run.
- A heartbeat thread tells /healthz that a worker is alive (aurio/health.py).

It takes db_worker's options; it never reloads on code changes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import CommandError
from django.db import close_old_connections
from django.db.utils import OperationalError
from django.tasks import task_backends
from django_tasks_db.management.commands import db_worker
from django_tasks_db.utils import is_locked_database_exception

from aurio.heartbeat import Heartbeat

log = logging.getLogger("aurio.worker")

FIRST_WAIT = 1.0
LONGEST_WAIT = 60.0


class Worker(db_worker.Worker):
    """db_worker's loop, started again (after a wait) when the database is locked."""

    def run(self) -> None:
        wait = FIRST_WAIT
        while True:
            started = time.monotonic()
            try:
                super().run()
                return
            except OperationalError as exc:
                if not is_locked_database_exception(exc) or not self.running:
                    raise
                if time.monotonic() - started > LONGEST_WAIT:
                    wait = FIRST_WAIT  # it had been running well for a while: a new episode
                log.warning("The database is locked (%s); the worker goes on in %.0f s.", exc, wait)
            close_old_connections()
            self.startup_delay = False
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)


class Command(db_worker.Command):
    help = (
        "Run the database task worker (django-tasks-db's db_worker) so that it stays up: a locked "
        "database is waited out, and a heartbeat tells /healthz the worker is alive."
    )

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        self.configure_logging(verbosity)
        excluded = exclude_queues.split(",") if exclude_queues else []
        queues = queue_name.split(",")
        if excluded and "*" not in queues:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queues,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        heartbeat = Heartbeat(backend=task_backends[backend_name]).start()
        worker.configure_signals()
        try:
            worker.run()
        finally:
            heartbeat.stop()
