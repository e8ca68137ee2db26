"""Thinking time a reload can't give again: a question with thinking time keeps its text
back until the candidate asks to see it, and its clock runs from that first time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invites.models import Answer, Invite
from invites.services import invite_create, invite_revoke
from tests.support.factories import make_interview

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite() -> Invite:
    interview = make_interview(
        questions=[
            {"text": "Warm up: say hello.", "thinking_seconds": 30, "practice": True},
            {"text": "The secret first question?", "thinking_seconds": 60},
            {"text": "No time to think?"},
        ]
    )
    return invite_create(email="cand@example.com", interview=interview)


def state(client: Client, invite: Invite) -> list[dict[str, object]]:
    return list(client.get(reverse("api:check_invite", args=[invite.token])).json()["questions"])


def reveal(client: Client, invite: Invite, question_id: object) -> object:
    return client.post(reverse("api:reveal_question", args=[invite.token, question_id]))


def test_a_question_with_thinking_time_is_held_back_until_revealed(client: Client, invite: Invite) -> None:
    practice, first, second = state(client, invite)
    assert (practice["text"], practice["revealed"]) == ("Warm up: say hello.", True)
    assert (first["text"], first["revealed"], first["thinkingSecondsLeft"]) == ("", False, 60)
    assert (second["text"], second["revealed"]) == ("No time to think?", True)
    page = client.get(reverse("invites:record", args=[invite.token])).content.decode()
    assert "The secret first question?" not in page

    shown = reveal(client, invite, first["id"])
    assert shown.status_code == 200  # type: ignore[attr-defined]
    body = shown.json()  # type: ignore[attr-defined]
    assert (body["text"], body["revealed"], body["number"]) == ("The secret first question?", True, 1)
    assert 59 <= body["thinkingSecondsLeft"] <= 60


def test_a_reload_or_a_second_reveal_gives_only_the_time_left(client: Client, invite: Invite) -> None:
    first = state(client, invite)[1]
    reveal(client, invite, first["id"])
    Answer.objects.filter(question_id=first["id"]).update(revealed_at=timezone.now() - timedelta(seconds=45))
    assert 14 <= reveal(client, invite, first["id"]).json()["thinkingSecondsLeft"] <= 15  # type: ignore[attr-defined]
    assert 14 <= state(client, invite)[1]["thinkingSecondsLeft"] <= 15
    Answer.objects.filter(question_id=first["id"]).update(revealed_at=timezone.now() - timedelta(minutes=5))
    assert state(client, invite)[1]["thinkingSecondsLeft"] == 0


def test_starting_a_take_reveals_the_question(client: Client, invite: Invite) -> None:
    first = state(client, invite)[1]
    client.post(reverse("api:start_question_take", args=[invite.token, first["id"]]))
    after = state(client, invite)[1]
    assert (after["text"], after["revealed"]) == ("The secret first question?", True)
    assert Answer.objects.get(question_id=first["id"]).revealed_at is not None


def test_revealing_refuses_what_a_take_would(client: Client, invite: Invite) -> None:
    first = state(client, invite)[1]
    other = make_interview(questions=[{"text": "Elsewhere?", "thinking_seconds": 10}])
    assert reveal(client, invite, other.questions.get().pk).status_code == 404  # type: ignore[attr-defined]
    assert reveal(client, invite, "not-a-uuid").status_code == 404  # type: ignore[attr-defined]
    Answer.objects.create(invite=invite, question_id=first["id"], submitted_at=timezone.now())
    assert reveal(client, invite, first["id"]).status_code == 409  # type: ignore[attr-defined]
    invite_revoke(invite=invite)
    assert reveal(client, invite, state_ids(invite)[2]).status_code == 410  # type: ignore[attr-defined]


def state_ids(invite: Invite) -> list[object]:
    return [q.pk for q in invite.interview.questions.all()]
