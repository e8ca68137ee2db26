"""The interviews API: `GET/POST /api/v1/interviews`, `GET /api/v1/interviews/{id}`,
`POST /api/v1/interviews/{id}/questions`: who may call them, what they refuse,
and the shape of what they answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.http import HttpResponse
from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from audit.models import AuditEvent
from interviews.models import Interview, Question
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db

QUESTION_FIELDS = {
    "id", "position", "text", "answerSeconds", "thinkingSeconds", "retakes", "maxTakes", "practice",
}  # fmt: skip
INTERVIEW_FIELDS = {
    "id", "title", "intro", "closing", "deadlineDays", "accentColour", "isDefault", "createdAt", "questions",
}  # fmt: skip
UNKNOWN = "3f2b0c1e-4f8e-4a7e-9d1e-0a4b5c6d7e8f"


def post(client: Client, path: str, payload: dict[str, Any]) -> HttpResponse:
    return client.post(path, payload, content_type="application/json")


def new_interview(client: Client, **fields: Any) -> HttpResponse:
    payload: dict[str, Any] = {"title": "Backend engineer", "questions": [{"text": "Why us?"}], **fields}
    return post(client, "/api/v1/interviews", payload)


@pytest.fixture
def interview(db: None) -> Interview:
    return make_interview()


@pytest.fixture
def staff_with(token_for: Callable[[User], str]) -> Callable[..., Client]:
    """An API client for a staff member holding exactly these permissions."""

    def make(*permissions: str) -> Client:
        user = User.objects.create_user(f"staff{uuid.uuid4().hex[:6]}", "s@example.com", "pw", is_staff=True)
        for name in permissions:
            app_label, codename = name.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return Client(headers={"Authorization": f"Bearer {token_for(user)}"})

    return make


# --- who may call ----------------------------------------------------------------------------


def every_call(interview: Interview) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("get", "/api/v1/interviews", None),
        ("post", "/api/v1/interviews", {"title": "T", "questions": [{"text": "Q?"}]}),
        ("get", f"/api/v1/interviews/{interview.pk}", None),
        ("post", f"/api/v1/interviews/{interview.pk}/questions", {"text": "Q?"}),
    ]


def call(client: Client, method: str, path: str, payload: dict[str, Any] | None) -> HttpResponse:
    return post(client, path, payload or {}) if method == "post" else client.get(path)


def test_without_credentials_every_call_is_401(interview: Interview) -> None:
    for method, path, payload in every_call(interview):
        assert call(Client(), method, path, payload).status_code == 401, path


def test_a_wrong_bearer_token_is_401(interview: Interview) -> None:
    client = Client(headers={"Authorization": "Bearer nope"})
    for method, path, payload in every_call(interview):
        assert call(client, method, path, payload).status_code == 401, path


def test_a_session_that_is_not_staff_is_403(client: Client, outsider: User, interview: Interview) -> None:
    client.force_login(outsider)
    for method, path, payload in every_call(interview):
        assert call(client, method, path, payload).status_code == 403, path
    assert Interview.objects.count() == 2  # the default one and the fixture's


def test_staff_without_permissions_is_403(client: Client, teammate: User, interview: Interview) -> None:
    client.force_login(teammate)
    for method, path, payload in every_call(interview):
        response = call(client, method, path, payload)
        assert response.status_code == 403, path
        assert "interviews." in response.json()["detail"]
    assert interview.questions.count() == 3


def test_viewing_does_not_allow_creating_or_changing(
    staff_with: Callable[..., Client], interview: Interview
) -> None:
    viewer = staff_with("interviews.view_interview")
    assert viewer.get("/api/v1/interviews").status_code == 200
    assert viewer.get(f"/api/v1/interviews/{interview.pk}").status_code == 200
    assert new_interview(viewer).status_code == 403
    assert post(viewer, f"/api/v1/interviews/{interview.pk}/questions", {"text": "Q?"}).status_code == 403
    assert interview.questions.count() == 3


def test_each_call_needs_its_own_permission(staff_with: Callable[..., Client], interview: Interview) -> None:
    assert new_interview(staff_with("interviews.add_interview")).status_code == 201
    adder = staff_with("interviews.change_interview")
    assert post(adder, f"/api/v1/interviews/{interview.pk}/questions", {"text": "Q?"}).status_code == 201
    # Adding or changing is no licence to read.
    assert adder.get("/api/v1/interviews").status_code == 403


def test_a_staff_session_must_send_the_csrf_token_to_write(recruiter: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(recruiter)
    assert new_interview(client).status_code == 403
    assert not Interview.objects.filter(title="Backend engineer").exists()


# --- POST /interviews ------------------------------------------------------------------------


def test_creating_an_interview_answers_201_with_its_questions_in_order(api: Client, recruiter: User) -> None:
    response = new_interview(
        api,
        intro="Welcome.",
        closing="Thanks!",
        deadlineDays=14,
        accentColour="#1d4ed8",
        questions=[
            {"text": "Warm up", "practice": True},
            {"text": "First?", "answerSeconds": 60, "thinkingSeconds": 30, "retakes": 0},
            {"text": "Second?", "answerSeconds": 300, "thinkingSeconds": 300, "retakes": 10},
        ],
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == INTERVIEW_FIELDS
    assert (body["title"], body["intro"], body["closing"]) == ("Backend engineer", "Welcome.", "Thanks!")
    assert (body["deadlineDays"], body["accentColour"], body["isDefault"]) == (14, "#1d4ed8", False)
    assert [set(q) for q in body["questions"]] == [QUESTION_FIELDS] * 3
    assert [(q["position"], q["text"], q["practice"]) for q in body["questions"]] == [
        (0, "Warm up", True),
        (1, "First?", False),
        (2, "Second?", False),
    ]
    first, second = body["questions"][1:]
    assert (first["answerSeconds"], first["thinkingSeconds"], first["retakes"], first["maxTakes"]) == (
        60,
        30,
        0,
        1,
    )
    assert (second["answerSeconds"], second["thinkingSeconds"], second["retakes"], second["maxTakes"]) == (
        300,
        300,
        10,
        11,
    )
    # The rows, as the response says, made by the caller and in the audit trail.
    interview = Interview.objects.get(pk=body["id"])
    assert interview.created_by == recruiter
    assert [str(q.pk) for q in interview.questions.all()] == [q["id"] for q in body["questions"]]
    event = AuditEvent.objects.get(object_id=interview.pk)
    assert event.actor == recruiter and event.detail == {"questions": 3}


def test_a_question_without_limits_gets_the_deployments_defaults(api: Client, settings: Settings) -> None:
    settings.AURIO_MAX_DURATION_SECONDS = 150
    settings.AURIO_MAX_ATTEMPTS = 4
    question = new_interview(api).json()["questions"][0]
    assert (question["answerSeconds"], question["thinkingSeconds"]) == (150, 0)
    assert (question["retakes"], question["maxTakes"], question["practice"]) == (3, 4, False)
    row = Question.objects.get(pk=question["id"])
    assert (row.answer_seconds, row.retakes) == (None, None)  # still the deployment's, if it changes


def test_text_and_title_are_stored_trimmed(api: Client) -> None:
    body = new_interview(api, title="  Designer \n", questions=[{"text": "  Why?\n"}]).json()
    assert body["title"] == "Designer"
    assert body["questions"][0]["text"] == "Why?"
    assert Interview.objects.get(pk=body["id"]).title == "Designer"


def test_a_question_text_keeps_its_line_breaks(api: Client) -> None:
    body = new_interview(api, questions=[{"text": "Tell us:\n\tone\r\n\ttwo"}]).json()
    assert Question.objects.get(pk=body["questions"][0]["id"]).text == "Tell us:\n\tone\r\n\ttwo"


BAD_QUESTIONS = {
    "answer time under 10 s": {"text": "Q?", "answerSeconds": 9},
    "answer time over 300 s": {"text": "Q?", "answerSeconds": 301},
    "answer time 0": {"text": "Q?", "answerSeconds": 0},
    "thinking time over 300 s": {"text": "Q?", "thinkingSeconds": 301},
    "thinking time negative": {"text": "Q?", "thinkingSeconds": -1},
    "thinking time null": {"text": "Q?", "thinkingSeconds": None},
    "retakes over 10": {"text": "Q?", "retakes": 11},
    "retakes negative": {"text": "Q?", "retakes": -1},
    "empty text": {"text": ""},
    "blank text": {"text": " \n\t "},
    "no text": {"answerSeconds": 60},
    "text with a NUL byte": {"text": "Why\x00?"},
    "text with a control character": {"text": "Why\x1b[31m?"},
    "text too long": {"text": "x" * 2001},
    "answer time not a number": {"text": "Q?", "answerSeconds": "lots"},
    "practice not a boolean": {"text": "Q?", "practice": "perhaps"},
}


@pytest.mark.parametrize("question", BAD_QUESTIONS.values(), ids=BAD_QUESTIONS.keys())
def test_a_bad_question_is_422_and_nothing_is_created(api: Client, question: dict[str, Any]) -> None:
    response = new_interview(api, questions=[{"text": "Fine?"}, question])
    assert response.status_code == 422
    assert not Interview.objects.filter(is_default=False).exists()
    assert Question.objects.count() == 1  # the default interview's


BAD_INTERVIEWS = {
    "empty title": {"title": ""},
    "blank title": {"title": " \n "},
    "title too long": {"title": "x" * 201},
    "title with a NUL byte": {"title": "Back\x00end"},
    "intro with a NUL byte": {"intro": "Hello\x00"},
    "closing with a NUL byte": {"closing": "Bye\x00"},
    "colour as a name": {"accentColour": "blue"},
    "colour too short": {"accentColour": "#12345"},
    "colour not hex": {"accentColour": "#12345g"},
    "colour with a newline": {"accentColour": "#123456\n"},
    "deadline 0 days": {"deadlineDays": 0},
    "deadline over a year": {"deadlineDays": 366},
    "no questions": {"questions": []},
    "over 50 questions": {"questions": [{"text": "Q?"}] * 51},
    "only practice questions": {"questions": [{"text": "Warm up", "practice": True}] * 2},
}


@pytest.mark.parametrize("fields", BAD_INTERVIEWS.values(), ids=BAD_INTERVIEWS.keys())
def test_a_bad_interview_is_422_and_nothing_is_created(api: Client, fields: dict[str, Any]) -> None:
    response = new_interview(api, **fields)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert not Interview.objects.filter(is_default=False).exists()


def test_an_all_practice_interview_is_refused_with_a_reason(api: Client) -> None:
    response = new_interview(api, questions=[{"text": "Warm up", "practice": True}])
    assert response.status_code == 422
    assert "practice" in response.json()["detail"]


def test_a_body_that_is_not_json_is_refused(api: Client) -> None:
    response = api.post("/api/v1/interviews", "title=x", content_type="application/json")
    assert response.status_code in (400, 422)
    assert not Interview.objects.filter(is_default=False).exists()


# --- GET /interviews, GET /interviews/{id} -----------------------------------------------------


def test_listing_gives_every_interview_newest_first_with_questions_in_order(
    api: Client, interview: Interview
) -> None:
    newer = make_interview(title="Newer", questions=[{"text": "B", "practice": True}, {"text": "A"}])
    response = api.get("/api/v1/interviews")
    assert response.status_code == 200
    body = response.json()
    assert [i["id"] for i in body[:2]] == [str(newer.pk), str(interview.pk)]
    assert body[-1]["isDefault"] is True  # the migration's, made first
    assert [q["text"] for q in body[0]["questions"]] == ["B", "A"]
    assert [q["text"] for q in body[1]["questions"]] == ["Question 1?", "Question 2?", "Question 3?"]
    assert all(set(i) == INTERVIEW_FIELDS for i in body)


def test_listing_takes_a_fixed_number_of_queries(
    api: Client, interview: Interview, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for n in range(5):
        make_interview(title=f"Role {n}")
    with django_assert_max_num_queries(6):
        assert len(api.get("/api/v1/interviews").json()) == 7


def test_getting_an_interview_gives_its_questions_in_position_order(api: Client) -> None:
    interview = make_interview()
    # Positions need not be contiguous (a question deleted in the admin); order is what counts.
    Question.objects.filter(interview=interview, text="Question 1?").update(position=9)
    response = api.get(f"/api/v1/interviews/{interview.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(interview.pk)
    assert [q["text"] for q in body["questions"]] == ["Question 2?", "Question 3?", "Question 1?"]


def test_the_default_interview_is_readable_and_marked(api: Client) -> None:
    default = Interview.objects.default()
    body = api.get(f"/api/v1/interviews/{default.pk}").json()
    assert body["isDefault"] is True
    assert len(body["questions"]) == 1 and body["questions"][0]["practice"] is False


@pytest.mark.parametrize("interview_id", [UNKNOWN, "not-a-uuid", "1", "%00", "3f2b0c1e" * 5])
def test_an_unknown_or_malformed_interview_id_is_404(api: Client, interview_id: str) -> None:
    response = api.get(f"/api/v1/interviews/{interview_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such interview."}


# --- POST /interviews/{id}/questions ---------------------------------------------------------


def test_adding_a_question_puts_it_after_the_last(api: Client, interview: Interview, recruiter: User) -> None:
    Question.objects.filter(interview=interview, text="Question 3?").update(position=7)
    response = post(
        api,
        f"/api/v1/interviews/{interview.pk}/questions",
        {"text": "One more?", "answerSeconds": 45, "thinkingSeconds": 5, "retakes": 2},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == QUESTION_FIELDS
    assert (body["position"], body["text"], body["answerSeconds"], body["thinkingSeconds"]) == (
        8,
        "One more?",
        45,
        5,
    )
    assert (body["retakes"], body["maxTakes"], body["practice"]) == (2, 3, False)
    listed = api.get(f"/api/v1/interviews/{interview.pk}").json()["questions"]
    assert [q["text"] for q in listed][-1] == "One more?"
    event = AuditEvent.objects.get(object_id=interview.pk, action="edited")
    assert event.detail == {"question_added": body["id"]} and event.actor == recruiter


def test_adding_a_practice_question_is_allowed(api: Client, interview: Interview) -> None:
    response = post(api, f"/api/v1/interviews/{interview.pk}/questions", {"text": "Try", "practice": True})
    assert response.status_code == 201
    assert response.json()["practice"] is True


@pytest.mark.parametrize("question", BAD_QUESTIONS.values(), ids=BAD_QUESTIONS.keys())
def test_adding_a_bad_question_is_422(api: Client, interview: Interview, question: dict[str, Any]) -> None:
    response = post(api, f"/api/v1/interviews/{interview.pk}/questions", question)
    assert response.status_code == 422
    assert interview.questions.count() == 3


@pytest.mark.parametrize("interview_id", [UNKNOWN, "not-a-uuid"])
def test_adding_a_question_to_an_unknown_interview_is_404(api: Client, interview_id: str) -> None:
    response = post(api, f"/api/v1/interviews/{interview_id}/questions", {"text": "Q?"})
    assert response.status_code == 404
    assert Question.objects.count() == 1  # the default interview's


# --- the schema ------------------------------------------------------------------------------


def test_the_schema_documents_the_interview_endpoints_and_their_errors() -> None:
    from aurio.api import api as ninja_api

    paths = ninja_api.get_openapi_schema()["paths"]

    def responses(path: str, method: str) -> set[str]:
        return {str(status) for status in paths[path][method]["responses"]}

    assert set(paths["/api/v1/interviews"]) == {"get", "post"}
    assert set(paths["/api/v1/interviews/{interview_id}"]) == {"get"}
    assert set(paths["/api/v1/interviews/{interview_id}/questions"]) == {"post"}
    assert {"200", "401", "403"} <= responses("/api/v1/interviews", "get")
    assert {"201", "401", "403", "422"} <= responses("/api/v1/interviews", "post")
    assert {"200", "401", "403", "404"} <= responses("/api/v1/interviews/{interview_id}", "get")
    assert {"201", "401", "403", "404", "422"} <= responses(
        "/api/v1/interviews/{interview_id}/questions", "post"
    )


def test_the_schema_states_the_question_limits() -> None:
    from aurio.api import api as ninja_api

    schemas = ninja_api.get_openapi_schema()["components"]["schemas"]
    fields = schemas["QuestionIn"]["properties"]
    answer = next(v for v in fields["answerSeconds"]["anyOf"] if v.get("type") == "integer")
    assert (answer["minimum"], answer["maximum"]) == (10, 300)
    assert fields["thinkingSeconds"]["maximum"] == 300
    retakes = next(v for v in fields["retakes"]["anyOf"] if v.get("type") == "integer")
    assert (retakes["minimum"], retakes["maximum"]) == (0, 10)


def test_the_default_interview_keeps_its_one_question(db: None, recruiter: object) -> None:
    """Invites made without an interview (the seed's) answer one question and are then submitted:
    a second question would leave every such invite waiting for an answer the seed's client never sends."""
    from django.test import Client

    from aurio.models import ApiToken
    from interviews.models import Interview

    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(recruiter)[1]}"})  # type: ignore[arg-type]
    default = Interview.objects.default()
    response = client.post(
        f"/api/v1/interviews/{default.pk}/questions",
        {"text": "And another?"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "default interview" in response.json()["detail"]
    assert default.questions.count() == 1


def test_an_interview_takes_at_most_fifty_questions(db: None, recruiter: object) -> None:
    from django.test import Client

    from aurio.models import ApiToken
    from tests.support.factories import make_interview

    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(recruiter)[1]}"})  # type: ignore[arg-type]
    interview = make_interview(questions=[{"text": f"Q{n}?"} for n in range(50)])
    url = f"/api/v1/interviews/{interview.pk}/questions"
    response = client.post(url, {"text": "One more?"}, content_type="application/json")
    assert response.status_code == 422
    assert interview.questions.count() == 50
