"""The invite admin and interviews: choosing one, filtering by it, the
candidate's adjustments, and each question's answer with its takes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from interviews.models import Interview
from invites.models import Answer, Invite
from invites.services import answer_for, invite_create
from tests.support.factories import make_interview, store_video

pytestmark = pytest.mark.django_db

ADD = reverse("admin:invites_invite_add")
CHANGELIST = reverse("admin:invites_invite_changelist")


def change_url(invite: Invite) -> str:
    return reverse("admin:invites_invite_change", args=[invite.pk])


def reset_url(invite: Invite, question: object) -> str:
    return reverse("admin:invites_invite_reset_takes", args=[invite.pk, question.pk])  # type: ignore[attr-defined]


def save(client: Client, invite: Invite, **fields: object):  # type: ignore[no-untyped-def]
    deadline = timezone.localtime(invite.expires_at)
    data = {
        "email": invite.email,
        "name": invite.name,
        "expires_at_0": f"{deadline:%Y-%m-%d}",
        "expires_at_1": f"{deadline:%H:%M:%S.%f}",
        "extra_time_percent": invite.extra_time_percent,
        "extra_takes": invite.extra_takes,
        "videos-TOTAL_FORMS": "0",
        "videos-INITIAL_FORMS": "0",
        **fields,
    }
    return client.post(change_url(invite), data)


def used_takes(invite: Invite, question: object, takes: int, *, submitted: bool = False) -> Answer:
    answer = answer_for(invite=invite, question=question)  # type: ignore[arg-type]
    Answer.objects.filter(pk=answer.pk).update(
        takes=takes, submitted_at=timezone.now() if submitted else None
    )
    answer.refresh_from_db()
    return answer


# --- adding -----------------------------------------------------------------------


def test_the_add_form_offers_the_default_interview(staff_client: Client) -> None:
    form = staff_client.get(ADD).context["adminform"].form
    assert form["interview"].value() == Interview.objects.default().pk
    assert form["expires_at"].value() is None


def test_an_invite_to_a_chosen_interview_gets_its_deadline(staff_client: Client) -> None:
    interview = make_interview(title="Designer", deadline_days=3)
    response = staff_client.post(ADD, {"email": "ada@example.com", "interview": str(interview.pk)})
    assert response.status_code == 302, response.content.decode()
    invite = Invite.objects.get()
    assert invite.interview == interview
    assert (
        timezone.now() + timedelta(days=2) < invite.expires_at < timezone.now() + timedelta(days=3, minutes=1)
    )
    event = AuditEvent.objects.get(object_id=invite.pk)
    assert event.detail["interview"] == str(interview.pk)


def test_an_invite_without_a_chosen_interview_belongs_to_the_default(staff_client: Client) -> None:
    assert staff_client.post(ADD, {"email": "ada@example.com", "interview": ""}).status_code == 302
    assert Invite.objects.get().interview == Interview.objects.default()


def test_an_unknown_interview_is_refused(staff_client: Client) -> None:
    response = staff_client.post(
        ADD, {"email": "ada@example.com", "interview": "00000000-0000-0000-0000-000000000000"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Invite.objects.exists()


# --- the list ---------------------------------------------------------------------


def test_the_list_shows_and_filters_by_interview(staff_client: Client) -> None:
    designer = make_interview(title="Designer")
    invite_create(email="ada@example.com", interview=designer)
    invite_create(email="bob@example.com")
    body = staff_client.get(CHANGELIST).content.decode()
    assert re.search(r'<td class="field-interview[^"]*">Designer</td>', body)
    response = staff_client.get(f"{CHANGELIST}?interview__id__exact={designer.pk}")
    assert [i.email for i in response.context["cl"].result_list] == ["ada@example.com"]


# --- adjustments ------------------------------------------------------------------


def test_extra_time_and_takes_are_saved_and_audited(
    staff_client: Client, invite: Invite, recruiter: User
) -> None:
    response = save(staff_client, invite, extra_time_percent=50, extra_takes=2)
    assert response.status_code == 302, response.content.decode()
    invite.refresh_from_db()
    assert (invite.extra_time_percent, invite.extra_takes) == (50, 2)
    event = AuditEvent.objects.filter(object_id=invite.pk, action=Action.EDITED).get()
    assert event.actor == recruiter
    assert event.detail == {"extra_time_percent": {"from": 0, "to": 50}, "extra_takes": {"from": 0, "to": 2}}
    page = staff_client.get(change_url(invite)).content.decode()
    assert "180 s" in page  # 120 s × 1.5
    assert "0 / 5" in page  # three takes by default, and two more


@pytest.mark.parametrize(
    ("field", "value"), [("extra_time_percent", 201), ("extra_takes", 11), ("extra_takes", -1)]
)
def test_adjustments_out_of_bounds_are_refused(
    staff_client: Client, invite: Invite, field: str, value: int
) -> None:
    response = save(staff_client, invite, **{field: value})
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    invite.refresh_from_db()
    assert (invite.extra_time_percent, invite.extra_takes) == (0, 0)
    assert not AuditEvent.objects.filter(object_id=invite.pk, action=Action.EDITED).exists()


def test_blank_adjustments_mean_none(staff_client: Client, invite: Invite) -> None:
    Invite.objects.filter(pk=invite.pk).update(extra_takes=2)
    invite.refresh_from_db()
    assert save(staff_client, invite, extra_takes="").status_code == 302
    invite.refresh_from_db()
    assert invite.extra_takes == 0


def test_the_interview_is_shown_but_not_changed_on_the_invite_page(
    staff_client: Client, invite: Invite
) -> None:
    other = make_interview(title="Designer")
    page = staff_client.get(change_url(invite)).content.decode()
    assert 'name="interview"' not in page
    assert "Video answer" in page
    save(staff_client, invite, interview=str(other.pk))
    invite.refresh_from_db()
    assert invite.interview == Interview.objects.default()


# --- answers and resetting takes ------------------------------------------------------


def test_the_page_lists_each_question_with_its_takes_and_video(
    staff_client: Client, recruiter: User, media_root: Path
) -> None:
    interview = make_interview(
        questions=[{"text": "Warm up", "practice": True}, {"text": "Why?"}, {"text": "How?"}]
    )
    invite = invite_create(email="ada@example.com", interview=interview)
    warm_up, why, how = interview.questions.all()
    video = store_video(invite, b"\x1a\x45\xdf\xa3 webm", question=why)
    answer = used_takes(invite, why, 2, submitted=True)
    Answer.objects.filter(pk=answer.pk).update(submission_id=video.pk)
    used_takes(invite, how, 1)
    response = staff_client.get(change_url(invite))
    rows = {row["question"].text: row for row in response.context["answer_rows"]}
    assert (rows["Why?"]["takes"], rows["Why?"]["allowed"], rows["Why?"]["video"]) == (2, 3, video)
    assert rows["Why?"]["reset_url"] == ""  # answered
    assert rows["How?"]["reset_url"] == reset_url(invite, how)
    assert rows["Warm up"]["reset_url"] == ""
    body = response.content.decode()
    assert "(practice, never sent)" in body
    assert video.get_absolute_url() in body
    assert f'formaction="{reset_url(invite, how)}"' in body


def test_reset_takes_gives_them_back_and_is_audited(
    staff_client: Client, invite: Invite, recruiter: User
) -> None:
    question = invite.interview.questions.get()
    answer = used_takes(invite, question, 3)
    response = staff_client.post(reset_url(invite, question), follow=True)
    assert "has all 3 take(s)" in response.content.decode()
    answer.refresh_from_db()
    assert answer.takes == 0
    event = AuditEvent.objects.get(object_id=invite.pk, action=Action.EDITED)
    assert event.actor == recruiter
    assert event.detail == {"takes_reset": {"question": str(question.pk), "from": 3, "to": 0}}


def test_an_answered_question_keeps_its_takes(staff_client: Client, invite: Invite) -> None:
    question = invite.interview.questions.get()
    answer = used_takes(invite, question, 2, submitted=True)
    response = staff_client.post(reset_url(invite, question), follow=True)
    assert "is answered: its takes can" in response.content.decode()
    answer.refresh_from_db()
    assert answer.takes == 2
    assert not AuditEvent.objects.filter(object_id=invite.pk, action=Action.EDITED).exists()


def test_a_question_not_started_has_nothing_to_reset(staff_client: Client, invite: Invite) -> None:
    question = invite.interview.questions.get()
    response = staff_client.post(reset_url(invite, question), follow=True)
    assert "nothing to reset" in response.content.decode()
    assert not Answer.objects.exists()
    assert not AuditEvent.objects.filter(object_id=invite.pk, action=Action.EDITED).exists()


def test_another_interviews_question_is_refused(staff_client: Client, invite: Invite) -> None:
    other = make_interview().questions.first()
    response = staff_client.post(reset_url(invite, other), follow=True)
    assert "not one of this invite" in response.content.decode()


def test_reset_takes_refuses_get(staff_client: Client, invite: Invite) -> None:
    question = invite.interview.questions.get()
    used_takes(invite, question, 1)
    assert staff_client.get(reset_url(invite, question)).status_code == 405
    assert Answer.objects.get().takes == 1


def test_reset_takes_needs_the_permission_to_change_answers(
    client: Client, teammate: User, invite: Invite
) -> None:
    teammate.user_permissions.add(*Permission.objects.filter(codename__in=["view_invite", "change_invite"]))
    client.force_login(teammate)
    question = invite.interview.questions.get()
    used_takes(invite, question, 1)
    assert client.get(change_url(invite)).context["answer_rows"][0]["reset_url"] == ""
    assert client.post(reset_url(invite, question)).status_code == 403
    assert Answer.objects.get().takes == 1


def test_reset_takes_of_an_unknown_invite_redirects(staff_client: Client, invite: Invite) -> None:
    question = invite.interview.questions.get()
    url = reverse(
        "admin:invites_invite_reset_takes", args=["00000000-0000-0000-0000-000000000000", question.pk]
    )
    response = staff_client.post(url, follow=True)
    assert "doesn’t exist" in response.content.decode()
