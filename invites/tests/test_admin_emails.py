"""Emailing candidates from the invite list: invitations and reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from invites.models import Invite
from invites.services import invite_create, invite_revoke
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:invites_invite_changelist")


def act(client: Client, action: str, *invites: Invite) -> str:
    response = client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(i.pk) for i in invites]}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def test_send_invitation_emails_the_link_and_the_interview(staff_client: Client, recruiter: User) -> None:
    interview = make_interview(title="Designer")
    invite = invite_create(email="ada@example.com", name="Ada", interview=interview)
    page = act(staff_client, "send_invitation", invite)
    assert "Sent 1 invitation email(s)." in page
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Your video interview: Designer"
    assert invite.link in message.body and "There are 3 questions" in message.body
    assert f'href="{invite.link}"' in message.alternatives[0][0]
    invite.refresh_from_db()
    assert invite.sent_at is not None and invite.reminded_at is None
    event = AuditEvent.objects.get(action=Action.EMAILED)
    assert (event.object_id, event.actor, event.detail) == (invite.pk, recruiter, {"kind": "invite"})


def test_send_reminder_sets_reminded_at(staff_client: Client, invite: Invite) -> None:
    page = act(staff_client, "send_reminder", invite)
    assert "Sent 1 reminder email(s)." in page
    assert mail.outbox[0].subject.startswith("Reminder: your video interview (Video answer) closes")
    assert invite.link in mail.outbox[0].body
    invite.refresh_from_db()
    assert invite.reminded_at is not None and invite.sent_at is None
    assert AuditEvent.objects.get(action=Action.EMAILED).detail == {"kind": "reminder"}


def test_submitted_revoked_expired_and_dead_invites_are_skipped_and_counted(
    staff_client: Client, settings: object
) -> None:
    fresh = invite_create(email="fresh@example.com")
    done = invite_create(email="done@example.com")
    Invite.objects.filter(pk=done.pk).update(submitted_at=timezone.now())
    gone = invite_create(email="gone@example.com")
    invite_revoke(invite=gone)
    late = invite_create(email="late@example.com", expires_at=timezone.now() - timedelta(minutes=1))
    page = act(staff_client, "send_invitation", fresh, done, gone, late)
    assert "Sent 1 invitation email(s)." in page
    assert "Skipped 3: " in page
    for reason in ("1 submitted", "1 revoked", "1 expired"):
        assert reason in page
    assert [m.to for m in mail.outbox] == [["fresh@example.com"]]
    assert list(Invite.objects.filter(sent_at__isnull=False).values_list("email", flat=True)) == [
        "fresh@example.com"
    ]
    assert AuditEvent.objects.filter(action=Action.EMAILED).count() == 1


def test_an_invite_whose_link_died_is_skipped(staff_client: Client, invite: Invite, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INVITE_TOKEN_KEY = "another-key"
    page = act(staff_client, "send_reminder", invite)
    assert "Skipped 1: 1 link dead" in page
    assert mail.outbox == []


def test_a_mail_failure_names_what_went_out_and_is_no_500(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = invite_create(email="first@example.com")
    second = invite_create(email="second@example.com")
    third = invite_create(email="third@example.com")
    sent: list[str] = []

    def send(message, fail_silently: bool = False) -> int:
        if message.to == ["second@example.com"]:
            raise ConnectionRefusedError(111, "Connection refused")
        sent.append(message.to[0])
        return 1

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", send)
    page = act(staff_client, "send_invitation", first, second, third)
    assert "Sent 1 invitation email(s)." in page
    assert "Could not send to second@example.com: [Errno 111] Connection refused." in page
    assert "Sent before it: first@example.com." in page
    assert "Not sent: second@example.com and 1 more." in page
    assert sent == ["first@example.com"]
    stamped = set(Invite.objects.filter(sent_at__isnull=False).values_list("email", flat=True))
    assert stamped == {"first@example.com"}


def test_the_list_shows_when_it_was_sent_opened_started_and_completed(
    staff_client: Client, invite: Invite
) -> None:
    now = timezone.now()
    Invite.objects.filter(pk=invite.pk).update(
        sent_at=now, reminded_at=now, opened_at=now, started_at=now, submitted_at=now
    )
    body = staff_client.get(CHANGELIST).content.decode()
    local = timezone.localtime(now)
    for column in ("sent", "opened", "started", "completed"):
        assert f'<td class="field-{column}"><time datetime="{local.isoformat()}"' in body
    assert "<small>reminded <time" in body


def test_the_emailed_filter(staff_client: Client) -> None:
    sent = invite_create(email="sent@example.com")
    invite_create(email="new@example.com")
    Invite.objects.filter(pk=sent.pk).update(sent_at=timezone.now())
    response = staff_client.get(f"{CHANGELIST}?sent_at__isempty=1")
    assert [i.email for i in response.context["cl"].result_list] == ["new@example.com"]


def test_sending_needs_the_change_permission(client: Client, teammate: User, invite: Invite) -> None:
    client.force_login(teammate)
    response = client.post(CHANGELIST, {"action": "send_invitation", "_selected_action": [str(invite.pk)]})
    assert response.status_code == 403
    assert mail.outbox == []
