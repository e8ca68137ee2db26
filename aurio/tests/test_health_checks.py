"""/healthz notices what a reachable database, folder and queue don't show:
a queue whose tasks wait with no worker alive (the workers' heartbeat), and a
media filesystem too full to take the next upload (AURIO_MIN_FREE_BYTES)."""

from __future__ import annotations

import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.tasks import task, task_backends
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from aurio import health
from aurio import heartbeat as heartbeat_module
from tests.support import s3


@task()
def nothing() -> None:
    """A task for the queue; no worker runs it here."""


def queued(*, minutes_ago: float, due_in: timedelta | None = None) -> None:
    run = nothing if due_in is None else nothing.using(run_after=timezone.now() + due_in)
    result = run.enqueue()
    DBTaskResult.objects.filter(id=result.id).update(
        enqueued_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


@pytest.fixture(autouse=True)
def no_heartbeat(db: None) -> None:
    cache.clear()  # no worker has beaten


# --- the worker's heartbeat --------------------------------------------------------------------


def test_healthz_fails_when_tasks_wait_and_no_worker_beats(client: Client) -> None:
    queued(minutes_ago=5)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["worker"] == "error"
    assert body["queue"] == "ok"  # the queue answers; nobody works on it


def test_a_worker_s_fresh_heartbeat_keeps_healthz_ok(client: Client) -> None:
    queued(minutes_ago=5)
    heartbeat_module.record_heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"] == "ok"


def test_a_heartbeat_older_than_six_beats_is_no_worker(client: Client, settings: Any) -> None:
    settings.AURIO_WORKER_HEARTBEAT_SECONDS = 10
    queued(minutes_ago=5)
    cache.set(heartbeat_module._beat_key(task_backends["default"]), time.time() - 61)
    assert client.get("/healthz").json()["worker"] == "error"
    cache.set(heartbeat_module._beat_key(task_backends["default"]), time.time() - 50)
    assert client.get("/healthz").json()["worker"] == "ok"


def test_a_task_queued_a_moment_ago_is_not_yet_a_missing_worker(client: Client) -> None:
    # As in the test suite, or a fresh `make run` before the worker's first beat.
    queued(minutes_ago=0)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"] == "ok"


def test_a_task_due_later_is_not_waiting(client: Client) -> None:
    queued(minutes_ago=60, due_in=timedelta(hours=1))
    assert client.get("/healthz").status_code == 200


def test_an_empty_queue_needs_no_worker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"] == "ok"


def test_the_heartbeat_thread_beats_on_after_a_failed_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[float] = []

    def record(backend: object = None) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise OSError("database is locked")

    monkeypatch.setattr(heartbeat_module, "record_heartbeat", record)
    heartbeat = heartbeat_module.Heartbeat(interval=0.05).start()
    deadline = time.monotonic() + 10
    while heartbeat.beats < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    heartbeat.stop()
    assert heartbeat.beats >= 2
    assert not heartbeat._thread.is_alive()


# --- the Redis queue's heartbeat ---------------------------------------------------------------


@pytest.fixture
def redis_queue(settings: Any) -> Iterator[Any]:
    """The Redis queue as the default backend, on its own key prefix of the local Redis."""
    connection = redis.Redis.from_url(django_settings.REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis answers at {django_settings.REDIS_URL} (scripts/ensure-redis)")
    prefix = f"aurio-test-{uuid.uuid4().hex[:8]}:"
    settings.TASKS = {
        "default": {"BACKEND": "aurio.tasks_redis.RedisBackend", "OPTIONS": {"queue_prefix": prefix}}
    }
    yield task_backends["default"]
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)
    for key in connection.scan_iter("rq:job:*"):
        if b"aurio.tests.test_health_checks" in (connection.hget(key, "description") or b""):
            connection.delete(key)


def test_the_redis_queue_keeps_its_heartbeat_in_its_own_redis(redis_queue: Any, settings: Any) -> None:
    settings.AURIO_WORKER_HEARTBEAT_SECONDS = 0.05  # a worker is gone after 0.3 s
    nothing.enqueue()
    time.sleep(0.4)
    assert health.worker_alive() is False
    heartbeat_module.record_heartbeat()
    assert health.worker_alive() is True
    assert redis_queue.last_heartbeat() == pytest.approx(time.time(), abs=5)


def test_the_redis_worker_beats(redis_queue: Any) -> None:
    from aurio import tasks_redis

    assert redis_queue.last_heartbeat() is None
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tasks_redis.main(["--burst", "--no-fork"])  # an empty queue: it beats, then stops
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)  # RQ's worker installs its own
    assert redis_queue.last_heartbeat() == pytest.approx(time.time(), abs=30)


# --- free space for media ----------------------------------------------------------------------


def test_healthz_fails_when_the_media_filesystem_is_nearly_full(
    client: Client, settings: Any, media_root: Any
) -> None:
    free = shutil.disk_usage(media_root.parent).free
    settings.AURIO_MIN_FREE_BYTES = free + 10 * 1024**4  # above the real free space
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["storage"] == "error"
    assert body["database"] == "ok"
    assert 0 < body["storageFreeBytes"] < settings.AURIO_MIN_FREE_BYTES


def test_healthz_reports_the_free_space_when_there_is_enough(client: Client, media_root: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["storage"] == "ok"
    assert response.json()["storageFreeBytes"] == pytest.approx(
        shutil.disk_usage(media_root.parent).free, rel=0.1
    )


def test_the_free_space_default_is_room_for_the_largest_upload_twice() -> None:
    assert django_settings.AURIO_MIN_FREE_BYTES == 2 * django_settings.AURIO_MAX_UPLOAD_BYTES


def test_s3_storage_is_not_checked_for_free_space(client: Client, settings: Any) -> None:
    with s3.s3_server() as endpoint:
        bucket = s3.new_bucket(endpoint)
        storage = import_string(s3.BACKEND)(**s3.s3_storage_settings(endpoint, bucket)["OPTIONS"])
        assert health.storage_free_bytes(storage) is None
        settings.AURIO_MIN_FREE_BYTES = 10 * 1024**5
        with override_settings(
            STORAGES={**settings.STORAGES, "default": s3.s3_storage_settings(endpoint, bucket)}
        ):
            response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["storage"] == "ok"
    assert "storageFreeBytes" not in response.json()
