"""An invite to an interview of several questions, through the API: takes
counted per question, the candidate's state, the recruiter's answers, invites
made for an interview, and the seed's single-answer calls still answering
one question at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from interviews.models import Interview, Question
from invites.models import Answer, Invite, InviteStatus
from invites.services import invite_create, invite_revoke
from tests.support.factories import make_interview
from videos.models import Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(recorder_webm: Path) -> bytes:
    return recorder_webm.read_bytes()


@pytest.fixture
def interview(db: None) -> Interview:
    return make_interview(
        questions=[
            {"text": "Warm up", "practice": True},
            {"text": "First?", "retakes": 0, "answer_seconds": 30},
            {"text": "Second?", "retakes": 2, "thinking_seconds": 20},
            {"text": "Third?"},
        ]
    )


@pytest.fixture
def invite(interview: Interview) -> Invite:  # overrides conftest's: an invite to the interview above
    return invite_create(email="cand@example.com", name="Cand", interview=interview)


def question(interview: Interview, text: str) -> Question:
    return interview.questions.get(text=text)


def take(client: Client, invite: Invite, q: Question | str) -> HttpResponse:
    question_id = q if isinstance(q, str) else str(q.pk)
    return client.post(reverse("api:start_question_take", args=[invite.token, question_id]))


def state(client: Client, invite: Invite) -> dict[str, Any]:
    response = client.get(reverse("api:check_invite", args=[invite.token]))
    assert response.status_code == 200
    return response.json()


def send_file(client: Client, invite: Invite, data: bytes) -> HttpResponse:
    """The seed's multipart submission (`POST /upload/{token}`)."""
    file = SimpleUploadedFile("answer.webm", data, "video/webm")
    return client.post(reverse("api:upload_video", args=[invite.token]), {"file": file})


# --- POST /invites/{token}/questions/{id}/takes ------------------------------------------------


def test_takes_are_counted_per_question(client: Client, invite: Invite, interview: Interview) -> None:
    first, second = question(interview, "First?"), question(interview, "Second?")
    assert take(client, invite, first).json() == {"take": 1, "maxTakes": 1, "takesLeft": 0}
    refused = take(client, invite, first)
    assert refused.status_code == 403 and "all 1 take for" in refused.json()["detail"]
    # The first question's limit says nothing about the second's.
    assert [take(client, invite, second).json()["take"] for _ in range(3)] == [1, 2, 3]
    assert take(client, invite, second).status_code == 403
    answers = {a.question.text: a.takes for a in Answer.objects.filter(invite=invite)}
    assert answers == {"First?": 1, "Second?": 3}


def test_extra_takes_are_added_to_every_question(
    client: Client, invite: Invite, interview: Interview
) -> None:
    Invite.objects.filter(pk=invite.pk).update(extra_takes=2)
    first = question(interview, "First?")
    assert [take(client, invite, first).status_code for _ in range(4)] == [201, 201, 201, 403]
    assert take(client, invite, question(interview, "Second?")).json()["maxTakes"] == 5


def test_a_question_without_retakes_allows_the_deployments_takes(
    client: Client, invite: Invite, interview: Interview, settings: Settings
) -> None:
    settings.AURIO_MAX_ATTEMPTS = 2
    third = question(interview, "Third?")
    assert [take(client, invite, third).status_code for _ in range(3)] == [201, 201, 403]


def test_a_practice_questions_takes_are_not_counted(
    client: Client, invite: Invite, interview: Interview
) -> None:
    response = take(client, invite, question(interview, "Warm up"))
    assert response.status_code == 422
    assert not Answer.objects.exists()
    invite.refresh_from_db()
    assert invite.started_at is None


