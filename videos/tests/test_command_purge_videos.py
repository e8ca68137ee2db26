from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from invites.models import Invite
from videos.models import Video


def run(*args: str) -> str:
    out = StringIO()
    call_command("purge_videos", *args, stdout=out)
    return out.getvalue()


def age(video: Video, days: int) -> Video:
    """Backdate the video and give it a poster and a rendition, as processing would."""
    poster = default_storage.save(f"videos/{video.pk}/poster-1.jpg", ContentFile(b"j" * 10))
    playback = default_storage.save(f"videos/{video.pk}/playback-1.mp4", ContentFile(b"m" * 100))
    Video.objects.filter(pk=video.pk).update(
        created_at=timezone.now() - timedelta(days=days),
        poster=poster,
        poster_size=10,
        playback=playback,
        playback_size=100,
    )
    video.refresh_from_db()
    return video


def test_old_videos_are_deleted_with_all_their_files(db: None, make_videos) -> None:
    old, recent = make_videos(2)
    old = age(old, days=40)
    recent = age(recent, days=5)
    names = [old.file.name, old.poster.name, old.playback.name]
    out = run("--older-than-days", "30")
    assert list(Video.objects.all()) == [recent]
    assert not any(default_storage.exists(name) for name in names)
    assert default_storage.exists(recent.file.name)
    assert Invite.objects.filter(pk=old.invite_id).exists()  # the invite is kept
    total = old.size + 110
    assert f"{old.pk} c0@example.com" in out
    assert f"deleted ({total} bytes)" in out
    assert f"Deleted 1 video(s), {total} bytes" in out


def test_dry_run_deletes_nothing(video: Video) -> None:
    video = age(video, days=40)
    out = run("--older-than-days", "30", "--dry-run")
    assert Video.objects.filter(pk=video.pk).exists()
    assert default_storage.exists(video.file.name)
    assert default_storage.exists(video.playback.name)
    assert "would delete" in out
    assert f"Would delete 1 video(s), {video.size + 110} bytes" in out


def test_nothing_old_enough_deletes_nothing(video: Video) -> None:
    out = run("--older-than-days", "1")
    assert Video.objects.filter(pk=video.pk).exists()
    assert "Deleted 0 video(s), 0 bytes" in out


def test_retention_must_be_positive(db: None) -> None:
    with pytest.raises(CommandError, match="--older-than-days must be at least 1"):
        run("--older-than-days", "0")


def test_retention_is_required(db: None) -> None:
    with pytest.raises(CommandError, match="--older-than-days"):
        run()
