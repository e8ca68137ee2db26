from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from videos.models import Status, Video


@pytest.fixture(autouse=True)
def own_storage(settings, tmp_path: Path) -> None:
    """A storage of this test's own, so files other tests left behind don't count."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": tmp_path / "media"}},
    }


def run(*args: str) -> str:
    out = StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def orphan(name: str, *, hours_old: float) -> str:
    name = default_storage.save(name, ContentFile(b"x"))
    when = time.time() - hours_old * 3600
    os.utime(default_storage.path(name), (when, when))
    return name


def with_outputs(video: Video) -> Video:
    poster = default_storage.save(f"videos/{video.pk}/poster-1.jpg", ContentFile(b"j"))
    playback = default_storage.save(f"videos/{video.pk}/playback-1.mp4", ContentFile(b"m"))
    Video.objects.filter(pk=video.pk).update(poster=poster, playback=playback)
    video.refresh_from_db()
    return video


def test_consistent_storage_reports_nothing(video: Video) -> None:
    with_outputs(video)
    out = run()
    assert "0 orphan file(s); 0 video(s) without their original; 0 unfinished submission(s)" in out


def test_storage_never_written_to_is_fine(db: None) -> None:
    out = run("--fix")
    assert "Deleted 0 orphan file(s), kept 0 younger than an hour; marked 0 video(s)" in out


def test_without_fix_orphans_both_ways_are_reported_and_nothing_changes(video: Video) -> None:
    video = with_outputs(video)
    stray = orphan("videos/gone/original.webm", hours_old=5)
    default_storage.delete(video.file.name)
    out = run()
    assert f"orphan file {stray}\n" in out
    assert f"video {video.pk}: original file missing\n" in out
    assert "1 orphan file(s); 1 video(s) without their original; 0 unfinished" in out
    assert "Run with --fix to clean up." in out
    assert default_storage.exists(stray)
    video.refresh_from_db()
    assert video.status != Status.FAILED


def test_fix_deletes_old_orphans_and_spares_young_ones(video: Video) -> None:
    video = with_outputs(video)
    old = orphan("videos/gone/original.webm", hours_old=2)
    young = orphan(f"videos/{video.pk}/playback-2.mp4", hours_old=0.1)
    out = run("--fix")
    assert not default_storage.exists(old)
    assert default_storage.exists(young)
    for name in (video.file.name, video.poster.name, video.playback.name):
        assert default_storage.exists(name)
    assert f"orphan file {old}: deleted" in out
    assert f"orphan file {young}: kept, younger than an hour" in out
    assert "Deleted 1 orphan file(s), kept 1 younger than an hour" in out


def test_fix_marks_videos_without_their_original_failed(video: Video) -> None:
    default_storage.delete(video.file.name)
    out = run("--fix")
    video.refresh_from_db()
    assert video.status == Status.FAILED
    assert video.failure_reason == "original file missing from storage"
    assert f"video {video.pk}: original file missing: marked failed" in out
    assert "marked 1 video(s) without their original as failed;" in out


def test_fix_fails_a_video_by_processings_rule_and_only_once(video: Video) -> None:
    """The same fields as a failed processing run (no lease left behind, when it
    failed), and a second --fix neither moves that date nor records it again."""
    from audit.models import AuditEvent

    Video.objects.filter(pk=video.pk).update(heartbeat_at=video.created_at)
    default_storage.delete(video.file.name)
    run("--fix")
    video.refresh_from_db()
    assert video.heartbeat_at is None
    assert video.processed_at is not None
    first = video.processed_at
    run("--fix")
    video.refresh_from_db()
    assert video.processed_at == first
    assert AuditEvent.objects.filter(action="marked_failed", object_id=video.pk).count() == 1
