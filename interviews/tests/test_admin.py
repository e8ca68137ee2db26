"""The interview builder in the admin: questions inline, validation, the audit
trail, protected deletes and duplicating."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import Action, AuditEvent, ObjectType
from interviews.models import Interview, Question
from invites.services import answer_for, invite_create
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db

ADD = reverse("admin:interviews_interview_add")
CHANGELIST = reverse("admin:interviews_interview_changelist")
QUESTION_FIELDS = ("position", "text", "answer_seconds", "thinking_seconds", "retakes")


def change_url(interview: Interview) -> str:
    return reverse("admin:interviews_interview_change", args=[interview.pk])


def form_data(
    questions: list[dict[str, Any]], interview: Interview | None = None, **fields: Any
) -> dict[str, Any]:
    """The change form's POST: the interview's fields and the questions inline
    (existing ones first, as the admin renders them, each with its id)."""
    existing = list(interview.questions.all()) if interview else []
    data: dict[str, Any] = {
        "title": interview.title if interview else "Backend engineer",
        "intro": "",
        "closing": "",
        "accent_colour": "",
        "deadline_days": "",
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(len(existing)),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index, question in enumerate(questions):
        prefix = f"questions-{index}-"
        if index < len(existing):
            data[prefix + "id"] = str(existing[index].pk)
            data[prefix + "interview"] = str(interview.pk)  # type: ignore[union-attr]
        for field in QUESTION_FIELDS:
            data[prefix + field] = question.get(field, "")
        if question.get("practice"):
            data[prefix + "practice"] = "on"
        if question.get("DELETE"):
            data[prefix + "DELETE"] = "on"
    return data


def existing(interview: Interview) -> list[dict[str, Any]]:
    """The interview's questions as the change form shows them."""
    return [
        {
            "position": q.position,
            "text": q.text,
            "answer_seconds": q.answer_seconds or "",
            "thinking_seconds": q.thinking_seconds,
            "retakes": q.retakes if q.retakes is not None else "",
            "practice": q.practice,
        }
        for q in interview.questions.all()
    ]


def errors(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- building ---------------------------------------------------------------------


def test_recruiter_builds_an_interview_with_three_questions(staff_client: Client, recruiter: User) -> None:
    response = staff_client.post(
        ADD,
        form_data(
            [
                {"position": 0, "text": "Warm up", "practice": True, "thinking_seconds": 0},
                {
                    "position": 1,
                    "text": "Why us?",
                    "answer_seconds": 90,
                    "thinking_seconds": 30,
                    "retakes": 2,
                },
                {"position": 2, "text": "A hard bug?", "thinking_seconds": 0},
            ],
            title="Backend engineer",
            intro="Three questions.",
            accent_colour="#1d4ed8",
            deadline_days="7",
        ),
    )
    assert response.status_code == 302, response.content.decode()
    interview = Interview.objects.get(title="Backend engineer")
    assert interview.created_by == recruiter
    assert interview.accent_colour == "#1d4ed8" and interview.deadline_days == 7
    questions = list(interview.questions.all())
    assert [(q.position, q.text, q.practice) for q in questions] == [
        (0, "Warm up", True),
        (1, "Why us?", False),
        (2, "A hard bug?", False),
    ]
    assert (questions[1].answer_seconds, questions[1].thinking_seconds, questions[1].retakes) == (90, 30, 2)
    assert questions[2].answer_seconds is None and questions[2].retakes is None
    event = AuditEvent.objects.get(object_id=interview.pk)
    assert (event.action, event.object_type, event.actor, event.detail) == (
        Action.CREATED,
        ObjectType.INTERVIEW,
        recruiter,
        {"questions": 3},
    )


def test_positions_order_the_questions_and_a_blank_one_goes_last(staff_client: Client) -> None:
    staff_client.post(
        ADD,
        form_data(
            [
                {"position": "", "text": "Last", "thinking_seconds": 0},
                {"position": 5, "text": "Second", "thinking_seconds": 0},
                {"position": 1, "text": "First", "thinking_seconds": 0},
            ]
        ),
    )
    questions = Interview.objects.get(title="Backend engineer").questions.all()
    assert [(q.position, q.text) for q in questions] == [(0, "First"), (1, "Second"), (2, "Last")]


def test_only_practice_questions_are_refused(staff_client: Client) -> None:
    page = errors(
        staff_client.post(ADD, form_data([{"text": "Warm up", "practice": True, "thinking_seconds": 0}]))
    )
    assert "at least one question that is not a practice question" in page
    assert not Interview.objects.filter(title="Backend engineer").exists()


def test_no_questions_at_all_is_refused(staff_client: Client) -> None:
    page = errors(staff_client.post(ADD, form_data([])))
    assert "at least one question that is not a practice question" in page
    assert not Interview.objects.filter(title="Backend engineer").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("answer_seconds", 9, "greater than or equal to 10"),
        ("answer_seconds", 301, "less than or equal to 300"),
        ("thinking_seconds", 301, "less than or equal to 300"),
        ("retakes", 11, "less than or equal to 10"),
    ],
)
def test_question_limits_are_enforced(staff_client: Client, field: str, value: int, message: str) -> None:
    question = {"text": "Why?", "thinking_seconds": 0, field: value}
    page = errors(staff_client.post(ADD, form_data([question])))
    assert message in page
    assert not Interview.objects.filter(title="Backend engineer").exists()


