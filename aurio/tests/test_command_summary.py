from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from invites.models import Invite
from invites.services import invite_create, invite_revoke
from uploads.models import Upload
from videos.models import Status, Video


def run() -> str:
    out = StringIO()
    call_command("summary", stdout=out)
    return out.getvalue()


def test_empty_system(db: None) -> None:
    out = run()
    assert "Invites: 0\n" in out
    assert "Videos: 0\n" in out
    assert "Uploads in flight: 0\n" in out
    assert "Storage used by videos: 0 bytes" in out
    assert "Oldest unprocessed video: none" in out


def test_counts_invites_videos_uploads_and_bytes(db: None, make_videos) -> None:
    first, second = make_videos(2)
    Video.objects.filter(pk=first.pk).update(
        status=Status.READY, tag="advance", poster_size=10, playback_size=100
    )
    Video.objects.filter(pk=second.pk).update(created_at=timezone.now() - timedelta(hours=3, minutes=5))
    invite_revoke(invite=invite_create(email="gone@example.com"))
    open_invite = invite_create(email="open@example.com")
    Invite.objects.filter(pk=invite_create(email="seen@example.com").pk).update(opened_at=timezone.now())
    invite_create(email="late@example.com", expires_at=timezone.now() - timedelta(days=1))
    Upload.objects.create(invite=open_invite, length=1000)
    Upload.objects.create(invite=open_invite, length=1000, expires_at=timezone.now() - timedelta(hours=1))

    out = run()
    assert "Invites: 6\n" in out
    for line in ("open       1", "opened     1", "submitted  2", "expired    1", "revoked    1"):
        assert f"  {line}\n" in out
    assert "Videos: 2\n" in out
    assert "  ready      1\n" in out
    assert "  uploaded   1\n" in out
    assert "  advance    1\n" in out
    assert "  pending    1\n" in out
    assert "Uploads in flight: 1\n" in out
    assert f"Storage used by videos: {first.size + second.size + 110} bytes" in out
    assert "Oldest unprocessed video: waiting 3 h 5 min" in out


@pytest.mark.parametrize(
    ("age", "shown"), [(timedelta(minutes=7), "7 min"), (timedelta(days=3, hours=2), "3 days 2 h")]
)
def test_oldest_unprocessed_age_is_readable(video: Video, age: timedelta, shown: str) -> None:
    Video.objects.filter(pk=video.pk).update(created_at=timezone.now() - age)
    assert f"Oldest unprocessed video: waiting {shown}\n" in run()
