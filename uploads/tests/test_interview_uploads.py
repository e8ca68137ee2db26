"""Uploads that answer one question of an interview: the tus upload names its
question (`question` in Upload-Metadata), and every rule holds per question:
uploads of different questions go on side by side (the page sends one in the
background while the candidate records the next), a question is answered
once, its own answer time applies, and the invite is submitted once the last
question has its video."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

from interviews.models import Interview, Question
from invites.models import Answer, Invite, InviteStatus
from invites.services import answer_claim, answer_for, invite_create
from tests.support.factories import make_interview
from tests.support.media import make_video
from uploads.models import Chunk, Upload
from uploads.tests.test_finish import finish
from uploads.tests.test_tus import TUS, patch, upload_of
from videos.models import Video
from videos.services import video_delete

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(recorder_webm: Path) -> bytes:
    return recorder_webm.read_bytes()


@pytest.fixture(scope="session")
def twelve_seconds(media_dir: Path) -> bytes:
    return make_video(media_dir / "twelve.webm", seconds=12, live=True, size=(160, 120), rate=5).read_bytes()


@pytest.fixture
def interview(db: None) -> Interview:
    return make_interview(
        questions=[
            {"text": "First?"},
            {"text": "Warm up", "practice": True},
            {"text": "Second?", "answer_seconds": 10},
            {"text": "Third?"},
        ]
    )


@pytest.fixture
def invite(interview: Interview) -> Invite:  # overrides conftest's: an invite to the interview above
    return invite_create(email="cand@example.com", interview=interview)


def q(interview: Interview, text: str) -> Question:
    return interview.questions.get(text=text)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(client: Client, invite: Invite, length: int, question: Question | str | None, **metadata: str):  # type: ignore[no-untyped-def]
    fields = {"filename": "answer.webm", "filetype": "video/webm", **metadata}
    if question is not None:
        fields["question"] = question if isinstance(question, str) else str(question.pk)
    return client.post(
        reverse("uploads:uploads", args=[invite.token]),
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": ",".join(f"{k} {b64(v)}" for k, v in fields.items()),
        },
    )


def send(client: Client, invite: Invite, content: bytes, question: Question | None) -> str:
    response = create(client, invite, len(content), question)
    assert response.status_code == 201, response.content
    url = response["Location"]
    assert patch(client, url, content, 0).status_code == 204
    return url


def answer(client: Client, invite: Invite, content: bytes, question: Question) -> str:
    """The question answered through tus; the video's id."""
    response = finish(client, invite, send(client, invite, content, question))
    assert response.status_code == 201, response.content
    return response.json()["videoId"]


def submitted(invite: Invite) -> bool:
    invite.refresh_from_db()
    return invite.submitted_at is not None


# --- answering in any order ------------------------------------------------------------------


