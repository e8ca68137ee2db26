"""A Redis queue for django.tasks, so workers on several machines share one queue.

Django's built-in tasks framework defines the API (`@task`, `.enqueue()`,
`get_result()`) but ships no production queue; aurio's default keeps tasks in
its database (django-tasks-db). This backend puts them in Redis through RQ
instead, with results, deferred runs (`run_after`) and the framework's
signals. Select it by settings alone:

    TASKS_BACKEND=aurio.tasks_redis.RedisBackend
    REDIS_URL=redis://redis.internal:6379/0     (or TASKS_OPTIONS={"url": "redis://..."})

and run on every worker machine, in place of `manage.py db_worker`:

    python -m aurio.tasks_redis            # `--burst` to stop once the queue is empty

Why not django-tasks-rq: it is written against the django-tasks *backport*
(its own Task, TaskResult and exceptions), so under Django's built-in
framework it turns `@task` functions into backport tasks and raises the
backport's TaskResultDoesNotExist, which aurio's sweep (catching
django.tasks'), would not catch.

Jobs are stored with RQ's JSON serializer, never pickle: whoever can write to
the Redis can queue aurio's tasks, but not run arbitrary code in a worker
(`execute` only runs django.tasks Task objects).

OPTIONS (all optional):
  url           redis://[:password@]host:port/db (rediss:// for TLS); default settings.REDIS_URL
  queue_prefix  prefix of the RQ queue names, so several deployments can share
                one Redis database; default "aurio:" (queue "default" -> "aurio:default")
  job_timeout   seconds a run may take before the worker kills it; default 3600
                (a killed run is picked up by the sweep like a crashed worker)
  result_ttl    seconds a finished run's result is kept; default 86400
  failure_ttl   seconds a failed run's result is kept; default 604800
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import time
import traceback
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import SuspiciousOperation
from django.db import close_old_connections, connections
from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus, task_backends
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.functional import cached_property
from django.utils.module_loading import import_string
from redis import Redis
from rq import Queue, SimpleWorker, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.worker.base import BaseWorker

log = logging.getLogger(__name__)

EXECUTE = f"{__name__}.execute"
DEFAULTS: dict[str, Any] = {
    "url": None,  # settings.REDIS_URL
    "queue_prefix": "aurio:",
    "job_timeout": 3600,
    "result_ttl": 86400,
    "failure_ttl": 7 * 86400,
}

STATUS = {
    JobStatus.QUEUED: TaskResultStatus.READY,
    JobStatus.DEFERRED: TaskResultStatus.READY,
    JobStatus.SCHEDULED: TaskResultStatus.READY,
    JobStatus.CREATED: TaskResultStatus.READY,
    JobStatus.STARTED: TaskResultStatus.RUNNING,
    JobStatus.FINISHED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.STOPPED: TaskResultStatus.FAILED,
    JobStatus.CANCELED: TaskResultStatus.FAILED,
}


class RedisBackend(BaseTaskBackend):
    supports_defer = True
    supports_get_result = True
    supports_async_task = True  # Task.call runs coroutines to completion

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.config = {**DEFAULTS, **(self.options or {})}
        self.config["url"] = self.config["url"] or getattr(settings, "REDIS_URL", "redis://127.0.0.1:6379/0")

    # --- Redis and RQ -------------------------------------------------------------

    @cached_property
    def connection(self) -> Redis:
        # A queue that doesn't answer must fail fast: an upload waits on enqueue.
        return Redis.from_url(self.config["url"], socket_connect_timeout=5, health_check_interval=30)

    def rq_queue_name(self, queue_name: str) -> str:
        return f"{self.config['queue_prefix']}{queue_name}"

    def rq_queue(self, queue_name: str) -> Queue:
        return Queue(self.rq_queue_name(queue_name), connection=self.connection, serializer=JSONSerializer)

    def worker(
        self, queue_names: Iterable[str] | None = None, *, fork: bool = True, name: str | None = None
    ) -> BaseWorker:
        """An RQ worker for these queues (all of this backend's by default).

        With `fork` (the default) each run happens in a child process, so a
        crash or a leak in video decoding can't take the worker down; without
        it, runs happen in the calling process (tests, debugging).
        """
        queues = [self.rq_queue(q) for q in sorted(queue_names or self.queues)]
        worker_class = ForkingWorker if fork else SimpleWorker
        return worker_class(queues, name=name, connection=self.connection, serializer=JSONSerializer)

    # --- django.tasks API ---------------------------------------------------------

    def enqueue(self, task: Task, args: Sequence[Any], kwargs: dict[str, Any]) -> TaskResult:  # type: ignore[override]
        self.validate_task(task)
        result: TaskResult[Any, Any] = TaskResult(
            task=task,
            id=get_random_string(32),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        queue = self.rq_queue(task.queue_name)
        job = queue.create_job(
            EXECUTE,
            args=[task.module_path, result.args, result.kwargs],
            job_id=result.id,
            timeout=self.config["job_timeout"],
            result_ttl=self.config["result_ttl"],
            failure_ttl=self.config["failure_ttl"],
            description=task.module_path,
            status=JobStatus.QUEUED if task.run_after is None else JobStatus.SCHEDULED,
            meta={
                "backend": self.alias,
                "queue_name": task.queue_name,
                "run_after": task.run_after.isoformat() if task.run_after else None,
                "errors": [],
            },
        )
        if task.run_after is None:
            job = queue.enqueue_job(job)
        else:
            job = queue.schedule_job(job, task.run_after)
        object.__setattr__(result, "enqueued_at", _aware(job.enqueued_at) or timezone.now())
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:  # type: ignore[override]
        try:
            job = Job.fetch(result_id, connection=self.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            raise TaskResultDoesNotExist(result_id) from None
        if job.func_name != EXECUTE or job.meta.get("backend") != self.alias:
            raise TaskResultDoesNotExist(result_id)
        return _result(job)

    # --- for /healthz -------------------------------------------------------------

    @property
    def heartbeat_key(self) -> str:
        return f"{self.config['queue_prefix']}worker-heartbeat"

    def record_heartbeat(self) -> None:
        """A worker of this queue is alive now (kept in the queue's own Redis)."""
        self.connection.set(self.heartbeat_key, repr(time.time()), ex=86400)

    def last_heartbeat(self) -> float | None:
        value = self.connection.get(self.heartbeat_key)
        return float(value) if value is not None else None

    def oldest_waiting(self) -> datetime | None:
        """When the job waiting longest in this backend's queues was queued (None: none waits)."""
        oldest: datetime | None = None
        for name in self.queues:
            queue = self.rq_queue(name)
            for job_id in queue.get_job_ids(0, 1):
                try:
                    job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
                except NoSuchJobError:
                    continue
                queued = _aware(job.enqueued_at)
                if queued is not None and (oldest is None or queued < oldest):
                    oldest = queued
        return oldest

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages = list(super().check(**kwargs))
        unknown = sorted(set(self.options or {}) - set(DEFAULTS))
        if unknown:
            messages.append(
                checks.Error(
                    f"Unknown option(s) for {type(self).__name__}: {', '.join(unknown)}",
                    hint=f"Known options: {', '.join(DEFAULTS)}.",
                    id="aurio.E101",
                )
            )
        return messages


class ForkingWorker(Worker):
    """RQ's forking worker, minus the database connections a child would share with its parent."""

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        connections.close_all()
        super().fork_work_horse(job, queue)


# --- in the worker -------------------------------------------------------------------


def execute(task_path: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """What an RQ job runs: the django.tasks Task at `task_path`, with the framework's signals."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("aurio.tasks_redis.execute runs inside an RQ worker")
    task = import_string(task_path)
    if not isinstance(task, Task):
        raise SuspiciousOperation(f"job {job.id} does not point to a task ({task_path!r})")
    result = _result(job, status=TaskResultStatus.RUNNING)
    sender = type(result.task.get_backend())
    close_old_connections()
    task_started.send(sender, task_result=result)
    try:
        if task.takes_context:
            value = task.call(TaskContext(task_result=result), *args, **kwargs)
        else:
            value = task.call(*args, **kwargs)
    except BaseException as exc:
        error = {"exception_class_path": _path(type(exc)), "traceback": traceback.format_exc()}
        job.meta.setdefault("errors", []).append(error)
        job.save_meta()
        failed = dataclasses.replace(
            result,
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            errors=[*result.errors, TaskError(**error)],
        )
        task_finished.send(sender, task_result=failed)
        raise
    finally:
        close_old_connections()
    done = dataclasses.replace(result, status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now())
    object.__setattr__(done, "_return_value", value)
    task_finished.send(sender, task_result=done)
    return value


def _result(job: Job, *, status: TaskResultStatus | None = None) -> TaskResult:
    task_path, args, kwargs = job.args
    try:
        task = import_string(task_path)
    except ImportError:
        raise TaskResultDoesNotExist(job.id) from None
    if not isinstance(task, Task):
        raise TaskResultDoesNotExist(job.id)
    meta = job.meta
    run_after = datetime.fromisoformat(meta["run_after"]) if meta.get("run_after") else None
    task = task.using(queue_name=meta["queue_name"], run_after=run_after, backend=meta["backend"])
    status = status or STATUS.get(job.get_status(refresh=False), TaskResultStatus.READY)
    errors = [TaskError(**error) for error in meta.get("errors", [])]
    if status == TaskResultStatus.FAILED and not errors:
        # Killed (timeout, out of memory) or stopped before our code could record why.
        latest = job.latest_result()
        errors.append(
            TaskError(
                exception_class_path=_path(Exception),
                traceback=(latest.exc_string if latest and latest.exc_string else "the run was stopped"),
            )
        )
    result: TaskResult[Any, Any] = TaskResult(
        task=task,
        id=job.id,
        status=status,
        enqueued_at=_aware(job.enqueued_at),
        started_at=_aware(job.started_at),
        finished_at=_aware(job.ended_at),
        last_attempted_at=_aware(job.started_at),
        args=args,
        kwargs=kwargs,
        backend=meta["backend"],
        errors=errors,
        worker_ids=[job.worker_name] if job.worker_name else [],
    )
    if status == TaskResultStatus.SUCCESSFUL:
        object.__setattr__(result, "_return_value", job.return_value())
    return result


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and timezone.is_naive(moment):
        return moment.replace(tzinfo=UTC)
    return moment


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- the worker command ----------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aurio.tasks_redis",
        description="Run aurio's background tasks from the Redis queue "
        "(TASKS_BACKEND=aurio.tasks_redis.RedisBackend).",
    )
    parser.add_argument("--backend", default="default", help="Task backend alias (default: default).")
    parser.add_argument(
        "--queue", action="append", dest="queues", help="Queue to work on (repeatable; default: all)."
    )
    parser.add_argument("--burst", action="store_true", help="Stop once the queues are empty.")
    parser.add_argument("--name", help="Worker name (default: RQ's, unique per process).")
    parser.add_argument("--no-fork", action="store_true", help="Run tasks in this process, not in a child.")
    options = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurio.settings")
    import django

    django.setup()
    backend = task_backends[options.backend]
    if not isinstance(backend, RedisBackend):
        parser.error(
            f"the task backend {options.backend!r} is {type(backend).__module__}.{type(backend).__name__}, "
            "not aurio.tasks_redis.RedisBackend; its worker is another command (manage.py db_worker)"
        )
    from aurio.heartbeat import Heartbeat

    worker = backend.worker(options.queues, fork=not options.no_fork, name=options.name)
    # /healthz tells a queue nobody works on by the lack of this beat (aurio/heartbeat.py).
    heartbeat = Heartbeat(backend=backend).start()
    try:
        worker.work(burst=options.burst, with_scheduler=True, logging_level="INFO")
    finally:
        heartbeat.stop()


if __name__ == "__main__":
    from aurio import tasks_redis

    tasks_redis.main()