def test_a_bad_accent_colour_is_refused(staff_client: Client) -> None:
    page = errors(
        staff_client.post(ADD, form_data([{"text": "Why?", "thinking_seconds": 0}], accent_colour="blue"))
    )
    assert "#rrggbb" in page


# --- editing ----------------------------------------------------------------------


def test_editing_is_audited_with_what_changed(staff_client: Client, recruiter: User) -> None:
    interview = make_interview(title="Old title")
    questions = [*existing(interview), {"text": "One more?", "thinking_seconds": 0}]
    questions[0]["text"] = "Question 1, reworded?"
    response = staff_client.post(change_url(interview), form_data(questions, interview, title="New title"))
    assert response.status_code == 302, response.content.decode()
    interview.refresh_from_db()
    assert interview.title == "New title"
    assert [q.text for q in interview.questions.all()] == [
        "Question 1, reworded?",
        "Question 2?",
        "Question 3?",
        "One more?",
    ]
    event = AuditEvent.objects.filter(object_id=interview.pk, action=Action.EDITED).get()
    assert event.actor == recruiter
    assert event.detail == {
        "title": {"from": "Old title", "to": "New title"},
        "questions_added": 1,
        "questions_changed": 1,
    }


def test_saving_without_a_change_records_nothing(staff_client: Client) -> None:
    interview = make_interview()
    response = staff_client.post(change_url(interview), form_data(existing(interview), interview))
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(object_id=interview.pk, action=Action.EDITED).exists()


def test_moving_a_question_renumbers_them(staff_client: Client) -> None:
    interview = make_interview()
    questions = existing(interview)
    questions[2]["position"] = 0  # the third first, then the others in their order
    questions[0]["position"] = 1
    questions[1]["position"] = 2
    staff_client.post(change_url(interview), form_data(questions, interview))
    assert [(q.position, q.text) for q in interview.questions.all()] == [
        (0, "Question 3?"),
        (1, "Question 1?"),
        (2, "Question 2?"),
    ]


def test_a_question_without_answers_can_be_deleted(staff_client: Client) -> None:
    interview = make_interview()
    questions = existing(interview)
    questions[1]["DELETE"] = True
    response = staff_client.post(change_url(interview), form_data(questions, interview))
    assert response.status_code == 302
    assert [(q.position, q.text) for q in interview.questions.all()] == [
        (0, "Question 1?"),
        (1, "Question 3?"),
    ]
    event = AuditEvent.objects.get(object_id=interview.pk, action=Action.EDITED)
    assert event.detail == {"questions_deleted": 1}


