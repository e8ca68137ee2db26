"""The worker killed mid-task, for real: a real worker process (`manage.py
db_worker`, or `python -m aurio.tasks_redis` for the Redis queue) processing
a real video with FFmpeg is killed with SIGKILL while the video's row says
"processing"; the sweep (`manage.py process_videos --stuck`) and a fresh worker
then finish it. Killed on every try, the video ends failed with a reason a
person understands, and its original is kept.

The workers are other processes, so they must share the test's database: these
tests run on PostgreSQL only (on SQLite the test database lives in this
process's memory). CI runs the suite on PostgreSQL too. A private database per
test would need `migrate` in it first, seconds per test for nothing more.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from pytest_django import Settings

from invites.models import Invite
from tests.faults.worker_processes import Worker, environment, wait_for
from tests.support.factories import store_video, stored_names
from tests.support.media import make_video
from videos import tasks
from videos.models import Status, Video
from videos.tests import test_tasks_redis

# The Redis test's fixtures: a Redis to use, and a queue prefix of the test's own.
redis_url = test_tasks_redis.redis_url
redis_tasks = test_tasks_redis.redis_tasks

LEASE_SECONDS = 2  # how long a silent run is presumed alive; the default is 300
TRIES = 2  # the default is 3: one fewer kill to wait for, the same rule

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="worker processes need a database other processes can reach; run with DATABASE_URL=postgres://…",
    ),
]


@pytest.fixture(scope="module")
def long_take(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An 8 s 640×480 MP4: processing it takes a few seconds, time to kill the worker mid-run."""
    path = tmp_path_factory.mktemp("worker") / "long.mp4"
    return make_video(path, seconds=8, size=(640, 480), fmt="mp4").read_bytes()


@pytest.fixture
def short_lease(settings: Settings) -> None:
    settings.AURIO_PROCESSING_LEASE_SECONDS = LEASE_SECONDS
    settings.AURIO_PROCESSING_TRIES = TRIES


@pytest.fixture(params=["database", "redis"])
def start_worker(
    request: pytest.FixtureRequest, media_root: Path, short_lease: None
) -> Iterator[Callable[..., Worker]]:
    """Start workers of one queue, sharing this test's database, media folder and settings."""
    overrides = {"AURIO_PROCESSING_LEASE_SECONDS": str(LEASE_SECONDS), "AURIO_PROCESSING_TRIES": str(TRIES)}
    kind = Worker.database
    if request.param == "redis":
        options: dict[str, Any] = request.getfixturevalue("redis_tasks")  # also switches this process over
        overrides |= {"TASKS_BACKEND": "aurio.tasks_redis.RedisBackend", "TASKS_OPTIONS": json.dumps(options)}
        kind = Worker.redis
    env = environment(media_root.parent, **overrides)
    started: list[Worker] = []

    def start(*, batch: bool = False) -> Worker:
        started.append(kind(env, batch=batch))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def sha256_of_stored(name: str) -> str:
    with default_storage.open(name, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def kill_mid_run(video: Video, worker: Worker, *, run: int) -> None:
    """SIGKILL the worker once run `run` has claimed the video and is writing its rendition."""

    def transcoding() -> bool:
        video.refresh_from_db()
        return video.status == Status.PROCESSING and video.processing_run == run and worker.transcoding()

    wait_for(transcoding, what=f"run {run} to claim the video and transcode", worker=worker)
    worker.kill()
    video.refresh_from_db()
    assert (video.status, video.processing_run) == (Status.PROCESSING, run), (
        "the run finished before the kill"
    )


def sweep_once_the_lease_is_over(video: Video) -> str:
    """`manage.py process_videos --stuck`, once the killed run's heartbeat is older than the lease."""
    assert video.heartbeat_at is not None
    wait = (video.heartbeat_at - timezone.now()).total_seconds() + LEASE_SECONDS + 0.2
    time.sleep(max(wait, 0))
    return sweep()


def sweep() -> str:
    out = StringIO()
    call_command("process_videos", "--stuck", stdout=out)
    return out.getvalue()


def test_a_worker_killed_mid_run_is_swept_and_a_fresh_worker_finishes_the_video(
    invite: Invite, long_take: bytes, start_worker: Callable[..., Worker]
) -> None:
    video = store_video(invite, long_take, extension="mp4")
    assert tasks.enqueue_processing(video)
    original = video.file.name

    kill_mid_run(video, start_worker(), run=1)
    assert sha256_of_stored(original) == video.sha256

    assert sweep_once_the_lease_is_over(video).endswith("1 stuck video(s) queued again.\n")
    start_worker(batch=True).finish()

    video.refresh_from_db()
    assert video.status == Status.READY, video.failure_reason
    assert video.processing_run == 2
    assert video.file.name == original
    assert stored_names(video) == ["original.mp4", "playback-2.mp4", "poster-2.jpg"]
    assert sha256_of_stored(original) == hashlib.sha256(long_take).hexdigest() == video.sha256
    assert video.playback_size and video.poster_size


@pytest.mark.parametrize("start_worker", ["database"], indirect=True)
def test_a_video_whose_worker_is_killed_on_every_try_ends_failed_and_keeps_its_original(
    invite: Invite, long_take: bytes, start_worker: Callable[..., Worker]
) -> None:
    video = store_video(invite, long_take, extension="mp4")
    assert tasks.enqueue_processing(video)

    for run in range(1, TRIES + 1):
        kill_mid_run(video, start_worker(), run=run)
        assert sweep_once_the_lease_is_over(video).endswith("1 stuck video(s) queued again.\n")
    # The next worker's claim is one try too many (here, in this process: a third
    # worker process would only add its start-up time).
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    video.refresh_from_db()
    assert video.status == Status.FAILED
    assert video.failure_reason == (
        f"Processing did not finish in {TRIES} tries (the worker stopped or crashed each time). "
        "Use “Reprocess” to try again."
    )
    assert stored_names(video) == ["original.mp4"]  # no half-written outputs left behind
    assert sha256_of_stored(video.file.name) == hashlib.sha256(long_take).hexdigest()
    # Nothing more is queued for it: the sweep leaves a failed video alone.
    assert sweep().endswith("0 stuck video(s) queued again.\n")
