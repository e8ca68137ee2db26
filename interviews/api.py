"""Interviews for integrations: list, read, create (questions inline), add a question."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, field_validator

from audit.services import Actor
from aurio.auth import recruiter_auth, require_permission
from aurio.errors import RECRUITER_ERRORS, Error
from interviews.models import (
    ANSWER_SECONDS_MAX,
    ANSWER_SECONDS_MIN,
    MAX_QUESTIONS,
    RETAKES_MAX,
    THINKING_SECONDS_MAX,
    Interview,
)
from interviews.services import interview_add_question, interview_create

router = Router(tags=["interviews"])


def _printable(value: str) -> str:
    # PostgreSQL can't store a NUL byte at all; newlines and tabs are fine in a text.
    if any((ord(c) < 32 and c not in "\n\r\t") or ord(c) == 127 for c in value):
        raise ValueError("The text must not contain control characters (such as a NUL byte).")
    return value


class QuestionIn(Schema):
    text: str = Field(min_length=1, max_length=2000)
    answerSeconds: int | None = Field(
        None, ge=ANSWER_SECONDS_MIN, le=ANSWER_SECONDS_MAX, description="Null: the deployment's default."
    )
    thinkingSeconds: int = Field(0, ge=0, le=THINKING_SECONDS_MAX)
    retakes: int | None = Field(None, ge=0, le=RETAKES_MAX, description="Null: the deployment's default.")
    practice: bool = False

    @field_validator("text")
    @classmethod
    def text_printable(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The question needs a text.")
        return _printable(value.strip())


class InterviewIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    intro: str = Field("", max_length=5000)
    closing: str = Field("", max_length=5000)
    deadlineDays: int | None = Field(None, ge=1, le=365)
    accentColour: str = Field("", pattern=r"^(#[0-9a-fA-F]{6})?$")
    questions: list[QuestionIn] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @field_validator("title", "intro", "closing")
    @classmethod
    def printable(cls, value: str) -> str:
        return _printable(value.strip())

    @field_validator("title")
    @classmethod
    def title_given(cls, value: str) -> str:
        # min_length is checked before the strip: "   " would pass it.
        if not value:
            raise ValueError("The interview needs a title.")
        return value


class QuestionOut(Schema):
    id: uuid.UUID
    position: int
    text: str
    answerSeconds: int
    thinkingSeconds: int
    retakes: int
    maxTakes: int
    practice: bool


class InterviewOut(Schema):
    id: uuid.UUID
    title: str
    intro: str
    closing: str
    deadlineDays: int | None
    accentColour: str
    isDefault: bool
    createdAt: datetime
    questions: list[QuestionOut]


def question_out(question: object) -> dict[str, object]:
    takes = question.takes_allowed  # type: ignore[attr-defined]
    return {
        "id": question.pk,  # type: ignore[attr-defined]
        "position": question.position,  # type: ignore[attr-defined]
        "text": question.text,  # type: ignore[attr-defined]
        "answerSeconds": question.limit_seconds,  # type: ignore[attr-defined]
        "thinkingSeconds": question.thinking_seconds,  # type: ignore[attr-defined]
        "retakes": takes - 1,
        "maxTakes": takes,
        "practice": question.practice,  # type: ignore[attr-defined]
    }


def interview_out(interview: Interview) -> dict[str, object]:
    return {
        "id": interview.pk,
        "title": interview.title,
        "intro": interview.intro,
        "closing": interview.closing,
        "deadlineDays": interview.deadline_days,
        "accentColour": interview.accent_colour,
        "isDefault": interview.is_default,
        "createdAt": interview.created_at,
        "questions": [question_out(q) for q in interview.questions.all()],
    }


def _interview_or_404(interview_id: str) -> Interview:
    try:
        interview = Interview.objects.prefetch_related("questions").filter(pk=uuid.UUID(interview_id)).first()
    except ValueError:
        interview = None
    if interview is None:
        raise HttpError(404, "No such interview.")
    return interview


@router.get("/interviews", auth=recruiter_auth, response={200: list[InterviewOut], **RECRUITER_ERRORS})
def list_interviews(request: HttpRequest) -> list[dict[str, object]]:
    """Every interview with its questions in order, newest first."""
    require_permission(request, "interviews.view_interview")
    return [interview_out(i) for i in Interview.objects.prefetch_related("questions")]


@router.post("/interviews", auth=recruiter_auth, response={201: InterviewOut, **RECRUITER_ERRORS, 422: Error})
def create_interview(request: HttpRequest, payload: InterviewIn) -> Status:
    """Create an interview with its questions (asked in the order given)."""
    require_permission(request, "interviews.add_interview")
    if all(q.practice for q in payload.questions):
        raise HttpError(422, "questions: at least one question must not be a practice question.")
    interview = interview_create(
        title=payload.title,
        intro=payload.intro,
        closing=payload.closing,
        deadline_days=payload.deadlineDays,
        accent_colour=payload.accentColour,
        questions=[_question_fields(q) for q in payload.questions],
        actor=Actor.of_request(request),
    )
    return Status(201, interview_out(_interview_or_404(str(interview.pk))))


@router.get(
    "/interviews/{interview_id}",
    auth=recruiter_auth,
    response={200: InterviewOut, **RECRUITER_ERRORS, 404: Error},
)
def get_interview(request: HttpRequest, interview_id: str) -> dict[str, object]:
    require_permission(request, "interviews.view_interview")
    return interview_out(_interview_or_404(interview_id))


@router.post(
    "/interviews/{interview_id}/questions",
    auth=recruiter_auth,
    response={201: QuestionOut, **RECRUITER_ERRORS, 404: Error, 422: Error},
)
def add_question(request: HttpRequest, interview_id: str, payload: QuestionIn) -> Status:
    """Add a question after the interview's last one. Candidates who have not
    finished yet are asked it too."""
    require_permission(request, "interviews.change_interview")
    interview = _interview_or_404(interview_id)
    if interview.is_default:
        # Invites made without an interview answer its one question (the seed's one answer).
        raise HttpError(422, "The default interview has one question; create an interview for more.")
    if interview.questions.count() >= MAX_QUESTIONS:
        raise HttpError(422, f"An interview has at most {MAX_QUESTIONS} questions.")
    question = interview_add_question(
        interview=interview, fields=_question_fields(payload), actor=Actor.of_request(request)
    )
    return Status(201, question_out(question))


def _question_fields(question: QuestionIn) -> dict[str, object]:
    return {
        "text": question.text,
        "answer_seconds": question.answerSeconds,
        "thinking_seconds": question.thinkingSeconds,
        "retakes": question.retakes,
        "practice": question.practice,
    }
