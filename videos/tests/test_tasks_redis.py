"""The Redis queue (aurio.tasks_redis) for real: uploads queued in a real Redis,
run by real RQ workers, two workers racing for one video, and a Redis that is down.

The Redis is the one answering on 127.0.0.1:6379, or a `redis-server` these
tests start on a free port (scripts/ensure-redis installs it). Each test gets
its own queue prefix, so tests (and other users of that Redis) never see each
other's jobs, and removes its keys afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.tasks import TaskResultStatus, task_backends
from django.utils import timezone
from pytest_django import Settings
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from aurio.tasks_redis import EXECUTE, RedisBackend
from invites.models import Invite
from tests.support.ci import require
from tests.support.factories import stored_names
from tests.support.processes import free_port
from uploads.accept import video_accept_upload
from videos import processing, tasks
from videos.models import Status, Video

SHARED_REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


def _answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping())
    except (RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis to test against: the shared one if it answers, else one we start."""
    if _answers(SHARED_REDIS):
        yield SHARED_REDIS
        return
    server = shutil.which("redis-server")
    if server is None:
        reason = (
            f"no Redis answers at {SHARED_REDIS} and `redis-server` is not on PATH "
            "(scripts/ensure-redis installs Debian's redis-server)"
        )
        require(reason)
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 15
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port} (exit {proc.poll()})")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_tasks(settings: Settings, redis_url: str) -> Iterator[dict[str, Any]]:
    """Switch the task backend to Redis, as TASKS_BACKEND / TASKS_OPTIONS would."""
    prefix = f"aurio-test-{uuid.uuid4().hex[:12]}:"
    options = {"url": redis_url, "queue_prefix": prefix, "result_ttl": 600, "failure_ttl": 600}
    # Assigning TASKS sends setting_changed, which makes django.tasks drop its cached backends.
    settings.TASKS = {"default": {"BACKEND": "aurio.tasks_redis.RedisBackend", "OPTIONS": options}}
    assert isinstance(tasks.process_video.get_backend(), RedisBackend)
    yield options
    _remove_keys(redis_url, prefix)


def _remove_keys(redis_url: str, prefix: str) -> None:
    """Remove a test's queues and registries, and the jobs they hold, from the Redis."""
    client = Redis.from_url(redis_url, decode_responses=True)
    for key in client.scan_iter(match=f"*{prefix}*"):
        kind = client.type(key)
        ids = (
            client.lrange(key, 0, -1)
            if kind == "list"
            else client.zrange(key, 0, -1)
            if kind == "zset"
            else []
        )
        for job_id in ids:
            client.delete(f"rq:job:{job_id}", f"rq:results:{job_id}")
        client.delete(key)
    for name in client.smembers("rq:queues"):
        if prefix in name:
            client.srem("rq:queues", name)
    client.close()


def backend() -> RedisBackend:
    current = task_backends["default"]
    assert isinstance(current, RedisBackend)
    return current


def upload(invite: Invite, path: Path) -> Video:
    video = video_accept_upload(invite=invite, upload=SimpleUploadedFile(path.name, path.read_bytes()))
    video.refresh_from_db()
    return video


def work(*, name: str | None = None, max_jobs: int | None = None) -> None:
    """An RQ worker in this process (so it sees the test database), until the queue is empty."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        backend().worker(fork=False, name=name).work(burst=True, max_jobs=max_jobs, logging_level="WARNING")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def job(job_id: str) -> Job:
    return Job.fetch(job_id, connection=backend().connection, serializer=JSONSerializer)


def queued_ids() -> list[str]:
    return list(backend().rq_queue("default").get_job_ids())


# --- queueing ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_upload_is_queued_in_redis(
    redis_tasks: dict[str, Any], invite: Invite, recorder_webm: Path
) -> None:
    video = upload(invite, recorder_webm)
    assert video.status == Status.UPLOADED
    assert video.task_id
    assert queued_ids() == [video.task_id]
    queued = job(video.task_id)
    assert queued.func_name == EXECUTE
    assert queued.args == ["videos.tasks.process_video", [str(video.pk)], {}]
    assert queued.origin == f"{redis_tasks['queue_prefix']}default"
    result = tasks.process_video.get_result(video.task_id)
    assert result.status == TaskResultStatus.READY
    assert result.args == [str(video.pk)]
    assert result.enqueued_at is not None
    # The sweep sees a task still waiting in Redis as a long queue, not a lost task.
    assert tasks._still_queued(video)


@pytest.mark.django_db
def test_a_retry_is_deferred_in_redis(
    redis_tasks: dict[str, Any], invite: Invite, recorder_webm: Path
) -> None:
    video = upload(invite, recorder_webm)
    assert tasks._enqueue(video.pk, delay=timedelta(minutes=5))
    video.refresh_from_db()
    deferred = job(video.task_id)
    assert deferred.get_status() == JobStatus.SCHEDULED
    registry = ScheduledJobRegistry(queue=backend().rq_queue("default"))
    assert video.task_id in registry.get_job_ids()
    result = backend().get_result(video.task_id)
    assert result.status == TaskResultStatus.READY
    assert result.task.run_after is not None and result.task.run_after > timezone.now()


# --- working ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_processes_an_upload_from_redis(
    redis_tasks: dict[str, Any], invite: Invite, recorder_webm: Path
) -> None:
    video = upload(invite, recorder_webm)
    work(name=f"w-{uuid.uuid4().hex[:8]}")
    video.refresh_from_db()
    assert video.status == Status.READY
    assert video.duration_seconds and video.width and video.height
    assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]
    assert queued_ids() == []
    result = backend().get_result(video.task_id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "ready"
    assert result.finished_at is not None and result.worker_ids


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_process_one_video_twice(
    redis_tasks: dict[str, Any], invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two jobs for one video (an upload and a "Reprocess" click, or the sweep)
    taken by two workers: while the first is processing, the second's claim fails."""
    video = upload(invite, recorder_webm)
    first = video.task_id
    assert tasks._enqueue(video.pk)  # a second job for the same video
    video.refresh_from_db()
    second = video.task_id
    assert queued_ids() == [first, second]

    real_run = processing.run
    seen: dict[str, Any] = {}

    def run_while_another_worker_tries(claim: processing.Claim) -> None:
        # Worker A holds the claim; worker B takes the next job from Redis now.
        work(name="worker-b", max_jobs=1)
        seen["b"] = backend().get_result(second)
        seen["status during b"] = Video.objects.get(pk=video.pk).status
        real_run(claim)

    monkeypatch.setattr(processing, "run", run_while_another_worker_tries)
    work(name="worker-a", max_jobs=1)

    assert seen["status during b"] == Status.PROCESSING
    assert seen["b"].status == TaskResultStatus.SUCCESSFUL
    assert seen["b"].return_value == "nothing to do"
    assert seen["b"].worker_ids == ["worker-b"]
    a = backend().get_result(first)
    assert (a.return_value, a.worker_ids) == ("ready", ["worker-a"])
    video.refresh_from_db()
    assert video.status == Status.READY
    assert video.processing_run == 1  # one run, by one worker
    assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]


