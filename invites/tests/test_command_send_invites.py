from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from invites.models import Invite
from invites.services import invite_create, invite_revoke

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("send_invites", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_named_invite_gets_its_link_in_text_and_html(invite: Invite) -> None:
    out = run(str(invite.pk))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["cand@example.com"]
    assert message.subject == "Your video interview: Video answer"
    assert invite.link in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{invite.link}"' in html
    assert f"{invite.pk} cand@example.com: sent invite" in out


def test_names_are_not_html_escaped_in_the_text_body(db: None) -> None:
    invite = invite_create(email="a@example.com", name="Ann & Bo")
    run(str(invite.pk))
    assert "Hello Ann & Bo," in mail.outbox[0].body
    assert "Ann &amp; Bo" in mail.outbox[0].alternatives[0][0]


def test_all_open_skips_opened_submitted_revoked_and_expired(db: None) -> None:
    fresh = invite_create(email="fresh@example.com")
    Invite.objects.filter(pk=invite_create(email="opened@example.com").pk).update(opened_at=timezone.now())
    Invite.objects.filter(pk=invite_create(email="done@example.com").pk).update(submitted_at=timezone.now())
    invite_revoke(invite=invite_create(email="gone@example.com"))
    invite_create(email="late@example.com", expires_at=timezone.now() - timedelta(minutes=1))
    out = run("--all-open")
    assert [m.to for m in mail.outbox] == [["fresh@example.com"]]
    assert fresh.link in mail.outbox[0].body
    assert "Sent 1 invite email(s)." in out


def test_reminders_go_to_usable_invites_expiring_within_the_window(db: None) -> None:
    soon = invite_create(email="soon@example.com", expires_at=timezone.now() + timedelta(hours=20))
    opened = invite_create(email="opened@example.com", expires_at=timezone.now() + timedelta(hours=40))
    Invite.objects.filter(pk=opened.pk).update(opened_at=timezone.now())
    invite_create(email="later@example.com", expires_at=timezone.now() + timedelta(hours=60))
    done = invite_create(email="done@example.com", expires_at=timezone.now() + timedelta(hours=10))
    Invite.objects.filter(pk=done.pk).update(submitted_at=timezone.now())
    run("--reminders")
    assert sorted(m.to[0] for m in mail.outbox) == ["opened@example.com", "soon@example.com"]
    reminder = next(m for m in mail.outbox if m.to == ["soon@example.com"])
    assert reminder.subject.startswith("Reminder:")
    assert soon.link in reminder.body
    assert soon.link in reminder.alternatives[0][0]


def test_before_hours_widens_the_reminder_window(db: None) -> None:
    invite_create(email="later@example.com", expires_at=timezone.now() + timedelta(hours=60))
    run("--reminders", "--before-hours", "72")
    assert len(mail.outbox) == 1


def test_dry_run_sends_nothing(invite: Invite) -> None:
    out = run("--all-open", "--dry-run")
    assert mail.outbox == []
    assert "would send invite" in out
    assert "Would send 1 invite email(s)." in out


def test_unknown_id_is_refused_and_nothing_is_sent(invite: Invite) -> None:
    with pytest.raises(CommandError, match="No invite with id 'nope'; nothing was sent."):
        run(str(invite.pk), "nope")
    assert mail.outbox == []


def test_revoked_invite_is_refused(invite: Invite) -> None:
    invite_revoke(invite=invite)
    with pytest.raises(CommandError, match="is revoked; nothing was sent"):
        run(str(invite.pk))
    assert mail.outbox == []


def test_invite_whose_link_died_with_a_key_change_is_skipped(invite: Invite, settings) -> None:
    settings.INVITE_TOKEN_KEY = "another-key"
    out = run("--all-open")
    assert mail.outbox == []
    assert "link is dead" in out


@pytest.mark.parametrize(
    "args", [[], ["--all-open", "--reminders"], ["--all-open", "00000000-0000-0000-0000-000000000000"]]
)
def test_exactly_one_selection_is_required(db: None, args: list[str]) -> None:
    with pytest.raises(CommandError, match="one of them"):
        run(*args)


def test_before_hours_must_be_positive(db: None) -> None:
    with pytest.raises(CommandError, match="--before-hours"):
        run("--reminders", "--before-hours", "0")


def test_mail_server_down_is_a_clear_error(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    first = invite_create(email="first@example.com")
    second = invite_create(email="second@example.com")
    sent: list[str] = []

    def send(message, fail_silently: bool = False) -> int:
        if message.to == ["second@example.com"]:
            raise ConnectionRefusedError(111, "Connection refused")
        sent.append(message.to[0])
        return 1

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", send)
    with pytest.raises(
        CommandError,
        match="Could not send to second@example.com: .*Connection refused.*1 email\\(s\\) went out before it",
    ):
        run(str(first.pk), str(second.pk))
    assert sent == ["first@example.com"]
