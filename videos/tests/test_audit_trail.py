"""What the audit trail records about videos: the candidate's submission, tags
from every place, views (once per viewing, not per Range request), reprocessing,
deletion and the operators' commands; and that events outlive the video."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import Actor
from audit.tests.trail import assert_no_secrets, last_event, trail
from videos.models import Status, Video
from videos.services import video_set_tag

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:videos_video_changelist")


@pytest.fixture(autouse=True)
def _own_media(media_root: Path) -> None:
    """An empty storage of this test's own (reconcile looks at all of it)."""


def views(video: Video) -> list[str]:
    return [actor for action, actor in trail(video) if action == Action.VIEWED]


def test_the_candidates_upload_is_recorded_as_submitted(video: Video) -> None:
    event = last_event(video)
    assert (event.action, event.actor, event.actor_label) == ("submitted", None, "candidate")
    assert event.invite_ref == video.invite_id
    assert event.detail == {
        "size": video.size,
        "content_type": video.content_type,
        "question": str(video.question_id),
    }
    assert_no_secrets(video.invite.token)


def test_tagging_from_the_watch_page_keeps_before_and_after(staff_client: Client, video: Video) -> None:
    staff_client.post(reverse("videos:tag", args=[video.pk]), {"tag": "advance"})
    event = last_event(video)
    assert (event.action, event.actor_label, event.detail) == (
        "tagged",
        "rec",
        {"from": "pending", "to": "advance"},
    )


def test_tagging_in_the_admin_list_form_and_action(staff_client: Client, video: Video) -> None:
    form = {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(video.pk), "_save": "Save"}
    staff_client.post(CHANGELIST, {**form, "form-0-tag": "review"})
    staff_client.post(reverse("admin:videos_video_change", args=[video.pk]), {"tag": "pass"})
    staff_client.post(reverse("admin:videos_video_change", args=[video.pk]), {"tag": "pass"})  # unchanged
    staff_client.post(CHANGELIST, {"action": "tag_advance", "_selected_action": [str(video.pk)]})
    tags = AuditEvent.objects.filter(object_id=video.pk, action=Action.TAGGED).order_by("at")
    assert [(e.detail["from"], e.detail["to"]) for e in tags] == [
        ("pending", "review"),
        ("review", "pass"),
        ("pass", "advance"),
    ]
    assert {(e.actor_label, e.client_address) for e in tags} == {("rec", "127.0.0.1")}


def test_accepting_a_suggestion_says_so(staff_client: Client, video: Video) -> None:
    Video.objects.filter(pk=video.pk).update(suggested_tag="review")
    staff_client.post(
        reverse("admin:videos_video_change", args=[video.pk]), {"tag": "pending", "_accept_suggestion": "1"}
    )
    assert last_event(video).detail == {"from": "pending", "to": "review", "suggestion": "accepted"}


def test_tagging_through_the_api_names_the_token(
    recruiter: User, token_for: Callable[[User], str], video: Video
) -> None:
    key = token_for(recruiter)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    response = client.post(f"/api/v1/videos/{video.pk}/tag", {"tag": "pass"}, content_type="application/json")
    assert response.status_code == 200
    assert trail(video)[-1] == ("tagged", f"rec (API token {key[:8]}…)")
    assert_no_secrets(key)


def test_a_player_seeking_through_the_video_is_one_view(staff_client: Client, video: Video) -> None:
    url = reverse("api:stream_video", args=[video.pk])
    for start in (0, 100, 2000, 0):
        assert staff_client.get(url, headers={"Range": f"bytes={start}-"}).status_code == 206
    staff_client.head(url)
    assert staff_client.get(reverse("videos:detail", args=[video.pk])).status_code == 200
    assert staff_client.get(reverse("admin:videos_video_change", args=[video.pk])).status_code == 200
    assert views(video) == ["rec"]