def _postgres_url() -> str:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_worker_processes_race_for_videos_and_each_video_is_processed_once(
    redis_tasks: dict[str, Any], make_videos: Callable[[int], list[Video]]
) -> None:
    """Separate worker processes (`python -m aurio.tasks_redis --burst`, forking a
    child per job), as on separate machines, sharing the queue and the database."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "worker processes need a database other processes can reach; run with DATABASE_URL=postgres://…"
        )
    videos = make_videos(3)
    for video in videos:
        assert tasks._enqueue(video.pk)  # every video queued twice
    assert len(queued_ids()) == 6
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aurio.settings_test",
        "DATABASE_URL": _postgres_url(),
        "AURIO_DATA_DIR": str(django_settings.DATA_DIR),
        "TASKS_BACKEND": "aurio.tasks_redis.RedisBackend",
        "TASKS_OPTIONS": json.dumps(redis_tasks),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "aurio.tasks_redis", "--burst", "--name", f"proc-{n}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert queued_ids() == []
    for video in videos:
        video.refresh_from_db()
        assert video.status == Status.READY
        assert video.processing_run == 1
        assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]
    ids = backend().rq_queue("default").finished_job_registry.get_job_ids()
    assert len(ids) == 6
    outcomes: dict[str, list[str]] = {}
    for job_id in ids:
        result = backend().get_result(job_id)
        outcomes.setdefault(result.return_value, []).append(result.worker_ids[0])
    assert sorted(outcomes) == ["nothing to do", "ready"]
    assert len(outcomes["ready"]) == 3 and len(outcomes["nothing to do"]) == 3


# --- Redis down, Redis emptied ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_upload_is_kept_when_redis_is_down(
    redis_tasks: dict[str, Any], settings: Settings, invite: Invite, recorder_webm: Path
) -> None:
    up = settings.TASKS
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    settings.TASKS = {"default": {**up["default"], "OPTIONS": {**redis_tasks, "url": nothing_listens}}}
    video = upload(invite, recorder_webm)
    assert video.status == Status.UPLOADED
    assert default_storage.exists(video.file.name)
    assert video.task_id == ""
    # Redis is back: the sweep queues the video once the lease has passed.
    settings.TASKS = up
    assert tasks.requeue_stuck() == []
    later = timezone.now() + processing.lease() + timedelta(seconds=1)
    assert [v.pk for v in tasks.requeue_stuck(now=later)] == [video.pk]
    video.refresh_from_db()
    assert queued_ids() == [video.task_id]


@pytest.mark.django_db
def test_a_task_lost_from_redis_is_queued_again_by_the_sweep(
    redis_tasks: dict[str, Any], invite: Invite, recorder_webm: Path
) -> None:
    """Redis restarted without persistence (or flushed): the video's task id names
    no job. get_result raises django.tasks' TaskResultDoesNotExist, and the sweep requeues."""
    video = upload(invite, recorder_webm)
    lost = video.task_id
    backend().rq_queue("default").empty()
    later = timezone.now() + processing.lease() + timedelta(seconds=1)
    assert [v.pk for v in tasks.requeue_stuck(now=later)] == [video.pk]
    video.refresh_from_db()
    assert video.task_id != lost
    assert queued_ids() == [video.task_id]


# --- configuration ------------------------------------------------------------------------------


def test_the_redis_url_setting_is_used_unless_the_options_name_one(settings: Settings) -> None:
    settings.REDIS_URL = "redis://queue.internal:6380/2"
    settings.TASKS = {"default": {"BACKEND": "aurio.tasks_redis.RedisBackend", "OPTIONS": {}}}
    assert backend().config["url"] == "redis://queue.internal:6380/2"
    assert backend().rq_queue_name("default") == "aurio:default"
    options = {"url": "redis://other:6379/0", "queue_prefix": "x-", "job_timout": 5}
    settings.TASKS = {"default": {"BACKEND": "aurio.tasks_redis.RedisBackend", "OPTIONS": options}}
    assert backend().config["url"] == "redis://other:6379/0"
    assert [m.id for m in backend().check()] == ["aurio.E101"]  # the misspelt job_timeout
