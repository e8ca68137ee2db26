"""Interview and Question as rows: their limits, what they refuse, the default
interview, and what may not be deleted."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from pytest_django import Settings

from interviews.models import DEFAULT_QUESTION_TEXT, Interview, Question, logo_type, validate_colour
from invites.services import answer_for, invite_create
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db


def test_a_question_without_limits_follows_the_deployment(settings: Settings) -> None:
    question = make_interview().questions.first()
    assert question is not None
    settings.AURIO_MAX_DURATION_SECONDS, settings.AURIO_MAX_ATTEMPTS = 90, 5
    assert (question.limit_seconds, question.takes_allowed) == (90, 5)


def test_a_questions_own_limits_win(settings: Settings) -> None:
    question = make_interview(questions=[{"text": "Q?", "answer_seconds": 45, "retakes": 0}]).questions.get()
    settings.AURIO_MAX_DURATION_SECONDS, settings.AURIO_MAX_ATTEMPTS = 90, 5
    assert (question.limit_seconds, question.takes_allowed) == (45, 1)


def test_an_invites_accommodations_apply_to_each_question() -> None:
    interview = make_interview(questions=[{"text": "A", "answer_seconds": 25, "retakes": 1}])
    invite = invite_create(email="c@example.com", interview=interview)
    invite.extra_time_percent, invite.extra_takes = 50, 3
    question = interview.questions.get()
    assert invite.answer_seconds(question) == 38  # 37.5, rounded up: never less than promised
    assert invite.takes_allowed(question) == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("answer_seconds", 9),
        ("answer_seconds", 301),
        ("thinking_seconds", 301),
        ("retakes", 11),
    ],
)
def test_a_question_out_of_bounds_does_not_validate(field: str, value: int) -> None:
    question = Question(interview=make_interview(), text="Q?", **{field: value})
    with pytest.raises(ValidationError) as refused:
        question.full_clean()
    assert field in refused.value.message_dict


@pytest.mark.parametrize("value", ["blue", "#12345", "#1234567", "#12345g", "1d4ed8"])
def test_a_colour_not_as_rrggbb_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        validate_colour(value)


@pytest.mark.parametrize("value", ["", "#1d4ed8", "#ABCDEF"])
def test_a_colour_as_rrggbb_or_none_is_fine(value: str) -> None:
    validate_colour(value)


def test_a_logo_is_known_by_its_bytes_not_its_name() -> None:
    assert logo_type(b"\x89PNG\r\n\x1a\n" + b"\0" * 8) == ("png", "image/png")
    assert logo_type(b"RIFF\0\0\0\0WEBPVP8 ") == ("webp", "image/webp")
    assert logo_type(b"<svg xmlns=") is None


def test_the_migration_made_the_default_interview_with_one_question() -> None:
    default = Interview.objects.get(is_default=True)
    assert Interview.objects.default() == default
    assert [(q.text, q.practice) for q in default.questions.all()] == [(DEFAULT_QUESTION_TEXT, False)]


def test_the_default_interview_deleted_by_hand_is_made_again() -> None:
    Interview.objects.filter(is_default=True).delete()
    default = Interview.objects.default()
    assert default.is_default and default.questions.get().text == DEFAULT_QUESTION_TEXT
    assert invite_create(email="c@example.com").interview == default


def test_there_is_one_default_interview_at_most() -> None:
    Interview.objects.default()
    with pytest.raises(IntegrityError), transaction.atomic():
        Interview.objects.create(title="Another default", is_default=True)


def test_an_interview_with_invites_cannot_be_deleted() -> None:
    interview = make_interview()
    invite_create(email="c@example.com", interview=interview)
    with pytest.raises(ProtectedError):
        interview.delete()


def test_a_question_with_an_answer_cannot_be_deleted_but_one_without_can() -> None:
    interview = make_interview()
    first, second, _ = interview.questions.all()
    answer_for(invite=invite_create(email="c@example.com", interview=interview), question=first)
    with pytest.raises(ProtectedError):
        first.delete()
    second.delete()
    assert [q.text for q in interview.questions.all()] == ["Question 1?", "Question 3?"]


def test_practice_questions_are_not_answered_questions() -> None:
    interview = make_interview(questions=[{"text": "Try", "practice": True}, {"text": "Real"}])
    assert [q.text for q in interview.answered_questions()] == ["Real"]


def test_a_duplicate_has_its_own_copy_of_each_question_video(db: None) -> None:
    from django.core.files.base import ContentFile

    from interviews.services import interview_duplicate
    from tests.support.factories import make_interview

    interview = make_interview(questions=[{"text": "On video"}, {"text": "In writing"}])
    first = interview.questions.first()
    assert first is not None
    first.video.save("q.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42 question"), save=True)
    copy = interview_duplicate(interview=interview)
    copied = list(copy.questions.all())
    assert copied[0].video and copied[0].video.name != first.video.name
    assert copied[0].video.read() == b"\x00\x00\x00\x18ftypmp42 question"
    assert not copied[1].video
    first.video.delete(save=True)
    assert copied[0].video.storage.exists(copied[0].video.name)
