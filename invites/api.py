from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import EmailStr, Field, field_validator

from audit.services import Actor
from aurio.auth import recruiter_auth, require_permission
from aurio.errors import RECRUITER_ERRORS, Error
from aurio.ratelimit import limited_api
from interviews.models import Interview, Question
from invites.models import Answer, Invite, InviteStatus
from invites.repository import invite_for_token, invites_with_videos
from invites.services import (
    answer_for,
    answer_reveal,
    answer_start_take,
    invite_answers,
    invite_complete_if_answered,
    invite_create,
    invite_mark_opened,
    invite_next_question,
    invite_questions,
)

router = Router(tags=["invites"])


class InviteIn(Schema):
    email: EmailStr
    name: str = Field("", max_length=200)
    expiresAt: datetime | None = None
    interviewId: uuid.UUID | None = Field(
        None, description="The interview to answer; the default one if left out."
    )

    @field_validator("name")
    @classmethod
    def printable(cls, value: str) -> str:
        # PostgreSQL can't store a NUL byte at all; no name needs a control character.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("The name must not contain control characters (such as a NUL byte).")
        return value


class InviteOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    token: str
    link: str
    status: InviteStatus
    expiresAt: datetime
    createdAt: datetime
    openedAt: datetime | None
    submittedAt: datetime | None
    latestVideoId: uuid.UUID | None
    interviewId: uuid.UUID


class CandidateInterviewOut(Schema):
    id: uuid.UUID
    title: str
    intro: str
    closing: str
    accentColour: str
    logoUrl: str


class CandidateQuestionOut(Schema):
    id: uuid.UUID
    number: int | None = Field(description="1, 2, … among the questions sent; null for a practice question.")
    position: int
    text: str
    answerSeconds: int = Field(description="The answer time for this candidate (extra time included).")
    thinkingSeconds: int
    maxTakes: int
    takesUsed: int
    practice: bool
    answered: bool
    videoId: uuid.UUID | None
    questionVideoUrl: str = Field(description="The recruiter asking the question on video, or empty.")
    revealed: bool = Field(
        description="Shown to the candidate: a question with thinking time is not, until they ask for it "
        "(POST …/reveal) or start a take; until then its text and video are empty."
    )
    thinkingSecondsLeft: int = Field(
        description="Thinking time left: all of it until revealed, then what the clock leaves."
    )


class TokenCheckOut(Schema):
    ok: bool
    inviteId: uuid.UUID
    status: InviteStatus
    canSubmit: bool
    expiresAt: datetime
    takesUsed: int = Field(description="Takes started on the next question to answer.")
    maxTakes: int = Field(description="Takes allowed on the next question to answer.")
    interview: CandidateInterviewOut
    questions: list[CandidateQuestionOut]
    nextQuestionId: uuid.UUID | None


class AnswerOut(Schema):
    id: uuid.UUID
    inviteId: uuid.UUID
    questionId: uuid.UUID
    position: int
    text: str
    takesUsed: int
    maxTakes: int
    submittedAt: datetime | None
    videoId: uuid.UUID | None


class TakeOut(Schema):
    take: int
    maxTakes: int
    takesLeft: int


def invite_out(invite: Invite) -> dict[str, object]:
    videos = list(invite.videos.all())
    return {
        "id": invite.id,
        "email": invite.email,
        "name": invite.name,
        "token": invite.token,
        "link": invite.link,
        "status": invite.status,
        "expiresAt": invite.expires_at,
        "createdAt": invite.created_at,
        "openedAt": invite.opened_at,
        "submittedAt": invite.submitted_at,
        "latestVideoId": videos[0].id if videos else None,
        "interviewId": invite.interview_id,
    }


def candidate_state(invite: Invite) -> dict[str, object]:
    """What the candidate's page needs: the interview, each question with its
    limits for this candidate and how far they are (GET /invites/{token})."""
    interview = invite.interview
    answers = invite_answers(invite)
    # An answer claimed for a video whose row never came is still to answer.
    claimed = [a.submission_id for a in answers.values() if a.submission_id is not None]
    arrived = set(invite.videos.filter(pk__in=claimed).values_list("pk", flat=True))  # type: ignore[attr-defined]
    questions: list[dict[str, object]] = []
    number = 0
    for question in invite_questions(invite):
        number += 0 if question.practice else 1
        questions.append(_question_state(invite, question, answers.get(question.pk), number, arrived))
    # A submitted invite is asked nothing more (a question added since is for those still answering).
    upcoming = invite_next_question(invite) if invite.submitted_at is None else None
    current = next((q for q in questions if upcoming and q["id"] == upcoming.pk), None)
    return {
        "ok": True,
        "inviteId": invite.id,
        "status": invite.status,
        "canSubmit": invite.is_usable,
        "expiresAt": invite.expires_at,
        "takesUsed": current["takesUsed"] if current else 0,
        "maxTakes": current["maxTakes"] if current else settings.AURIO_MAX_ATTEMPTS,
        "interview": {
            "id": interview.pk,
            "title": interview.title,
            "intro": interview.intro,
            "closing": interview.closing,
            "accentColour": interview.accent_colour,
            "logoUrl": interview.logo_url,
        },
        "questions": questions,
        "nextQuestionId": upcoming.pk if upcoming else None,
    }