def test_each_viewer_is_recorded(
    staff_client: Client, video: Video, token_for: Callable[[User], str]
) -> None:
    other = User.objects.create_superuser("other", "o@example.com", "pw")
    staff_client.get(reverse("videos:detail", args=[video.pk]))
    api = Client(headers={"Authorization": f"Bearer {token_for(other)}"})
    response = api.get(reverse("api:stream_video", args=[video.pk]), headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    other_view, rec_view = sorted(views(video))
    assert other_view.startswith("other (API token aur_") and rec_view == "rec"


def test_refused_or_bodiless_requests_are_not_views(client: Client, teammate: User, video: Video) -> None:
    client.force_login(teammate)  # staff without permission
    client.get(reverse("api:stream_video", args=[video.pk]))
    client.get(reverse("videos:detail", args=[video.pk]))
    superuser = Client()
    superuser.force_login(User.objects.create_superuser("boss", "b@example.com", "pw"))
    superuser.head(reverse("api:stream_video", args=[video.pk]))
    superuser.get(reverse("api:playback_video", args=[video.pk]))  # no rendition yet: 404
    superuser.get(reverse("api:stream_video", args=[video.pk]), headers={"Range": "bytes=999999999-"})  # 416
    assert views(video) == []


def test_reprocessing_from_the_admin_is_recorded(staff_client: Client, video: Video) -> None:
    staff_client.post(CHANGELIST, {"action": "reprocess", "_selected_action": [str(video.pk)]})
    staff_client.post(
        reverse("admin:videos_video_change", args=[video.pk]), {"tag": "pending", "_reprocess": "1"}
    )
    assert [a for a, _ in trail(video)].count("reprocessed") == 2


def test_events_outlive_a_video_deleted_in_the_admin(staff_client: Client, video: Video) -> None:
    video_set_tag(video=video, tag="pass", actor=Actor(label="reviewer"))
    pk, invite_id = video.pk, video.invite_id
    assert (
        staff_client.post(reverse("admin:videos_video_delete", args=[pk]), {"post": "yes"}).status_code == 302
    )
    assert not Video.objects.filter(pk=pk).exists()
    assert trail(video) == [("submitted", "candidate"), ("tagged", "reviewer"), ("deleted", "rec")]
    deleted = last_event(video)
    assert deleted.invite_ref == invite_id and deleted.object_label.startswith("cand@example.com")


def test_bulk_delete_in_the_admin_records_each_video(
    staff_client: Client, make_videos: Callable[[int], list[Video]]
) -> None:
    videos = make_videos(2)
    staff_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [str(v.pk) for v in videos], "post": "yes"},
    )
    assert not Video.objects.exists()
    assert AuditEvent.objects.filter(action=Action.DELETED, actor_label="rec").count() == 2


def test_purge_keeps_every_event_and_adds_its_own(video: Video) -> None:
    staff = Client()
    staff.force_login(User.objects.create_superuser("boss", "b@example.com", "pw"))
    staff.get(reverse("videos:detail", args=[video.pk]))
    Video.objects.filter(pk=video.pk).update(created_at=timezone.now() - timedelta(days=40))
    call_command("purge_videos", "--older-than-days", "30", stdout=StringIO())
    assert not Video.objects.filter(pk=video.pk).exists()
    assert [action for action, _ in trail(video)] == ["submitted", "viewed", "purged"]
    purged = last_event(video)
    assert purged.actor_label.startswith("manage.py purge_videos")
    assert purged.detail == {"size": video.size, "older_than_days": 30}


def test_reconcile_fix_records_deleted_orphans_and_failed_videos(video: Video) -> None:
    import os
    import time

    orphan = default_storage.save("videos/gone/original.webm", ContentFile(b"x"))
    hour_ago = time.time() - 7200
    os.utime(default_storage.path(orphan), (hour_ago, hour_ago))
    default_storage.delete(video.file.name)
    call_command("reconcile", stdout=StringIO())
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "created",
        "submitted",
    }  # a report only
    call_command("reconcile", "--fix", stdout=StringIO())
    deleted = AuditEvent.objects.get(action=Action.DELETED)
    assert (deleted.object_type, deleted.object_label) == ("file", orphan)
    failed = last_event(video)
    assert failed.action == "marked_failed" and failed.actor_label.startswith("manage.py reconcile --fix")
    assert Video.objects.get(pk=video.pk).status == Status.FAILED
