"""Invite candidates from the admin: a pasted list or a CSV, all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from interviews.models import Interview
from invites.models import Invite
from invites.services import invite_create
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db

BULK = reverse("admin:invites_invite_bulk")


def post(client: Client, interview: Interview, candidates: str = "", **extra: object):  # type: ignore[no-untyped-def]
    return client.post(BULK, {"interview": str(interview.pk), "candidates": candidates, **extra})


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("candidates.csv", text.encode(), "text/csv")


def test_the_list_links_to_the_page_and_it_offers_the_default_interview(staff_client: Client) -> None:
    assert BULK in staff_client.get(reverse("admin:invites_invite_changelist")).content.decode()
    page = staff_client.get(BULK)
    assert page.status_code == 200
    assert page.context["form"]["interview"].value() == Interview.objects.default().pk
    assert "All or nothing" in page.content.decode()


def test_two_candidates_from_a_pasted_list(staff_client: Client, recruiter: User) -> None:
    interview = make_interview(title="Designer", deadline_days=5)
    response = post(staff_client, interview, "Ada Lovelace <Ada@Example.com>\n\nbob@example.com, Bob Byte\n")
    assert response.status_code == 302
    assert response["Location"].endswith(f"?interview__id__exact={interview.pk}")
    invites = {i.email: i for i in Invite.objects.all()}
    assert set(invites) == {"ada@example.com", "bob@example.com"}
    assert invites["ada@example.com"].name == "Ada Lovelace"
    assert invites["bob@example.com"].name == "Bob Byte"
    for invite in invites.values():
        assert invite.interview == interview
        assert invite.created_by == recruiter
        assert (
            timezone.now() + timedelta(days=4)
            < invite.expires_at
            < timezone.now() + timedelta(days=5, minutes=1)
        )
    assert (
        AuditEvent.objects.filter(
            action=Action.CREATED, object_id__in=[i.pk for i in invites.values()]
        ).count()
        == 2
    )
    assert mail.outbox == []  # not asked to send


def test_a_bare_email_line_has_no_name(staff_client: Client) -> None:
    post(staff_client, Interview.objects.default(), "ada@example.com")
    invite = Invite.objects.get()
    assert (invite.email, invite.name) == ("ada@example.com", "")


def test_bad_lines_are_listed_with_their_number_and_nothing_is_created(staff_client: Client) -> None:
    response = post(
        staff_client,
        Interview.objects.default(),
        "ada@example.com\nnot an email\n\nAda <ADA@example.com>\n, Nameless\nbob@example.com",
    )
    assert response.status_code == 200
    bad = [(b.line, b.reason) for b in response.context["bad"]]
    assert bad == [
        (2, "not a valid email address: 'not an email'"),
        (4, "duplicate of line 1"),
        (5, "email is empty"),
    ]
    assert "3 lines refused; nothing was created." in response.content.decode()
    assert not Invite.objects.exists()


def test_a_candidate_with_an_open_invite_to_the_interview_is_refused(staff_client: Client) -> None:
    interview = make_interview()
    invite_create(email="ada@example.com", interview=interview)
    response = post(staff_client, interview, "bob@example.com\nada@example.com")
    assert [(b.line, b.reason) for b in response.context["bad"]] == [
        (2, "already has an open invite to this interview")
    ]
    assert Invite.objects.count() == 1
    # Another interview is another matter.
    assert post(staff_client, Interview.objects.default(), "ada@example.com").status_code == 302


def test_two_candidates_from_a_csv(staff_client: Client) -> None:
    interview = make_interview()
    upload = csv_upload(
        "email,name,expires_at\nada@example.com,Ada,2099-01-02T10:00:00+00:00\nbob@example.com,,\n"
    )
    response = staff_client.post(BULK, {"interview": str(interview.pk), "csv_file": upload})
    assert response.status_code == 302
    ada = Invite.objects.get(email="ada@example.com")
    assert ada.expires_at.isoformat() == "2099-01-02T10:00:00+00:00"
    assert ada.interview == interview
    assert Invite.objects.get(email="bob@example.com").name == ""


def test_a_csv_with_bad_rows_creates_nothing(staff_client: Client) -> None:
    upload = csv_upload("email,expires_at\nada@example.com,\ncy@example.com,tomorrow\n")
    response = staff_client.post(BULK, {"interview": str(Interview.objects.default().pk), "csv_file": upload})
    assert [(b.line, b.email, b.reason) for b in response.context["bad"]] == [
        (3, "cy@example.com", "expires_at 'tomorrow' is not an ISO date and time")
    ]
    assert not Invite.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"mail,name\nada@example.com,Ada\n",
            "The file has no &#x27;email&#x27; column (found: mail, name).",
        ),
        (b"\xff\xfe\x00email", "The file is not UTF-8 text."),
    ],
)
def test_an_unreadable_csv_is_refused(staff_client: Client, content: bytes, message: str) -> None:
    upload = SimpleUploadedFile("c.csv", content, "text/csv")
    response = staff_client.post(BULK, {"interview": str(Interview.objects.default().pk), "csv_file": upload})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Invite.objects.exists()


def test_a_list_and_a_file_together_or_neither_is_refused(staff_client: Client) -> None:
    default = Interview.objects.default()
    both = post(staff_client, default, "ada@example.com", csv_file=csv_upload("email\nbob@example.com\n"))
    assert "one of them" in both.content.decode()
    neither = post(staff_client, default, "  \n ")
    assert "one of them" in neither.content.decode()
    assert not Invite.objects.exists()


def test_too_many_candidates_at_once_are_refused(staff_client: Client) -> None:
    lines = "\n".join(f"c{i}@example.com" for i in range(501))
    response = post(staff_client, Interview.objects.default(), lines)
    assert "At most 500 candidates at a time" in response.content.decode()
    assert not Invite.objects.exists()


def test_an_unknown_interview_is_refused(staff_client: Client) -> None:
    response = staff_client.post(
        BULK, {"interview": "00000000-0000-0000-0000-000000000000", "candidates": "ada@example.com"}
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Invite.objects.exists()


def test_send_now_emails_each_new_candidate(staff_client: Client) -> None:
    interview = make_interview(title="Designer")
    response = post(staff_client, interview, "ada@example.com\nbob@example.com", send_now="on")
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "bob@example.com"]
    for message in mail.outbox:
        invite = Invite.objects.get(email=message.to[0])
        assert invite.link in message.body and "Designer" in message.subject
        assert invite.sent_at is not None
    assert AuditEvent.objects.filter(action=Action.EMAILED).count() == 2
    page = staff_client.get(response["Location"]).content.decode()
    assert "Created 2 invite(s) to “Designer”." in page
    assert "Sent 2 invitation email(s)." in page


def test_send_now_reports_a_mail_failure_and_keeps_the_invites(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def send(message, fail_silently: bool = False) -> int:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", send)
    response = post(
        staff_client, Interview.objects.default(), "ada@example.com\nbob@example.com", send_now="on"
    )
    page = staff_client.get(response["Location"]).content.decode()
    assert "Could not send to ada@example.com" in page
    assert "Sent before it: none" in page
    assert Invite.objects.count() == 2
    assert not Invite.objects.filter(sent_at__isnull=False).exists()


def test_adding_needs_the_add_permission(client: Client, teammate: User) -> None:
    client.force_login(teammate)
    assert client.get(BULK).status_code == 403
    response = client.post(
        BULK, {"interview": str(Interview.objects.default().pk), "candidates": "a@example.com"}
    )
    assert response.status_code == 403
    assert not Invite.objects.exists()


def test_sending_needs_the_change_permission(client: Client, teammate: User) -> None:
    teammate.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_invite", "view_invite", "view_interview"])
    )
    client.force_login(teammate)
    assert BULK in client.get(reverse("admin:invites_invite_changelist")).content.decode()
    response = client.post(
        BULK,
        {"interview": str(Interview.objects.default().pk), "candidates": "a@example.com", "send_now": "on"},
    )
    assert "You may create invites but not email them" in response.content.decode()
    assert not Invite.objects.exists()
    assert mail.outbox == []


def test_outsider_is_sent_to_the_login(client: Client, outsider: User) -> None:
    client.force_login(outsider)
    response = client.get(BULK)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
