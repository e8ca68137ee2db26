from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invites.models import Invite, InviteStatus
from invites.repository import invite_for_token
from invites.services import invite_create, invite_revoke
from uploads.accept import video_accept_upload

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:invites_invite_changelist")


def make_invites(count: int, recorder_webm: Path) -> list[Invite]:
    invites = [invite_create(email=f"c{i}@example.com") for i in range(count)]
    for invite in invites[::2]:
        video_accept_upload(
            invite=invite, upload=SimpleUploadedFile("a.webm", recorder_webm.read_bytes(), "video/webm")
        )
    return invites


def test_invite_list_makes_a_constant_number_of_queries(staff_client: Client, recorder_webm: Path) -> None:
    make_invites(2, recorder_webm)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(CHANGELIST)
    make_invites(6, recorder_webm)
    with CaptureQueriesContext(connection) as many:
        staff_client.get(CHANGELIST)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_invite_list_shows_status_latest_video_and_copy_button(
    staff_client: Client, recorder_webm: Path
) -> None:
    invite = make_invites(1, recorder_webm)[0]
    body = staff_client.get(CHANGELIST).content.decode()
    assert f'data-link="{invite.link}"' in body
    assert "aurio-status-submitted" in body
    assert invite.videos.get().get_absolute_url() in body
    assert "js/admin_copy.js" in body


def test_recruiter_creates_an_invite_in_the_admin(staff_client: Client, recruiter: User) -> None:
    deadline = timezone.now() + timedelta(days=3)
    response = staff_client.post(
        reverse("admin:invites_invite_add"),
        {
            "email": "New@Example.com",
            "name": "New Person",
            "expires_at_0": deadline.strftime("%Y-%m-%d"),
            "expires_at_1": deadline.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content
    invite = Invite.objects.get()
    assert invite.email == "new@example.com"
    assert invite.created_by == recruiter
    assert abs(invite.expires_at - deadline) < timedelta(seconds=2)
    page = staff_client.get(reverse("admin:invites_invite_change", args=[invite.pk])).content.decode()
    assert invite.link in page


def test_invalid_email_is_refused_in_the_admin(staff_client: Client) -> None:
    response = staff_client.post(reverse("admin:invites_invite_add"), {"email": "not an email"})
    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    assert not Invite.objects.exists()


def test_revoke_action(staff_client: Client, invite: Invite) -> None:
    staff_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [str(invite.pk)]})
    invite.refresh_from_db()
    assert invite.status == InviteStatus.REVOKED


def test_extend_action(staff_client: Client, invite: Invite) -> None:
    deadline = invite.expires_at
    staff_client.post(CHANGELIST, {"action": "extend_7_days", "_selected_action": [str(invite.pk)]})
    invite.refresh_from_db()
    assert invite.expires_at == deadline + timedelta(days=7)


def test_new_link_action_replaces_the_link(staff_client: Client, invite: Invite) -> None:
    old = invite.token
    staff_client.post(CHANGELIST, {"action": "new_links", "_selected_action": [str(invite.pk)]})
    invite.refresh_from_db()
    assert invite.token and invite.token != old
    assert invite_for_token(old) is None
    assert invite_for_token(invite.token) == invite


@pytest.mark.parametrize("status", [s.value for s in InviteStatus])
def test_status_filter(staff_client: Client, status: str) -> None:
    invites = {s.value: invite_create(email=f"{s.value}@example.com") for s in InviteStatus}
    now = timezone.now()
    Invite.objects.filter(pk=invites["opened"].pk).update(opened_at=now)
    Invite.objects.filter(pk=invites["submitted"].pk).update(submitted_at=now)
    Invite.objects.filter(pk=invites["expired"].pk).update(expires_at=now - timedelta(days=1))
    invite_revoke(invite=invites["revoked"])
    response = staff_client.get(f"{CHANGELIST}?status={status}")
    assert [i.pk for i in response.context["cl"].result_list] == [invites[status].pk]


def test_search_by_email(staff_client: Client) -> None:
    invite_create(email="alice@example.com")
    invite_create(email="bob@example.com")
    response = staff_client.get(f"{CHANGELIST}?q=alice")
    assert [i.email for i in response.context["cl"].result_list] == ["alice@example.com"]


def test_outsider_cannot_reach_the_admin(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_staff_without_permission_is_forbidden(client: Client, teammate: User) -> None:
    client.force_login(teammate)
    assert client.get(CHANGELIST).status_code == 403
