"""Writes to interviews, each with its line in the audit trail."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from audit import services as audit
from audit.services import SYSTEM, Action, Actor
from interviews.models import Interview, Question

QUESTION_FIELDS = ("text", "answer_seconds", "thinking_seconds", "retakes", "practice")


def interview_create(
    *,
    title: str,
    questions: list[dict[str, Any]],
    intro: str = "",
    closing: str = "",
    deadline_days: int | None = None,
    accent_colour: str = "",
    actor: Actor = SYSTEM,
) -> Interview:
    """An interview with its questions, asked in the order given."""
    interview = Interview.objects.create(
        title=title,
        intro=intro,
        closing=closing,
        deadline_days=deadline_days,
        accent_colour=accent_colour,
        created_by=actor.user,
    )
    for position, fields in enumerate(questions):
        Question.objects.create(interview=interview, position=position, **_only_question_fields(fields))
    audit.record(actor=actor, action=Action.CREATED, target=interview, detail={"questions": len(questions)})
    return interview


def interview_add_question(
    *, interview: Interview, fields: dict[str, Any], actor: Actor = SYSTEM
) -> Question:
    """A question after the interview's last one."""
    last = interview.questions.aggregate(last=Max("position"))["last"]
    question = Question.objects.create(
        interview=interview, position=0 if last is None else last + 1, **_only_question_fields(fields)
    )
    audit.record(
        actor=actor, action=Action.EDITED, target=interview, detail={"question_added": str(question.pk)}
    )
    return question


def interview_duplicate(*, interview: Interview, actor: Actor = SYSTEM) -> Interview:
    """A copy of the interview and its questions, titled "… (copy)", with no
    invites; the default interview's copy is an ordinary interview."""
    copy = interview_create(
        title=f"{interview.title} (copy)"[:200],
        intro=interview.intro,
        closing=interview.closing,
        deadline_days=interview.deadline_days,
        accent_colour=interview.accent_colour,
        questions=[{f: getattr(q, f) for f in QUESTION_FIELDS} for q in interview.questions.all()],
        actor=actor,
    )
    if interview.logo:
        with interview.logo.open("rb") as logo:
            copy.logo.save("logo", logo, save=True)
    # The recruiter's question videos too: each copy its own file (deleting one leaves the other).
    for original, question in zip(interview.questions.all(), copy.questions.all(), strict=True):
        if original.video:
            with original.video.open("rb") as video:
                question.video.save("question", video, save=True)
    audit.record(actor=actor, action=Action.EDITED, target=copy, detail={"copied_from": str(interview.pk)})
    return copy


def _only_question_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(QUESTION_FIELDS)
    if unknown:
        raise TypeError(f"not question fields: {', '.join(sorted(unknown))}")
    return fields