def test_a_question_with_answers_is_not_deleted_and_the_page_says_why(staff_client: Client) -> None:
    interview = make_interview()
    answered = interview.questions.all()[1]
    answer_for(invite=invite_create(email="a@example.com", interview=interview), question=answered)
    questions = existing(interview)
    questions[1]["DELETE"] = True
    page = errors(staff_client.post(change_url(interview), form_data(questions, interview)))
    assert "This question can&#x27;t be deleted: 1 candidate(s) have started or answered it" in page
    assert interview.questions.filter(pk=answered.pk).exists()


def test_the_change_page_counts_each_questions_answers(staff_client: Client) -> None:
    interview = make_interview()
    answer_for(
        invite=invite_create(email="a@example.com", interview=interview), question=interview.questions.first()
    )
    response = staff_client.get(change_url(interview))
    assert response.status_code == 200
    assert re.search(r'<td class="field-answers">\s*<p>1</p>', response.content.decode())
    assert "js/admin_questions.js" in response.content.decode()


# --- deleting ---------------------------------------------------------------------


def test_an_interview_with_invites_is_not_deleted(staff_client: Client) -> None:
    interview = make_interview()
    invite_create(email="a@example.com", interview=interview)
    url = reverse("admin:interviews_interview_delete", args=[interview.pk])
    assert "Cannot delete interview" in errors(staff_client.get(url))
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert Interview.objects.filter(pk=interview.pk).exists()


