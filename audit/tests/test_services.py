"""audit.record and audit.record_view: what an event says, and one "viewed" per viewing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory

from audit import services as audit
from audit.models import Action, AuditEvent, ObjectType
from audit.services import CANDIDATE, Actor
from aurio.middleware import current_request_id
from invites.models import Invite
from tests.support.factories import store_video
from videos.models import Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(invite: Invite) -> Video:
    return store_video(invite, b"\x1a\x45\xdf\xa3" + bytes(64))  # type: ignore[return-value]


def test_an_event_names_its_object_in_text_and_its_request(invite: Invite, recruiter: User) -> None:
    token = current_request_id.set("req-42")
    try:
        event = audit.record(
            actor=Actor.of_user(recruiter), action=Action.REVOKED, target=invite, detail={"why": "test"}
        )
    finally:
        current_request_id.reset(token)
    event.refresh_from_db()
    assert (event.object_type, event.object_id, event.object_label) == ("invite", invite.pk, str(invite))
    assert event.invite_ref == invite.pk
    assert (event.actor, event.actor_label, event.request_id) == (recruiter, "rec", "req-42")
    assert event.detail == {"why": "test"}


def test_a_video_event_belongs_to_its_invite(video: Video) -> None:
    event = audit.record(actor=CANDIDATE, action=Action.SUBMITTED, target=video)
    assert event.object_type == ObjectType.VIDEO
    assert event.invite_ref == video.invite_id
    assert event.request_id == ""  # no request: a command or a test


def test_a_stored_file_is_named_by_its_path() -> None:
    event = audit.record(actor=audit.SYSTEM, action=Action.DELETED, target="videos/x/original.webm")
    assert (event.object_type, event.object_id, event.object_label) == (
        "file",
        None,
        "videos/x/original.webm",
    )


def test_request_actor_carries_the_address_and_the_token_prefix_never_the_key(
    recruiter: User, token_for: object
) -> None:
    key = token_for(recruiter)  # type: ignore[operator]
    request = RequestFactory().get("/", headers={"Authorization": f"Bearer {key}"}, REMOTE_ADDR="192.0.2.7")
    request.user = recruiter
    actor = Actor.of_request(request)
    assert actor.label == f"rec (API token {key[:8]}…)"
    assert key[8:] not in actor.label
    assert actor.address == "192.0.2.7"


def test_a_bearer_key_that_is_not_the_users_token_adds_no_prefix(recruiter: User) -> None:
    request = RequestFactory().get("/", headers={"Authorization": "Bearer aur_made_up"})
    request.user = recruiter
    assert Actor.of_request(request).label == "rec"


def test_the_forwarded_address_is_used_only_behind_a_trusted_proxy(recruiter: User, settings: object) -> None:
    def address() -> str | None:
        request = RequestFactory().get(
            "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 2001:db8::5"
        )
        request.user = recruiter
        return Actor.of_request(request).address

    assert address() == "10.0.0.1"
    settings.USE_X_FORWARDED_FOR = True  # type: ignore[attr-defined]
    assert address() == "2001:db8::5"


def test_deleting_the_user_keeps_the_label(invite: Invite) -> None:
    alice = User.objects.create_user("alice", is_staff=True)
    audit.record(actor=Actor.of_user(alice), action=Action.REVOKED, target=invite)
    alice.delete()
    event = AuditEvent.objects.get(action=Action.REVOKED)
    assert (event.actor, event.actor_label) == (None, "alice")


# --- one "viewed" per actor and video within a few minutes -------------------------

START = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)  # a minute into a five-minute window


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    now = [START]
    monkeypatch.setattr("audit.services.timezone.now", lambda: now[0])
    return now


def views() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.VIEWED))


def test_repeated_requests_of_one_viewing_make_one_event(video: Video, recruiter: User, clock: list) -> None:
    actor = Actor.of_user(recruiter)
    assert audit.record_view(actor=actor, video=video)
    clock[0] += timedelta(minutes=3)
    assert not audit.record_view(actor=actor, video=video)
    assert len(views()) == 1


def test_another_viewer_or_a_later_viewing_is_recorded(video: Video, recruiter: User, clock: list) -> None:
    mate = User.objects.create_user("mate2", is_staff=True)
    assert audit.record_view(actor=Actor.of_user(recruiter), video=video)
    assert audit.record_view(actor=Actor.of_user(mate), video=video)
    clock[0] += audit.VIEW_WINDOW + timedelta(seconds=1)
    assert audit.record_view(actor=Actor.of_user(recruiter), video=video)
    assert sorted(e.actor_label for e in views()) == ["mate2", "rec", "rec"]


def test_requests_racing_past_the_check_still_make_one_event(
    video: Video, recruiter: User, clock: list
) -> None:
    """Two requests that both found no recent view (as when they run at the same
    moment) insert the same event id: the second is refused, not duplicated."""
    actor = Actor.of_user(recruiter)
    assert audit.record_view(actor=actor, video=video)
    # Hide the first from the check, as a racing request would not see it yet.
    AuditEvent.objects.update(at=START - timedelta(hours=1))
    clock[0] += timedelta(minutes=2)  # same window
    assert not audit.record_view(actor=actor, video=video)
    assert len(views()) == 1
    assert audit.record(actor=actor, action=Action.TAGGED, target=video)  # the connection still works