def _question_state(
    invite: Invite, question: Question, answer: Answer | None, number: int, arrived: set[uuid.UUID]
) -> dict[str, object]:
    """One question as the candidate's page sees it. A question with thinking time keeps its
    text and video back until it is revealed, so reading the page's data does not buy more
    time to think; a practice question is never held back."""
    answered = bool(
        answer and answer.submitted_at and (answer.submission_id is None or answer.submission_id in arrived)
    )
    revealed = (
        question.practice
        or not question.thinking_seconds
        or answered
        or bool(answer and (answer.revealed_at or answer.takes))
    )
    video_url = reverse("videos:question_video", args=[invite.token, question.pk]) if question.video else ""
    return {
        "id": question.pk,
        "number": None if question.practice else number,
        "position": question.position,
        "text": question.text if revealed else "",
        "answerSeconds": invite.answer_seconds(question),
        "thinkingSeconds": question.thinking_seconds,
        "maxTakes": invite.takes_allowed(question),
        "takesUsed": answer.takes if answer else 0,
        "practice": question.practice,
        "answered": answered,
        "videoId": answer.submission_id if answer else None,
        "questionVideoUrl": video_url if revealed else "",
        "revealed": revealed,
        "thinkingSecondsLeft": (
            answer.thinking_seconds_left(timezone.now()) if answer else question.thinking_seconds
        )
        if not question.practice
        else question.thinking_seconds,
    }


def answer_out(answer: Answer) -> dict[str, object]:
    return {
        "id": answer.id,
        "inviteId": answer.invite_id,
        "questionId": answer.question_id,
        "position": answer.question.position,
        "text": answer.question.text,
        "takesUsed": answer.takes,
        "maxTakes": answer.invite.takes_allowed(answer.question),
        "submittedAt": answer.submitted_at,
        "videoId": answer.submission_id,
    }


@router.post("/invites", auth=recruiter_auth, response={201: InviteOut, **RECRUITER_ERRORS, 422: Error})
def create_invite(request: HttpRequest, payload: InviteIn) -> Status:
    """Create an invite; the response carries the candidate's link."""
    require_permission(request, "invites.add_invite")
    if payload.expiresAt is not None and payload.expiresAt.tzinfo is None:
        raise HttpError(422, "expiresAt: give a time zone, e.g. 2026-12-01T17:00:00Z.")
    if payload.expiresAt is not None and payload.expiresAt <= timezone.now():
        raise HttpError(422, "expiresAt: the deadline must be in the future.")
    try:
        # In UTC: databases refuse offsets past ±15:59 that ISO 8601 lets through (-19:05).
        expires_at = payload.expiresAt.astimezone(UTC) if payload.expiresAt else None
    except OverflowError:
        raise HttpError(422, "expiresAt: the deadline is past the end of the calendar.") from None
    interview = None
    if payload.interviewId is not None:
        interview = Interview.objects.filter(pk=payload.interviewId).first()
        if interview is None:
            raise HttpError(422, "interviewId: there is no interview with this id.")
        if not interview.answered_questions().exists():
            raise HttpError(422, "interviewId: this interview has no question to answer yet.")
    invite = invite_create(
        email=payload.email,
        name=payload.name,
        expires_at=expires_at,
        actor=Actor.of_request(request),
        interview=interview,
    )
    return Status(201, invite_out(invites_with_videos().get(pk=invite.pk)))


@router.get("/invites", auth=recruiter_auth, response={200: list[InviteOut], **RECRUITER_ERRORS})
def list_invites(request: HttpRequest) -> list[dict[str, object]]:
    """Every invite, newest first."""
    require_permission(request, "invites.view_invite")
    return [invite_out(invite) for invite in invites_with_videos()]


