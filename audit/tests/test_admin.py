"""The audit log in the admin: read-only for everyone, filters, search, constant
queries; each invite's and video's history on its own page, for those allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import services as audit
from audit.models import Action, AuditEvent
from audit.services import Actor
from invites.models import Invite
from invites.services import invite_create, invite_revoke
from tests.support.factories import store_video
from videos.models import Video
from videos.services import video_set_tag

pytestmark = pytest.mark.django_db

LOG = reverse("admin:audit_auditevent_changelist")


def staff_with(*permissions: str) -> Client:
    user = User.objects.create_user(f"staff{len(permissions)}", is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def video(invite: Invite) -> Video:
    return store_video(invite, b"\x1a\x45\xdf\xa3" + bytes(64))  # type: ignore[return-value]


def make_events(count: int) -> None:
    actor = Actor(label="ops")
    for i in range(count):
        invite_create(email=f"bulk{i}@example.com", actor=actor)


def test_nobody_can_add_change_or_delete_events_not_even_a_superuser(
    staff_client: Client, invite: Invite
) -> None:
    event = AuditEvent.objects.get(object_id=invite.pk)
    assert staff_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    page = staff_client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert staff_client.post(change, {"actor_label": "someone else"}).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    listing = staff_client.get(LOG).content.decode()
    assert "delete_selected" not in listing and reverse("admin:audit_auditevent_add") not in listing
    staff_client.post(LOG, {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"})
    event.refresh_from_db()
    assert event.actor_label == "rec"


def test_the_log_is_newest_first_and_links_to_the_object(staff_client: Client, invite: Invite) -> None:
    invite_revoke(invite=invite, actor=Actor(label="later"))
    response = staff_client.get(LOG)
    assert [e.actor_label for e in response.context["cl"].result_list] == ["later", "rec"]
    assert reverse("admin:invites_invite_change", args=[invite.pk]) in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action__exact=revoked", {"revoked"}),
        ("object_type__exact=video", {"tagged"}),
        ("q=cand%40example.com", {"created", "revoked", "tagged"}),
        ("q=ops", {"created", "tagged"}),
        ("q=someone.else", {"created"}),
    ],
)
def test_filters_and_search(
    staff_client: Client, invite: Invite, video: Video, query: str, expected: set[str]
) -> None:
    invite_revoke(invite=invite, actor=Actor.of_user(invite.created_by))
    video_set_tag(video=video, tag="advance", actor=Actor(label="ops"))
    invite_create(email="someone.else@example.com", actor=Actor(label="ops"))
    response = staff_client.get(f"{LOG}?{query}")
    shown = {e.action for e in response.context["cl"].result_list}
    assert shown == expected


def test_filter_by_actor_and_by_date(staff_client: Client, recruiter: User, invite: Invite) -> None:
    old = invite_create(email="old@example.com", actor=Actor(label="ops"))
    AuditEvent.objects.filter(object_id=old.pk).update(at=timezone.now() - timedelta(days=30))
    by_actor = staff_client.get(f"{LOG}?actor__id__exact={recruiter.pk}").context["cl"].result_list
    assert {e.object_id for e in by_actor} == {invite.pk}
    since = timezone.localtime() - timedelta(days=7)  # as the filter's "Past 7 days" link gives it
    recent = staff_client.get(LOG, {"at__gte": str(since)}).context["cl"].result_list
    assert old.pk not in {e.object_id for e in recent} and invite.pk in {e.object_id for e in recent}


def test_the_log_makes_a_constant_number_of_queries(staff_client: Client) -> None:
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    make_events(3)
    few = [queries(LOG), queries(f"{LOG}?action__exact=created&q=bulk")]
    make_events(120)  # more than a page
    assert [queries(LOG), queries(f"{LOG}?action__exact=created&q=bulk")] == few


def test_staff_without_the_audit_permission_see_no_log_and_no_history(invite: Invite, video: Video) -> None:
    client = staff_with("invites.view_invite", "videos.view_video")
    assert client.get(LOG).status_code == 403
    for url in (
        reverse("admin:invites_invite_change", args=[invite.pk]),
        reverse("admin:videos_video_change", args=[video.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert "Full history" not in page.content.decode() and LOG not in page.content.decode()


def test_the_invite_page_shows_its_story_including_deleted_videos(invite: Invite, video: Video) -> None:
    from videos.services import video_delete

    video_set_tag(video=video, tag="pass", actor=Actor(label="reviewer"))
    video_delete(video=video, actor=Actor(label="reviewer"))
    client = staff_with("invites.view_invite", "audit.view_auditevent")
    body = client.get(reverse("admin:invites_invite_change", args=[invite.pk])).content.decode()
    history = body[body.index("aurio-history") :]
    assert history.index("deleted") < history.index("pending → pass") < history.index("created")
    assert f"{LOG}?invite_ref={invite.pk}" in body
    listed = client.get(f"{LOG}?invite_ref={invite.pk}").context["cl"].result_list
    assert [e.action for e in listed] == ["deleted", "tagged", "created"]


def test_the_video_page_shows_its_own_history(invite: Invite, video: Video) -> None:
    video_set_tag(video=video, tag="review", actor=Actor(label="reviewer"))
    client = staff_with("videos.view_video", "audit.view_auditevent")
    body = client.get(reverse("admin:videos_video_change", args=[video.pk])).content.decode()
    history = body[body.index("aurio-history") :]
    assert "pending → review" in history and "reviewer" in history
    assert "created" not in history  # the invite's events stay on the invite's page
    assert f"{LOG}?object_id={video.pk}" in body


def test_history_sections_make_a_constant_number_of_queries(staff_client: Client, invite: Invite) -> None:
    url = reverse("admin:invites_invite_change", args=[invite.pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            staff_client.get(url)
        return len(ctx.captured_queries)

    few = queries()
    for days in range(40):
        audit.record(actor=Actor(label="ops"), action=Action.EXTENDED, target=invite, detail={"days": days})
    assert queries() == few