def test_questions_answered_out_of_order_are_listed_in_question_order(
    client: Client, api: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    third = answer(client, invite, content, q(interview, "Third?"))
    first = answer(client, invite, content, q(interview, "First?"))
    assert not submitted(invite)
    second = answer(client, invite, content, q(interview, "Second?"))
    assert submitted(invite)
    listed = api.get(reverse("api:list_videos") + f"?inviteId={invite.pk}").json()
    assert [v["id"] for v in listed] == [first, second, third]
    assert [v["questionId"] for v in listed] == [
        str(q(interview, text).pk) for text in ("First?", "Second?", "Third?")
    ]
    # Each video stored whole, for its question.
    for video in Video.objects.filter(invite=invite):
        with default_storage.open(video.file.name) as stored:
            assert len(stored.read()) == video.size
    assert not Chunk.objects.exists() and not Upload.objects.filter(video__isnull=True).exists()


def test_an_upload_that_names_no_question_answers_the_first_unanswered(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    answer(client, invite, content, q(interview, "First?"))
    video = Video.objects.get(
        pk=finish(client, invite, send(client, invite, content, None)).json()["videoId"]
    )
    assert video.question == q(interview, "Second?")


def test_the_multipart_upload_answers_the_first_unanswered_question(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    answer(client, invite, content, q(interview, "First?"))
    answer(client, invite, content, q(interview, "Third?"))
    response = client.post(
        reverse("api:upload_video", args=[invite.token]), {"file": ContentFile(content, name="a.webm")}
    )
    assert response.status_code == 201
    assert Video.objects.get(pk=response.json()["videoId"]).question == q(interview, "Second?")
    assert submitted(invite)


# --- uploads of two questions at once --------------------------------------------------------


def test_two_questions_uploads_in_flight_at_once_both_finish(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    """The page sends question 1 in the background while the candidate
    records question 2: the second upload must not cancel the first."""
    half = len(content) // 2
    one = create(client, invite, len(content), q(interview, "First?"))["Location"]
    assert patch(client, one, content[:half], 0).status_code == 204
    two = create(client, invite, len(content), q(interview, "Third?"))["Location"]
    assert patch(client, two, content[:half], 0).status_code == 204
    # Both go on, interleaved, from where they were.
    assert patch(client, one, content[half:], half).status_code == 204
    assert patch(client, two, content[half:], half).status_code == 204
    first, third = finish(client, invite, one), finish(client, invite, two)
    assert (first.status_code, third.status_code) == (201, 201)
    assert Video.objects.get(pk=first.json()["videoId"]).question == q(interview, "First?")
    assert Video.objects.get(pk=third.json()["videoId"]).question == q(interview, "Third?")
    assert upload_of(one).video_id and upload_of(two).video_id


def test_finishing_one_questions_upload_leaves_anothers_unfinished_upload_alone(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    half = len(content) // 2
    pending = create(client, invite, len(content), q(interview, "Third?"))["Location"]
    assert patch(client, pending, content[:half], 0).status_code == 204
    answer(client, invite, content, q(interview, "First?"))
    assert client.head(pending, headers=TUS)["Upload-Offset"] == str(half)
    assert patch(client, pending, content[half:], half).status_code == 204
    assert finish(client, invite, pending).status_code == 201


def test_a_new_upload_of_the_same_question_replaces_its_incomplete_one(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    first = q(interview, "First?")
    old = create(client, invite, len(content), first)["Location"]
    assert patch(client, old, content[:1000], 0).status_code == 204
    other = create(client, invite, len(content), q(interview, "Third?"))["Location"]
    new = create(client, invite, len(content), first)["Location"]
    assert client.head(old, headers=TUS).status_code == 404  # replaced (a reload lost track of it)
    assert client.head(other, headers=TUS).status_code == 200  # another question's: untouched
    assert patch(client, new, content, 0).status_code == 204
    assert finish(client, invite, new).status_code == 201


# --- one answer per question -----------------------------------------------------------------


def test_a_second_answer_to_the_same_question_is_409_and_the_first_is_kept(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    first = q(interview, "First?")
    # Two whole takes of the question, both sent before either is submitted.
    take_one = send(client, invite, content, first)
    take_two = send(client, invite, content, first)
    kept = finish(client, invite, take_one)
    assert kept.status_code == 201
    assert finish(client, invite, take_two).status_code in (404, 409)  # dropped once the answer was in
    assert create(client, invite, len(content), first).status_code == 409
    answer_row = Answer.objects.get(invite=invite, question=first)
    assert str(answer_row.submission_id) == kept.json()["videoId"]
    assert list(Video.objects.filter(invite=invite).values_list("pk", flat=True)) == [
        answer_row.submission_id
    ]


def test_a_practice_question_takes_no_upload(client: Client, invite: Invite, interview: Interview) -> None:
    response = create(client, invite, 1000, q(interview, "Warm up"))
    assert response.status_code == 422
    assert not Upload.objects.exists() and not Answer.objects.exists()


@pytest.mark.parametrize("question_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_upload_for_an_unknown_question_is_404(client: Client, invite: Invite, question_id: str) -> None:
    assert create(client, invite, 1000, question_id).status_code == 404
    assert not Upload.objects.exists()


def test_an_upload_for_another_interviews_question_is_404(client: Client, invite: Invite) -> None:
    default_question = Interview.objects.default().questions.get()
    assert create(client, invite, 1000, default_question).status_code == 404
    assert not Upload.objects.exists()


def test_a_take_not_started_on_this_question_is_409(
    client: Client, invite: Invite, interview: Interview
) -> None:
    assert client.post(reverse("api:start_question_take", args=[invite.token, q(interview, "Third?").pk]))
    response = create(client, invite, 1000, q(interview, "First?"), take="1")
    assert response.status_code == 409  # take 1 was started on "Third?", not on "First?"
    assert create(client, invite, 1000, q(interview, "Third?"), take="1").status_code == 201


# --- each question's answer time -------------------------------------------------------------


def test_a_file_longer_than_the_questions_answer_time_is_422(
    client: Client, invite: Invite, interview: Interview, twelve_seconds: bytes, settings: Settings
) -> None:
    settings.AURIO_DURATION_TOLERANCE_SECONDS = 1  # 12 s is within 10 s + the default 3 s
    response = finish(client, invite, send(client, invite, twelve_seconds, q(interview, "Second?")))
    assert response.status_code == 422
    assert "the limit is" in response.json()["detail"]
    assert not Video.objects.exists()
    assert Answer.objects.get(invite=invite, question=q(interview, "Second?")).submitted_at is None
    # The same file answers a question with the deployment's two minutes.
    assert answer(client, invite, twelve_seconds, q(interview, "First?"))


def test_extra_time_lets_a_longer_file_answer_the_question(
    client: Client, invite: Invite, interview: Interview, twelve_seconds: bytes, settings: Settings
) -> None:
    settings.AURIO_DURATION_TOLERANCE_SECONDS = 1
    Invite.objects.filter(pk=invite.pk).update(extra_time_percent=50)  # 10 s → 15 s
    invite.refresh_from_db()
    video = Video.objects.get(pk=answer(client, invite, twelve_seconds, q(interview, "Second?")))
    assert video.duration_seconds == pytest.approx(12, abs=0.5)


# --- an unfinished claim, a deleted video, a deleted question --------------------------------


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def test_an_unfinished_claim_on_one_question_blocks_no_other_and_reconcile_completes_it(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    second = q(interview, "Second?")
    # A request that died between claiming "Second?" and writing its video's row.
    video_id = uuid.uuid4()
    default_storage.save(f"videos/{video_id}/original.webm", ContentFile(content))
    assert answer_claim(answer=answer_for(invite=invite, question=second), video_id=video_id)
    Answer.objects.filter(invite=invite, question=second).update(
        submitted_at=timezone.now() - timedelta(hours=3)
    )
    answer(client, invite, content, q(interview, "First?"))
    answer(client, invite, content, q(interview, "Third?"))
    assert not submitted(invite)  # "Second?" has no video yet
    out = reconcile("--fix")
    assert "completed: video" in out
    video = Video.objects.get(pk=video_id)
    assert video.question == second
    assert submitted(invite)
    assert Video.objects.filter(invite=invite).count() == 3


def test_a_video_deleted_by_staff_keeps_its_question_answered(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    first = q(interview, "First?")
    video = Video.objects.get(pk=answer(client, invite, content, first))
    video_delete(video=video)
    state = client.get(reverse("api:check_invite", args=[invite.token])).json()
    by_text = {question["text"]: question for question in state["questions"]}
    assert by_text["First?"]["answered"] is True
    assert state["nextQuestionId"] == str(q(interview, "Second?").pk)
    assert create(client, invite, len(content), first).status_code == 409
    answer(client, invite, content, q(interview, "Second?"))
    answer(client, invite, content, q(interview, "Third?"))
    assert submitted(invite)
    assert invite.status == InviteStatus.SUBMITTED


def test_a_question_with_answers_cannot_be_deleted(
    client: Client, invite: Invite, interview: Interview, content: bytes
) -> None:
    first = q(interview, "First?")
    answer(client, invite, content, first)
    with pytest.raises(ProtectedError):
        first.delete()
    with pytest.raises(ProtectedError):
        interview.delete()  # nor the interview, which its invites keep
    assert Question.objects.filter(pk=first.pk).exists()
