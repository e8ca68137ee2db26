"""The recruiter's question video: the candidate whose link asks the question
can play and seek it; nobody else can reach it through another link."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from interviews.models import Question
from invites.services import invite_create, invite_revoke
from tests.support.factories import make_interview


@pytest.fixture
def asked(db: None, plain_mp4: Path) -> tuple[Question, bytes]:
    interview = make_interview(questions=[{"text": "Tell us about you"}, {"text": "Why us?"}])
    question = interview.questions.first()
    assert question is not None
    content = plain_mp4.read_bytes()
    question.video.save("question.mp4", ContentFile(content), save=True)
    return question, content


def url(token: str, question: Question) -> str:
    return reverse("videos:question_video", args=[token, question.pk])


def test_the_candidate_plays_and_seeks_the_question_video(
    client: Client, asked: tuple[Question, bytes]
) -> None:
    question, content = asked
    invite = invite_create(email="c@example.com", interview=question.interview)
    whole = client.get(url(invite.token, question))
    assert whole.status_code == 200
    assert whole["Content-Type"] == "video/mp4"
    assert b"".join(whole.streaming_content) == content  # type: ignore[attr-defined]
    part = client.get(url(invite.token, question), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == content[100:200]  # type: ignore[attr-defined]
    assert part["Referrer-Policy"] == "no-referrer"
    state = client.get(reverse("api:check_invite", args=[invite.token])).json()
    assert [q["questionVideoUrl"] for q in state["questions"]] == [url(invite.token, question), ""]


def test_another_interviews_link_or_a_dead_link_gets_nothing(
    client: Client, asked: tuple[Question, bytes]
) -> None:
    question, _ = asked
    stranger = invite_create(email="s@example.com")  # the default interview
    assert client.get(url(stranger.token, question)).status_code == 404
    invite = invite_create(email="c@example.com", interview=question.interview)
    invite_revoke(invite=invite)
    assert client.get(url(invite.token, question)).status_code == 404
    assert client.get(url("G" * 32, question)).status_code == 404
    second = question.interview.questions.last()
    assert second is not None
    fresh = invite_create(email="d@example.com", interview=question.interview)
    assert client.get(url(fresh.token, second)).status_code == 404  # no video on that question
    assert client.get(reverse("videos:question_video", args=[fresh.token, "not-a-uuid"])).status_code == 404


def test_only_a_video_is_accepted_as_a_question_video(db: None) -> None:
    question = make_interview().questions.first()
    assert question is not None
    question.video = SimpleUploadedFile(
        "question.mp4", b"<html><script>alert(1)</script></html>", "video/mp4"
    )
    with pytest.raises(ValidationError, match="MP4, MOV or WebM"):
        question.full_clean()