def test_an_interview_without_invites_is_deleted(staff_client: Client) -> None:
    interview = make_interview()
    url = reverse("admin:interviews_interview_delete", args=[interview.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Interview.objects.filter(pk=interview.pk).exists()
    assert not Question.objects.filter(interview_id=interview.pk).exists()


def test_the_default_interview_is_editable_but_not_deleted(staff_client: Client) -> None:
    default = Interview.objects.default()
    page = staff_client.get(change_url(default)).content.decode()
    assert "deletelink" not in page
    url = reverse("admin:interviews_interview_delete", args=[default.pk])
    assert "is the default interview" in errors(staff_client.get(url))
    staff_client.post(url, {"post": "yes"})
    assert Interview.objects.filter(pk=default.pk).exists()
    response = staff_client.post(
        change_url(default), form_data(existing(default), default, title="Your answer")
    )
    assert response.status_code == 302
    default.refresh_from_db()
    assert default.title == "Your answer" and default.is_default


def test_bulk_delete_refuses_the_default_interview(staff_client: Client) -> None:
    default = Interview.objects.default()
    other = make_interview()
    selected = {"action": "delete_selected", "_selected_action": [str(default.pk), str(other.pk)]}
    assert "is the default interview" in errors(staff_client.post(CHANGELIST, selected))
    staff_client.post(CHANGELIST, {**selected, "post": "yes"})
    assert Interview.objects.filter(pk__in=[default.pk, other.pk]).count() == 2


# --- duplicating --------------------------------------------------------------------


def test_duplicate_action_copies_the_questions_and_is_audited(staff_client: Client, recruiter: User) -> None:
    interview = make_interview(title="Designer", questions=[{"text": "Show us", "answer_seconds": 60}])
    invite_create(email="a@example.com", interview=interview)
    response = staff_client.post(
        CHANGELIST, {"action": "duplicate", "_selected_action": [str(interview.pk)]}, follow=True
    )
    assert "Made 1 copy: “Designer (copy)”" in response.content.decode()
    copy = Interview.objects.get(title="Designer (copy)")
    assert [(q.text, q.answer_seconds) for q in copy.questions.all()] == [("Show us", 60)]
    assert not copy.invites.exists()  # type: ignore[attr-defined]
    events = list(
        AuditEvent.objects.filter(object_id=copy.pk, actor=recruiter).values_list("action", "detail")
    )
    assert (Action.EDITED, {"copied_from": str(interview.pk)}) in events


def test_duplicate_this_interview_asks_then_opens_the_copy(staff_client: Client) -> None:
    interview = make_interview(title="Designer")
    url = reverse("admin:interviews_interview_duplicate", args=[interview.pk])
    assert url in staff_client.get(change_url(interview)).content.decode()
    confirm = staff_client.get(url)
    assert "3 questions" in confirm.content.decode()
    assert not Interview.objects.filter(title="Designer (copy)").exists()
    response = staff_client.post(url)
    copy = Interview.objects.get(title="Designer (copy)")
    assert response.status_code == 302
    assert response["Location"] == change_url(copy)
    assert AuditEvent.objects.filter(object_id=copy.pk, action=Action.CREATED).exists()


def test_duplicating_an_unknown_interview_redirects_with_a_message(staff_client: Client) -> None:
    url = reverse("admin:interviews_interview_duplicate", args=["00000000-0000-0000-0000-000000000000"])
    response = staff_client.post(url, follow=True)
    assert "doesn’t exist" in response.content.decode()
    assert Interview.objects.count() == 1  # the default only


def test_duplicating_needs_the_add_permission(client: Client, teammate: User) -> None:
    interview = make_interview()
    client.force_login(teammate)
    response = client.post(reverse("admin:interviews_interview_duplicate", args=[interview.pk]))
    assert response.status_code == 403
    assert Interview.objects.count() == 2


def test_duplicate_refuses_other_methods(staff_client: Client) -> None:
    interview = make_interview()
    response = staff_client.put(reverse("admin:interviews_interview_duplicate", args=[interview.pk]))
    assert response.status_code == 405


# --- the list -----------------------------------------------------------------------


def test_the_list_counts_questions_and_invites_and_marks_the_default(staff_client: Client) -> None:
    interview = make_interview(title="Designer")
    invite_create(email="a@example.com", interview=interview)
    invite_create(email="b@example.com", interview=interview)
    response = staff_client.get(CHANGELIST)
    rows = {i.title: i for i in response.context["cl"].result_list}
    assert (rows["Designer"].questions_total, rows["Designer"].invites_total) == (3, 2)
    body = response.content.decode()
    assert '<td class="field-default"><img src="/static/admin/img/icon-yes.svg" alt="True"></td>' in body


def test_search_by_title(staff_client: Client) -> None:
    make_interview(title="Designer")
    make_interview(title="Engineer")
    response = staff_client.get(f"{CHANGELIST}?q=design")
    assert [i.title for i in response.context["cl"].result_list] == ["Designer"]


def test_staff_without_permission_is_forbidden(client: Client, teammate: User) -> None:
    client.force_login(teammate)
    assert client.get(CHANGELIST).status_code == 403


def test_the_add_page_has_the_builder_and_no_duplicate_link(staff_client: Client) -> None:
    page = staff_client.get(ADD).content.decode()
    assert 'name="questions-TOTAL_FORMS"' in page
    assert 'class="vIntegerField aurio-position"' in page
    assert "js/admin_questions.js" in page
    assert "Duplicate this interview" not in page


def test_the_default_interview_keeps_its_one_question_in_the_builder(staff_client: Client) -> None:
    from interviews.models import Interview

    default = Interview.objects.default()
    page = staff_client.get(reverse("admin:interviews_interview_change", args=[default.pk])).content.decode()
    assert 'name="questions-MAX_NUM_FORMS" value="1"' in page
    assert 'name="questions-TOTAL_FORMS" value="1"' in page
    assert "questions-0-DELETE" not in page


def test_a_crafted_post_cannot_add_a_second_question_to_the_default_interview(staff_client: Client) -> None:
    default = Interview.objects.default()
    questions = [*existing(default), {"position": "", "text": "Smuggled in?", "thinking_seconds": 0}]
    response = staff_client.post(change_url(default), form_data(questions, default))
    assert response.status_code == 200
    assert "exactly one question" in response.content.decode()
    assert default.questions.count() == 1


def test_the_builder_takes_at_most_fifty_questions(staff_client: Client) -> None:
    questions = [{"position": n, "text": f"Q{n}?", "thinking_seconds": 0} for n in range(51)]
    response = staff_client.post(reverse("admin:interviews_interview_add"), form_data(questions))
    assert response.status_code == 200
    assert "at most 50 questions" in response.content.decode()
    assert not Interview.objects.filter(is_default=False).exists()
