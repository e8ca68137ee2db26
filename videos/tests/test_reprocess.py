"""Reprocessing and accepting suggestions: `manage.py process_videos`, the
admin's actions and buttons, and the review page's "Accept suggestion"."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from pytest_django import Settings

from audit.models import Action, AuditEvent
from invites.models import Invite
from invites.services import invite_create
from tests.support.factories import store_video, stored_names
from videos.models import Status, Tag, Video

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:videos_video_changelist")
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def command(*args: str) -> str:
    out = StringIO()
    call_command("process_videos", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def failed(invite: Invite) -> Video:
    return store_video(invite, b"\x1a\x45\xdf\xa3 broken", status=Status.FAILED, failure_reason="old")


@pytest.fixture
def processed(invite: Invite, recorder_webm: Path, settings: Settings) -> Video:
    """A ready video whose suggestion ("pass": a tone is not speech) differs from its tag."""
    settings.TASKS = IMMEDIATE
    video = store_video(invite, recorder_webm.read_bytes())
    call_command("process_videos", str(video.pk), "--now", stdout=StringIO())
    video.refresh_from_db()
    assert (video.status, video.tag, video.suggested_tag) == (Status.READY, Tag.PENDING, Tag.PASS)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    return video


# --- the command ------------------------------------------------------------------


def test_command_queues_one_video_again(failed: Video) -> None:
    out = command(str(failed.pk))
    assert f"video {failed.pk}: queued" in out
    failed.refresh_from_db()
    assert (failed.status, failed.failure_reason, failed.processing_tries) == (Status.UPLOADED, "", 0)
    assert DBTaskResult.objects.get().args_kwargs["args"] == [str(failed.pk)]


def test_the_command_is_in_the_audit_trail(failed: Video) -> None:
    command(str(failed.pk))
    command(str(failed.pk), "--now")
    events = AuditEvent.objects.filter(object_id=failed.pk, action=Action.REPROCESSED).order_by("at")
    assert [e.actor_label.split(" (as ")[0] for e in events] == ["manage.py process_videos"] * 2
    assert [e.detail for e in events] == [{"queued": True}, {"outcome": "failed"}]


def test_command_queues_every_video_in_a_status(failed: Video, recorder_webm: Path) -> None:
    other = store_video(invite_create(email="b@example.com"), recorder_webm.read_bytes(), status=Status.READY)
    out = command("--status", "failed")
    assert "1 video(s) queued." in out
    other.refresh_from_db()
    assert other.status == Status.READY
    assert DBTaskResult.objects.count() == 1


def test_command_can_process_in_place(failed: Video) -> None:
    out = command(str(failed.pk), "--now")
    assert f"video {failed.pk}: failed: The video could not be read" in out
    assert not DBTaskResult.objects.exists()


def test_command_processes_a_good_video_in_place(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    assert f"video {video.pk}: ready" in command(str(video.pk), "--now")
    assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]


def test_command_sweeps_stuck_videos(invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())  # never queued
    out = command("--stuck")
    assert f"video {video.pk}: was uploaded, queued again" in out
    assert "1 stuck video(s) queued again." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name the videos to process"),
        (("not-a-uuid",), "No video with id 'not-a-uuid'"),
        (("00000000-0000-0000-0000-000000000000",), "No video with id"),
        (("--stuck", "--status", "failed"), "--stuck looks for videos itself"),
        (("--every", "5"), "--every goes with --stuck"),
        (("--stuck", "--every", "0"), "--every needs a number of seconds above 0"),
        (("--stuck", "--every", "-1"), "--every needs a number of seconds above 0"),
        (("--stuck", "--every", "nan"), "--every needs a number of seconds above 0"),
    ],
)
def test_command_refuses_unclear_requests(db: None, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        command(*args)


# --- the admin --------------------------------------------------------------------


def test_reprocess_action(staff_client: Client, failed: Video) -> None:
    response = staff_client.post(CHANGELIST, {"action": "reprocess", "_selected_action": [str(failed.pk)]})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Status.UPLOADED
    assert DBTaskResult.objects.count() == 1


def test_reprocess_button_on_the_change_page(staff_client: Client, failed: Video) -> None:
    url = reverse("admin:videos_video_change", args=[failed.pk])
    page = staff_client.get(url).content.decode()
    assert 'name="_reprocess"' in page
    assert "old" in page  # the failure reason
    response = staff_client.post(url, {"tag": failed.tag, "_reprocess": "1"})
    assert response.status_code == 302 and response["Location"] == url
    failed.refresh_from_db()
    assert failed.status == Status.UPLOADED


def test_list_shows_poster_status_reason_and_suggestion(
    staff_client: Client, processed: Video, failed: Video
) -> None:
    body = staff_client.get(CHANGELIST).content.decode()
    assert f'<img src="{reverse("api:video_poster", args=[processed.pk])}"' in body
    assert "no speech detected" in body
    assert f'name="_accept_suggestion" value="{processed.pk}"' in body
    assert '<div class="aurio-reason">old</div>' in body


def test_accept_button_in_the_list(staff_client: Client, processed: Video) -> None:
    response = staff_client.post(CHANGELIST, {"_accept_suggestion": str(processed.pk)})
    assert response.status_code == 302
    processed.refresh_from_db()
    assert processed.tag == Tag.PASS


def test_accept_action(staff_client: Client, processed: Video) -> None:
    data = {"action": "accept_suggestions", "_selected_action": [str(processed.pk)]}
    assert staff_client.post(CHANGELIST, data).status_code == 302
    processed.refresh_from_db()
    assert processed.tag == Tag.PASS


def test_accept_button_on_the_change_page(staff_client: Client, processed: Video) -> None:
    url = reverse("admin:videos_video_change", args=[processed.pk])
    assert "Accept suggestion: pass" in staff_client.get(url).content.decode()
    assert staff_client.post(url, {"tag": "pending", "_accept_suggestion": "1"}).status_code == 302
    processed.refresh_from_db()
    assert processed.tag == Tag.PASS


def test_a_view_only_recruiter_cannot_accept(client: Client, processed: Video) -> None:
    viewer = User.objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_video"))
    client.force_login(viewer)
    client.post(CHANGELIST, {"_accept_suggestion": str(processed.pk)})
    processed.refresh_from_db()
    assert processed.tag == Tag.PENDING


def test_filter_by_suggested_tag(staff_client: Client, processed: Video, failed: Video) -> None:
    response = staff_client.get(f"{CHANGELIST}?suggested_tag__exact=pass")
    assert [v.pk for v in response.context["cl"].result_list] == [processed.pk]


# --- the review page --------------------------------------------------------------


def test_review_page_accepts_the_suggestion_in_one_click(staff_client: Client, processed: Video) -> None:
    page = staff_client.get(processed.get_absolute_url()).content.decode()
    assert "Accept suggestion: pass" in page
    assert "no speech detected" in page
    response = staff_client.post(reverse("videos:tag", args=[processed.pk]), {"tag": processed.suggested_tag})
    assert response.status_code == 302
    processed.refresh_from_db()
    assert processed.tag == Tag.PASS
    assert "Accept suggestion" not in staff_client.get(processed.get_absolute_url()).content.decode()


def test_accepting_needs_the_csrf_token(processed: Video, recruiter: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(recruiter)
    response = client.post(reverse("videos:tag", args=[processed.pk]), {"tag": "pass"})
    assert response.status_code == 403
    processed.refresh_from_db()
    assert processed.tag == Tag.PENDING