@router.get("/invites/{token}", response={200: TokenCheckOut, 404: Error, 410: Error})
@limited_api
def check_invite(request: HttpRequest, token: str) -> dict[str, object]:
    """For the candidate's page: is this link usable? 404 unknown, 410 expired or revoked."""
    invite = invite_for_token(token)
    if invite is None:
        raise HttpError(404, "This link is not valid.")
    if invite.status == InviteStatus.REVOKED:
        raise HttpError(410, "This link has been withdrawn.")
    if invite.status == InviteStatus.EXPIRED:
        raise HttpError(410, "This link has expired.")
    invite_mark_opened(invite=invite)
    invite_complete_if_answered(invite=invite)  # finishes what a request that died left
    return candidate_state(invite)


def _take_status(invite: Invite, answer: Answer) -> Status:
    take = answer_start_take(answer=answer)
    limit = invite.takes_allowed(answer.question)
    if take is None:
        raise HttpError(403, f"You have used all {limit} take{'s' if limit != 1 else ''} for this question.")
    return Status(201, {"take": take, "maxTakes": limit, "takesLeft": limit - take})


def _candidate_invite(token: str) -> Invite:
    invite = invite_for_token(token)
    if invite is None:
        raise HttpError(404, "This link is not valid.")
    invite.check_accepts_answer()
    return invite


@router.post(
    "/invites/{token}/takes", response={201: TakeOut, 403: Error, 404: Error, 409: Error, 410: Error}
)
@limited_api
def start_take(request: HttpRequest, token: str) -> Status:
    """The candidate starts a recording (or picks a file) for the next question
    to answer: the server counts takes and refuses more than the question allows."""
    invite = _candidate_invite(token)
    question = invite_next_question(invite)
    if question is None:
        raise HttpError(409, "An answer has already been submitted through this link.")
    return _take_status(invite, answer_for(invite=invite, question=question))


@router.post(
    "/invites/{token}/questions/{question_id}/takes",
    response={201: TakeOut, 403: Error, 404: Error, 409: Error, 410: Error, 422: Error},
)
@limited_api
def start_question_take(request: HttpRequest, token: str, question_id: str) -> Status:
    """The candidate starts a recording (or picks a file) for this question:
    the server counts takes and refuses more than the question allows."""
    invite = _candidate_invite(token)
    question = _question_of(invite, question_id)
    if question.practice:
        raise HttpError(422, "A practice question's takes are not counted; it is never sent.")
    answer = answer_for(invite=invite, question=question)
    answer.check_accepts_answer()
    return _take_status(invite, answer)


@router.post(
    "/invites/{token}/questions/{question_id}/reveal",
    response={200: CandidateQuestionOut, 404: Error, 409: Error, 410: Error},
)
@limited_api
def reveal_question(request: HttpRequest, token: str, question_id: str) -> dict[str, object]:
    """The candidate asks to see the question: its text (and video) come back, and its thinking
    time starts, once (asking again, from a reload or another device, gives what is left)."""
    invite = _candidate_invite(token)
    question = _question_of(invite, question_id)
    answer = None
    if not question.practice:
        answer = answer_for(invite=invite, question=question)
        answer.check_accepts_answer()
        answer_reveal(answer=answer)
    questions = invite_questions(invite)
    number = sum(1 for q in questions if not q.practice and q.position <= question.position)
    return _question_state(invite, question, answer, number, set())


def _question_of(invite: Invite, raw: str) -> Question:
    try:
        return invite.interview.questions.get(pk=uuid.UUID(raw))
    except (ValueError, Question.DoesNotExist):
        raise HttpError(404, "This interview has no such question.") from None


@router.get(
    "/answers",
    auth=recruiter_auth,
    response={200: list[AnswerOut], **RECRUITER_ERRORS, 404: Error, 422: Error},
)
def list_answers(request: HttpRequest, inviteId: str) -> list[dict[str, object]]:
    """An invite's answers, in question order: takes used, and the video submitted."""
    require_permission(request, "invites.view_invite")
    try:
        invite = Invite.objects.filter(pk=uuid.UUID(inviteId)).first()
    except ValueError:
        raise HttpError(422, "inviteId must be an invite's id (a UUID).") from None
    if invite is None:
        raise HttpError(404, "No such invite.")
    answers = Answer.objects.filter(invite=invite).select_related("question", "invite")
    return [answer_out(a) for a in sorted(answers, key=lambda a: (a.question.position, str(a.question_id)))]
