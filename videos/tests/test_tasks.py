"""Queueing and retrying processing: the database queue with its real worker,
crashes and killed runs, and running twice.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django import Settings

from invites.models import Invite
from tests.support.factories import store_video, stored_names
from uploads.accept import video_accept_upload
from videos import processing, tasks
from videos.models import Status, Video

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def upload(invite: Invite, path: Path) -> Video:
    video = video_accept_upload(invite=invite, upload=SimpleUploadedFile(path.name, path.read_bytes()))
    video.refresh_from_db()
    return video


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


# --- the database queue and its worker ---------------------------------------------


@pytest.mark.django_db
def test_an_upload_queues_processing_in_the_database(invite: Invite, recorder_webm: Path) -> None:
    video = upload(invite, recorder_webm)
    assert video.status == Status.UPLOADED
    assert video.queued_at is not None
    task = DBTaskResult.objects.get()
    assert task.task_path == "videos.tasks.process_video"
    assert task.args_kwargs == {"args": [str(video.pk)], "kwargs": {}}
    assert task.status == TaskResultStatus.READY
    assert video.task_id == str(task.id)


@pytest.mark.django_db(transaction=True)
def test_the_worker_command_processes_a_queued_upload(invite: Invite, recorder_webm: Path) -> None:
    video = upload(invite, recorder_webm)
    run_worker()
    video.refresh_from_db()
    assert video.status == Status.READY
    assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db
def test_an_upload_is_kept_when_the_queue_is_down(
    invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(type(tasks.process_video.get_backend()), "enqueue", refuse)
    video = upload(invite, recorder_webm)
    assert video.status == Status.UPLOADED
    assert default_storage.exists(video.file.name)
    assert video.task_id == ""
    monkeypatch.undo()
    # The sweep queues it once the lease has passed without a task.
    assert tasks.requeue_stuck() == []
    later = timezone.now() + processing.lease() + timedelta(seconds=1)
    assert [v.pk for v in tasks.requeue_stuck(now=later)] == [video.pk]
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db
def test_a_long_queue_is_not_mistaken_for_a_lost_task(invite: Invite, recorder_webm: Path) -> None:
    upload(invite, recorder_webm)
    later = timezone.now() + processing.lease() * 3
    assert tasks.requeue_stuck(now=later) == []  # its task is still waiting in the queue
    assert DBTaskResult.objects.count() == 1


# --- crashes, retries, killed runs ----------------------------------------------------


@pytest.fixture
def crash_after_poster(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the first run crash right after it stored its poster."""
    real_save = processing._save
    saved: list[str] = []

    def save(storage, name, path):  # type: ignore[no-untyped-def]
        stored = real_save(storage, name, path)
        saved.append(stored)
        if len(saved) == 1:
            raise OSError("simulated crash after the poster was written")
        return stored

    monkeypatch.setattr(processing, "_save", save)
    return saved


@pytest.mark.django_db
def test_a_run_that_crashes_is_retried_and_completes(
    invite: Invite, recorder_webm: Path, settings: Settings, crash_after_poster: list[str]
) -> None:
    settings.TASKS = IMMEDIATE  # the retry is queued, and runs, at once
    video = upload(invite, recorder_webm)
    assert crash_after_poster[0].endswith("poster-1.jpg")
    assert video.status == Status.READY
    assert video.processing_run == 2
    # One poster and one rendition: the crashed run's poster was cleaned up.
    assert stored_names(video) == ["original.webm", "playback-2.mp4", "poster-2.jpg"]
    assert video.poster.name.endswith("poster-2.jpg")


@pytest.mark.django_db(transaction=True)
def test_a_crashed_run_is_queued_again_for_the_worker(
    invite: Invite, recorder_webm: Path, crash_after_poster: list[str]
) -> None:
    video = upload(invite, recorder_webm)
    run_worker()  # the first run crashes and queues a retry for 30 s later
    video.refresh_from_db()
    assert video.status == Status.UPLOADED
    assert stored_names(video) == ["original.webm", "poster-1.jpg"]
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
    assert retry.run_after is not None and retry.run_after > timezone.now()
    assert DBTaskResult.objects.get(status=TaskResultStatus.FAILED).exception_class_path.endswith(
        "RetryLater"
    )
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())  # skip the wait
    run_worker()
    video.refresh_from_db()
    assert video.status == Status.READY
    assert stored_names(video) == ["original.webm", "playback-2.mp4", "poster-2.jpg"]