@pytest.mark.parametrize("question_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_an_unknown_question_is_404(client: Client, invite: Invite, question_id: str) -> None:
    assert take(client, invite, question_id).status_code == 404
    assert not Answer.objects.exists()


def test_another_interviews_question_is_404(client: Client, invite: Invite) -> None:
    default_question = Interview.objects.default().questions.get()
    response = take(client, invite, default_question)
    assert response.status_code == 404
    assert not Answer.objects.exists()


def test_an_unknown_link_is_404(client: Client, interview: Interview) -> None:
    response = client.post(
        reverse("api:start_question_take", args=["x" * 32, question(interview, "First?").pk])
    )
    assert response.status_code == 404


def test_a_revoked_or_expired_link_is_410(client: Client, invite: Invite, interview: Interview) -> None:
    first = question(interview, "First?")
    invite_revoke(invite=invite)
    assert take(client, invite, first).status_code == 410
    Invite.objects.filter(pk=invite.pk).update(revoked_at=None, expires_at=timezone.now() - timedelta(days=1))
    assert take(client, invite, first).status_code == 410
    assert not Answer.objects.filter(takes__gt=0).exists()


def test_an_answered_question_takes_no_more_takes(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    second = question(interview, "Second?")
    take(client, invite, question(interview, "First?"))
    assert send_file(client, invite, content).status_code == 201  # answers "First?"
    response = take(client, invite, question(interview, "First?"))
    assert response.status_code == 409
    assert take(client, invite, second).status_code == 201  # the next one is open


def test_a_submitted_invite_takes_no_more_takes(client: Client, invite: Invite, interview: Interview) -> None:
    Invite.objects.filter(pk=invite.pk).update(submitted_at=timezone.now())
    assert take(client, invite, question(interview, "Third?")).status_code == 409


def test_the_seeds_start_take_counts_on_the_next_question_to_answer(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    start = reverse("api:start_take", args=[invite.token])
    assert client.post(start).json() == {"take": 1, "maxTakes": 1, "takesLeft": 0}
    assert client.post(start).status_code == 403  # "First?" allows one take
    assert send_file(client, invite, content).status_code == 201
    assert client.post(start).json() == {"take": 1, "maxTakes": 3, "takesLeft": 2}  # now "Second?"
    assert Answer.objects.get(invite=invite, question__text="Second?").takes == 1


# --- GET /invites/{token}: the candidate's state -----------------------------------------------


def test_the_candidates_state_lists_every_question_with_this_candidates_limits(
    client: Client, invite: Invite, interview: Interview, settings: Settings
) -> None:
    Invite.objects.filter(pk=invite.pk).update(extra_time_percent=50, extra_takes=1)
    body = state(client, invite)
    assert body["interview"]["id"] == str(interview.pk)
    assert body["interview"]["title"] == interview.title
    questions = body["questions"]
    assert [(q["text"], q["number"], q["practice"]) for q in questions] == [
        ("Warm up", None, True),
        ("First?", 1, False),
        ("", 2, False),  # 20 s to think: held back until the candidate reveals it
        ("Third?", 3, False),
    ]
    first, second, third = questions[1:]
    assert (first["answerSeconds"], first["maxTakes"]) == (45, 2)  # 30 s × 1.5; 1 take + 1
    assert (second["thinkingSeconds"], second["maxTakes"]) == (20, 4)
    assert third["answerSeconds"] == settings.AURIO_MAX_DURATION_SECONDS * 3 // 2
    assert all(not q["answered"] and q["takesUsed"] == 0 and q["videoId"] is None for q in questions)
    assert body["nextQuestionId"] == first["id"]
    assert (body["takesUsed"], body["maxTakes"]) == (0, 2)


def test_the_candidates_state_follows_their_answers(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    take(client, invite, question(interview, "First?"))
    take(client, invite, question(interview, "Third?"))
    video = send_file(client, invite, content).json()["videoId"]
    reveal = reverse("api:reveal_question", args=[invite.token, question(interview, "Second?").pk])
    assert client.post(reveal).status_code == 200
    body = state(client, invite)
    by_text = {q["text"]: q for q in body["questions"]}
    assert (by_text["First?"]["answered"], by_text["First?"]["videoId"]) == (True, video)
    assert (by_text["Third?"]["answered"], by_text["Third?"]["takesUsed"]) == (False, 1)
    assert body["nextQuestionId"] == by_text["Second?"]["id"]
    assert (body["takesUsed"], body["maxTakes"]) == (0, 3)  # the next question's
    assert (body["status"], body["canSubmit"]) == ("opened", True)


def test_the_invite_is_submitted_after_the_last_questions_video(
    client: Client, invite: Invite, content: bytes
) -> None:
    for _ in range(2):
        assert send_file(client, invite, content).status_code == 201
        invite.refresh_from_db()
        assert invite.submitted_at is None
    assert send_file(client, invite, content).status_code == 201
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED
    body = state(client, invite)
    assert body["nextQuestionId"] is None and body["canSubmit"] is False
    assert [q["answered"] for q in body["questions"]] == [False, True, True, True]  # practice never sent
    # In question order, one video each.
    videos = Video.objects.filter(invite=invite).order_by("question__position")
    assert [v.question.text for v in videos] == ["First?", "Second?", "Third?"]
    assert send_file(client, invite, content).status_code == 409
    assert Video.objects.filter(invite=invite).count() == 3


# --- GET /answers?inviteId= ------------------------------------------------------------------


def answers(api: Client, invite_id: object) -> HttpResponse:
    return api.get(reverse("api:list_answers") + f"?inviteId={invite_id}")


def test_answers_are_listed_in_question_order(
    api: Client, client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    take(client, invite, question(interview, "Third?"))
    take(client, invite, question(interview, "Second?"))
    take(client, invite, question(interview, "Second?"))
    video = send_file(client, invite, content).json()["videoId"]  # "First?" (multipart counts no take)
    response = answers(api, invite.pk)
    assert response.status_code == 200
    body = response.json()
    assert [(a["text"], a["position"], a["takesUsed"], a["maxTakes"]) for a in body] == [
        ("First?", 1, 0, 1),
        ("Second?", 2, 2, 3),
        ("Third?", 3, 1, 3),
    ]
    assert body[0]["videoId"] == video and body[0]["submittedAt"] is not None
    assert all(a["inviteId"] == str(invite.pk) for a in body)
    assert body[1]["videoId"] is None and body[1]["submittedAt"] is None
    assert {a["questionId"] for a in body} == {str(q.pk) for q in interview.answered_questions()}


def test_an_invite_not_started_has_no_answers(api: Client, invite: Invite) -> None:
    assert answers(api, invite.pk).json() == []


@pytest.mark.parametrize("invite_id", ["not-a-uuid", "1", ""])
def test_answers_of_a_malformed_invite_id_are_422(api: Client, invite_id: str) -> None:
    assert answers(api, invite_id).status_code == 422


def test_answers_without_an_invite_id_are_422(api: Client) -> None:
    assert api.get(reverse("api:list_answers")).status_code == 422


def test_answers_of_an_unknown_invite_are_404(api: Client) -> None:
    assert answers(api, uuid.uuid4()).status_code == 404


def test_answers_need_the_view_invite_permission(
    token_for: Callable[[User], str], invite: Invite, client: Client, interview: Interview
) -> None:
    take(client, invite, question(interview, "First?"))
    user = User.objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_video"))
    viewer = Client(headers={"Authorization": f"Bearer {token_for(user)}"})
    response = answers(viewer, invite.pk)
    assert response.status_code == 403
    assert "First?" not in response.content.decode()
    user.user_permissions.add(Permission.objects.get(codename="view_invite"))
    assert len(answers(viewer, invite.pk).json()) == 1
    assert answers(Client(), invite.pk).status_code == 401


# --- POST /invites with interviewId ----------------------------------------------------------


def post_invite(api: Client, **payload: object) -> HttpResponse:
    return api.post(
        "/api/v1/invites", {"email": "ada@example.com", **payload}, content_type="application/json"
    )


def test_an_invite_for_an_interview_belongs_to_it(api: Client, interview: Interview) -> None:
    response = post_invite(api, interviewId=str(interview.pk))
    assert response.status_code == 201
    assert response.json()["interviewId"] == str(interview.pk)
    assert Invite.objects.get(pk=response.json()["id"]).interview == interview


def test_an_invite_takes_the_interviews_deadline(api: Client) -> None:
    interview = make_interview(deadline_days=3)
    body = post_invite(api, interviewId=str(interview.pk)).json()
    invite = Invite.objects.get(pk=body["id"])
    assert abs(invite.expires_at - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)


def test_an_invite_without_an_interview_belongs_to_the_default_one(api: Client) -> None:
    body = post_invite(api).json()
    default = Interview.objects.default()
    assert body["interviewId"] == str(default.pk)
    assert Invite.objects.get(pk=body["id"]).interview == default


def test_an_invite_for_an_unknown_interview_is_422(api: Client) -> None:
    response = post_invite(api, interviewId=str(uuid.uuid4()))
    assert response.status_code == 422
    assert "interviewId" in response.json()["detail"]
    assert not Invite.objects.exists()


@pytest.mark.parametrize("interview_id", ["not-a-uuid", 7, ""])
def test_an_invite_with_a_malformed_interview_id_is_422(api: Client, interview_id: object) -> None:
    assert post_invite(api, interviewId=interview_id).status_code == 422
    assert not Invite.objects.exists()


def test_an_invite_for_an_interview_with_nothing_to_answer_is_422(api: Client) -> None:
    practice_only = make_interview(questions=[{"text": "Warm up", "practice": True}])
    empty = Interview.objects.create(title="No questions yet")
    for interview in (practice_only, empty):
        response = post_invite(api, interviewId=str(interview.pk))
        assert response.status_code == 422
        assert "no question" in response.json()["detail"]
    assert not Invite.objects.exists()


# --- the seed's single-answer invite ---------------------------------------------------------


def test_the_seeds_invite_is_submitted_by_one_multipart_upload(
    api: Client, client: Client, content: bytes
) -> None:
    body = post_invite(api).json()
    invite = Invite.objects.get(pk=body["id"])
    response = send_file(client, invite, content)
    assert response.status_code == 201
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED
    video = Video.objects.get(pk=response.json()["videoId"])
    assert video.question == Interview.objects.default().questions.get()
    listed = api.get("/api/v1/invites").json()[0]
    assert (listed["status"], listed["latestVideoId"]) == ("submitted", str(video.pk))
    assert send_file(client, invite, content).status_code == 409


def test_a_question_added_after_the_invite_was_submitted_is_not_asked(
    api: Client, client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    for _ in range(3):
        assert send_file(client, invite, content).status_code == 201
    added = api.post(
        f"/api/v1/interviews/{interview.pk}/questions", {"text": "Late?"}, content_type="application/json"
    )
    assert added.status_code == 201
    body = state(client, invite)
    assert body["status"] == "submitted" and body["canSubmit"] is False
    assert body["nextQuestionId"] is None
    assert take(client, invite, added.json()["id"]).status_code == 409
