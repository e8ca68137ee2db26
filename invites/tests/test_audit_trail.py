"""What the audit trail records about invites, from every place that changes
them: the admin, the API, the candidate's page and the operators' commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.tests.trail import assert_no_secrets, last_event, trail
from invites.models import Invite
from tests.support.factories import store_video
from videos.models import Video

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:invites_invite_changelist")


def test_admin_create_names_the_recruiter_their_address_and_the_request(staff_client: Client) -> None:
    deadline = timezone.now() + timedelta(days=3)
    response = staff_client.post(
        reverse("admin:invites_invite_add"),
        {
            "email": "new@example.com",
            "expires_at_0": f"{deadline:%Y-%m-%d}",
            "expires_at_1": f"{deadline:%H:%M:%S}",
        },
        REMOTE_ADDR="198.51.100.4",
    )
    invite = Invite.objects.get()
    event = last_event(invite)
    assert (event.action, event.actor_label, event.actor) == ("created", "rec", invite.created_by)
    assert event.client_address == "198.51.100.4"
    assert event.request_id == response["X-Request-ID"]
    assert event.object_label == "new@example.com"


@pytest.mark.parametrize(
    ("action", "recorded"),
    [("revoke", "revoked"), ("extend_7_days", "extended"), ("new_links", "link_reissued")],
)
def test_admin_actions_are_recorded(staff_client: Client, invite: Invite, action: str, recorded: str) -> None:
    staff_client.post(CHANGELIST, {"action": action, "_selected_action": [str(invite.pk)]})
    assert trail(invite) == [("created", "rec"), (recorded, "rec")]


def test_extension_keeps_the_old_and_new_deadline(staff_client: Client, invite: Invite) -> None:
    before = invite.expires_at
    staff_client.post(CHANGELIST, {"action": "extend_7_days", "_selected_action": [str(invite.pk)]})
    invite.refresh_from_db()
    assert last_event(invite).detail == {"from": before.isoformat(), "to": invite.expires_at.isoformat()}


def test_a_new_link_is_recorded_without_either_token(staff_client: Client, invite: Invite) -> None:
    old = invite.token
    staff_client.post(CHANGELIST, {"action": "new_links", "_selected_action": [str(invite.pk)]})
    invite.refresh_from_db()
    assert_no_secrets(old, invite.token, invite.nonce)


def save_in_admin(
    client: Client,
    invite: Invite,
    *,
    name: str | None = None,
    deadline: datetime | None = None,
    tags: dict[Video, str] | None = None,
) -> None:
    """Post the invite's change form as the admin's page would (with its video list)."""
    deadline = timezone.localtime(deadline or invite.expires_at)
    videos: dict[str, str] = {
        "videos-TOTAL_FORMS": str(len(tags or {})),
        "videos-INITIAL_FORMS": str(len(tags or {})),
    }
    for i, (video, tag) in enumerate((tags or {}).items()):
        videos |= {
            f"videos-{i}-id": str(video.pk),
            f"videos-{i}-invite": str(invite.pk),
            f"videos-{i}-tag": tag,
        }
    response = client.post(
        reverse("admin:invites_invite_change", args=[invite.pk]),
        {
            "email": invite.email,
            "name": invite.name if name is None else name,
            "expires_at_0": f"{deadline:%Y-%m-%d}",
            "expires_at_1": f"{deadline:%H:%M:%S.%f}",
            **videos,
        },
    )
    assert response.status_code == 302, response.content


def test_editing_in_the_admin_records_each_changed_field(staff_client: Client, invite: Invite) -> None:
    deadline = timezone.localtime(invite.expires_at + timedelta(days=1)).replace(microsecond=0)
    save_in_admin(staff_client, invite, name="Candidate Renamed", deadline=deadline)
    invite.refresh_from_db()
    assert (invite.name, invite.expires_at) == ("Candidate Renamed", deadline)
    event = last_event(invite)
    assert event.action == "edited"
    assert set(event.detail) == {"name", "expires_at"}  # the email did not change
    assert event.detail["name"] == {"from": "Cand", "to": "Candidate Renamed"}


def test_saving_unchanged_records_nothing(staff_client: Client, invite: Invite) -> None:
    save_in_admin(staff_client, invite)
    assert trail(invite) == [("created", "rec")]


def test_api_create_names_the_token_by_prefix_only(recruiter: User, token_for: object) -> None:
    key = token_for(recruiter)  # type: ignore[operator]
    client = Client(headers={"Authorization": f"Bearer {key}"})
    response = client.post("/api/v1/invites", {"email": "api@example.com"}, content_type="application/json")
    assert response.status_code == 201
    invite = Invite.objects.get(email="api@example.com")
    event = last_event(invite)
    assert (event.action, event.actor, event.actor_label) == (
        "created",
        recruiter,
        f"rec (API token {key[:8]}…)",
    )
    assert event.client_address == "127.0.0.1"
    assert_no_secrets(key, response.json()["token"])


def test_api_create_through_a_staff_session_names_the_user(staff_client: Client) -> None:
    staff_client.post("/api/v1/invites", {"email": "s@example.com"}, content_type="application/json")
    assert trail(Invite.objects.get(email="s@example.com")) == [("created", "rec")]


def test_the_candidate_opening_the_link_is_recorded_once(client: Client, invite: Invite) -> None:
    assert client.get(reverse("invites:record", args=[invite.token])).status_code == 200
    client.get(f"/api/v1/invites/{invite.token}")
    client.get(reverse("invites:record", args=[invite.token]))
    assert trail(invite) == [("created", "rec"), ("opened", "candidate")]
    assert last_event(invite).client_address is None  # candidates' addresses are not kept
    assert_no_secrets(invite.token)


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_revoke_invites_names_the_command(invite: Invite) -> None:
    run("revoke_invites", str(invite.pk))
    event = last_event(invite)
    assert event.action == "revoked"
    assert event.actor is None and event.actor_label.startswith("manage.py revoke_invites")


def test_a_dry_run_records_nothing(invite: Invite, tmp_path: Path) -> None:
    run("revoke_invites", str(invite.pk), "--dry-run")
    run("send_invites", str(invite.pk), "--dry-run")
    path = tmp_path / "invites.csv"
    path.write_text("email\nx@example.com\n")
    run("import_invites", str(path), "--dry-run")
    assert AuditEvent.objects.exclude(action=Action.CREATED, object_id=invite.pk).count() == 0


def test_import_invites_records_each_created_invite(tmp_path: Path) -> None:
    path = tmp_path / "invites.csv"
    path.write_text("email\na@example.com\nnot-an-email\nb@example.com\n")
    with pytest.raises(Exception):  # noqa: B017 - the bad row makes it exit 1
        run("import_invites", str(path))
    labels = AuditEvent.objects.filter(action=Action.CREATED).values_list("object_label", "actor_label")
    assert sorted(label for label, _ in labels) == ["a@example.com", "b@example.com"]
    assert all(actor.startswith("manage.py import_invites") for _, actor in labels)


def test_send_invites_records_what_was_emailed(invite: Invite) -> None:
    run("send_invites", str(invite.pk))
    event = last_event(invite)
    assert (event.action, event.detail) == ("emailed", {"kind": "invite"})
    assert_no_secrets(invite.token)


def test_a_tag_changed_in_the_invite_page_s_video_list_is_recorded(
    staff_client: Client, invite: Invite, recruiter: User, media_root: Path
) -> None:
    video = cast(Video, store_video(invite, b"\x1a\x45\xdf\xa3 not really played"))
    save_in_admin(staff_client, invite, tags={video: "advance"})
    video.refresh_from_db()
    assert video.tag == "advance"
    event = last_event(video)
    assert (event.action, event.actor_label) == (Action.TAGGED, recruiter.username)
    assert event.detail == {"from": "pending", "to": "advance"}