@pytest.mark.django_db
def test_a_run_that_always_crashes_ends_failed_with_a_reason(
    invite: Invite, recorder_webm: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TASKS = IMMEDIATE

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr("videos.transcode.transcode", broken)
    video = upload(invite, recorder_webm)
    assert video.status == Status.FAILED
    assert video.processing_tries == settings.AURIO_PROCESSING_TRIES
    assert video.failure_reason.startswith("Processing failed 3 times with an internal error")
    assert stored_names(video) == ["original.webm"]


def kill_mid_run(video: Video, *, silent_for: timedelta) -> processing.Claim:
    """What a killed worker leaves: a claimed video, a stale heartbeat, a stray poster."""
    claim = processing.claim(str(video.pk))
    assert claim is not None
    Video.objects.filter(pk=video.pk).update(heartbeat_at=timezone.now() - silent_for)
    default_storage.save(f"videos/{video.pk}/poster-{claim.run}.jpg", SimpleUploadedFile("p", b"half"))
    return claim


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_is_found_by_the_sweep_and_completed(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    kill_mid_run(video, silent_for=processing.lease() + timedelta(seconds=5))
    call_command("process_videos", "--stuck", verbosity=0)
    run_worker()
    video.refresh_from_db()
    assert video.status == Status.READY
    assert video.processing_run == 2
    assert stored_names(video) == ["original.webm", "playback-2.mp4", "poster-2.jpg"]


@pytest.mark.django_db
def test_a_live_run_is_left_alone(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    kill_mid_run(video, silent_for=timedelta(seconds=10))
    assert processing.claim(str(video.pk)) is None
    assert tasks.requeue_stuck() == []


@pytest.mark.django_db
def test_a_video_that_kills_every_run_ends_failed(
    invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    for _ in range(settings.AURIO_PROCESSING_TRIES):
        kill_mid_run(video, silent_for=processing.lease() * 2)
    assert processing.process(str(video.pk)) == "failed"
    video.refresh_from_db()
    assert video.status == Status.FAILED
    assert video.failure_reason.startswith("Processing did not finish in 3 tries")
    assert stored_names(video) == ["original.webm"]


@pytest.mark.django_db
def test_a_run_that_lost_its_claim_stops_and_leaves_nothing(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    claim = processing.claim(str(video.pk))
    assert claim is not None
    processing.mark_waiting(video, reset_tries=True)  # "Reprocess" while it runs
    with pytest.raises(processing.LeaseLost):
        processing.run(claim)
    assert stored_names(video) == ["original.webm"]


# --- twice is harmless -------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_task_for_a_ready_video_does_nothing(
    invite: Invite, recorder_webm: Path, settings: Settings
) -> None:
    settings.TASKS = IMMEDIATE
    video = upload(invite, recorder_webm)
    assert tasks.process_video.call(str(video.pk)) == "nothing to do"
    video.refresh_from_db()
    assert video.processing_run == 1


@pytest.mark.django_db
def test_reprocessing_replaces_the_outputs(invite: Invite, recorder_webm: Path, settings: Settings) -> None:
    settings.TASKS = IMMEDIATE
    video = upload(invite, recorder_webm)
    first = read(video.playback.name)
    tasks.reprocess(video)
    video.refresh_from_db()
    assert video.status == Status.READY
    assert stored_names(video) == ["original.webm", "playback-2.mp4", "poster-2.jpg"]
    assert len(read(video.playback.name)) == pytest.approx(len(first), rel=0.05)


def read(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


@pytest.mark.django_db
def test_only_one_of_two_claims_wins(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    assert processing.claim(str(video.pk)) is not None
    assert processing.claim(str(video.pk)) is None


@pytest.mark.django_db
def test_a_deleted_video_is_nothing_to_do(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    video_id = str(video.pk)
    video.delete()
    assert processing.process(video_id) == "nothing to do"


@pytest.mark.django_db
def test_the_sweep_queues_a_dead_run_once(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    kill_mid_run(video, silent_for=processing.lease() * 2)
    assert [v.pk for v in tasks.requeue_stuck()] == [video.pk]
    assert tasks.requeue_stuck() == []
    assert DBTaskResult.objects.count() == 1
