"""send_invites keeps a record: sent_at and reminded_at, the audit trail, and
--all-open / --reminders leave out who was already emailed."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import Action, AuditEvent
from invites.models import Invite
from invites.services import invite_create
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("send_invites", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_the_email_names_the_interview_its_deadline_and_link() -> None:
    interview = make_interview(title="Backend engineer", questions=[{"text": "Why?", "answer_seconds": 90}])
    invite = invite_create(email="a@example.com", interview=interview)
    run(str(invite.pk))
    message = mail.outbox[0]
    assert message.subject == "Your video interview: Backend engineer"
    assert "video interview: Backend engineer." in message.body
    assert "There is one question" in message.body
    assert "at most 90 seconds an answer" in message.body
    assert invite.expires_at.strftime("%d %B %Y").lstrip("0") in message.body
    assert invite.link in message.body
    assert "<strong>Backend engineer</strong>" in message.alternatives[0][0]


def test_sending_sets_sent_at_and_is_audited(invite: Invite) -> None:
    before = timezone.now()
    run(str(invite.pk))
    invite.refresh_from_db()
    assert invite.sent_at is not None and invite.sent_at >= before
    assert invite.reminded_at is None
    event = AuditEvent.objects.get(action=Action.EMAILED)
    assert event.object_id == invite.pk
    assert event.detail == {"kind": "invite"}
    assert event.actor_label.startswith("manage.py send_invites")


def test_a_reminder_sets_reminded_at_and_is_audited_as_a_reminder(db: None) -> None:
    invite = invite_create(email="soon@example.com", expires_at=timezone.now() + timedelta(hours=20))
    run("--reminders")
    invite.refresh_from_db()
    assert invite.reminded_at is not None
    assert invite.sent_at is None
    assert AuditEvent.objects.get(action=Action.EMAILED).detail == {"kind": "reminder"}
    assert "(Video answer)" in mail.outbox[0].subject


def test_all_open_leaves_out_invites_already_emailed_unless_again(db: None) -> None:
    sent = invite_create(email="sent@example.com")
    invite_create(email="new@example.com")
    Invite.objects.filter(pk=sent.pk).update(sent_at=timezone.now() - timedelta(days=1))
    run("--all-open")
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    mail.outbox.clear()
    run("--all-open", "--again")
    assert sorted(m.to[0] for m in mail.outbox) == ["new@example.com", "sent@example.com"]


def test_a_second_reminder_run_in_the_window_reminds_nobody_again(db: None) -> None:
    invite_create(email="soon@example.com", expires_at=timezone.now() + timedelta(hours=20))
    run("--reminders")
    out = run("--reminders")
    assert len(mail.outbox) == 1
    assert "Sent 0 reminder email(s)." in out
    run("--reminders", "--again")
    assert len(mail.outbox) == 2


def test_a_reminder_long_ago_does_not_stop_the_next_one(db: None) -> None:
    invite = invite_create(email="soon@example.com", expires_at=timezone.now() + timedelta(hours=20))
    Invite.objects.filter(pk=invite.pk).update(reminded_at=timezone.now() - timedelta(days=5))
    run("--reminders")
    assert len(mail.outbox) == 1


def test_a_mail_failure_keeps_the_record_of_what_went_out(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    first = invite_create(email="first@example.com")
    second = invite_create(email="second@example.com")
    third = invite_create(email="third@example.com")

    def send(message, fail_silently: bool = False) -> int:
        if message.to == ["second@example.com"]:
            raise ConnectionRefusedError(111, "Connection refused")
        return 1

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", send)
    with pytest.raises(CommandError, match="1 email\\(s\\) went out before it \\(recorded\\), 1 not tried"):
        run(str(first.pk), str(second.pk), str(third.pk))
    sent = dict(Invite.objects.values_list("email", "sent_at"))
    assert sent["first@example.com"] is not None
    assert sent["second@example.com"] is None and sent["third@example.com"] is None
    assert AuditEvent.objects.filter(action=Action.EMAILED).count() == 1


def test_dry_run_records_nothing(invite: Invite) -> None:
    run("--all-open", "--dry-run")
    invite.refresh_from_db()
    assert invite.sent_at is None
    assert not AuditEvent.objects.filter(action=Action.EMAILED).exists()
