"""The migration to interviews, on rows the seed's releases wrote: every
invite ends in the default interview, its takes and submission become its
answer to the default question, and its video answers that question; and
back again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# The state before interviews: what the seed's last release migrated to.
BEFORE = [
    ("interviews", None),
    ("invites", "0003_invite_submission_id"),
    ("videos", "0002_processing"),
    ("uploads", "0002_upload_take_chunk_created_at"),
]
# The first state with interviews, their answers and the videos' questions.
AFTER = [
    ("interviews", "0002_default_interview"),
    ("invites", "0005_invite_interview_required"),
    ("videos", "0004_video_question_required"),
    ("uploads", "0003_upload_question_alter_upload_take"),
]


def migrate(targets: list[tuple[str, str | None]]) -> Apps:
    """Migrate the test database to `targets`; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # what was applied since the last call
    executor.migrate(targets)  # type: ignore[arg-type]
    # An app migrated to zero has no node; the others' state leaves it out.
    nodes = [(app, name) for app, name in targets if name is not None]
    return executor.loader.project_state(nodes).apps


# Each test migrates the real test database; the rows the migrations made
# (the default interview) are put back for the tests that follow.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def before(db: None) -> Iterator[Apps]:
    """The models of the state before interviews; the database migrated back
    to the latest state afterwards, whatever the test did."""
    try:
        yield migrate(BEFORE)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def old_invite(apps: Apps, email: str, **fields: Any) -> Any:
    Invite = apps.get_model("invites", "Invite")
    return Invite.objects.create(
        email=email,
        nonce=uuid.uuid4().hex,
        token_hash=uuid.uuid4().hex * 2,
        expires_at=timezone.now() + timedelta(days=7),
        **fields,
    )


def old_video(apps: Apps, invite: Any) -> Any:
    Video = apps.get_model("videos", "Video")
    return Video.objects.create(
        invite=invite,
        file=f"videos/{uuid.uuid4()}/original.webm",
        content_type="video/webm",
        size=1000,
        sha256="0" * 64,
    )


def test_old_invites_and_videos_move_to_the_default_interview(before: Apps) -> None:
    now = timezone.now()
    video_id = uuid.uuid4()
    answered = old_invite(before, "answered@example.com", takes=2, submitted_at=now, submission_id=video_id)
    video = old_video(before, answered)
    before.get_model("videos", "Video").objects.filter(pk=video.pk).update(id=video_id)
    started = old_invite(before, "started@example.com", takes=1, opened_at=now)
    never_opened = old_invite(before, "never@example.com")

    after = migrate(AFTER)
    Interview = after.get_model("interviews", "Interview")
    Invite = after.get_model("invites", "Invite")
    Answer = after.get_model("invites", "Answer")
    Video = after.get_model("videos", "Video")
    default = Interview.objects.get(is_default=True)
    question = default.questions.get()
    assert not question.practice and question.answer_seconds is None

    assert set(Invite.objects.values_list("interview_id", flat=True)) == {default.pk}
    answer = Answer.objects.get(invite_id=answered.pk)
    assert (answer.question_id, answer.takes) == (question.pk, 2)
    assert (answer.submitted_at, answer.submission_id) == (now, video_id)
    answer = Answer.objects.get(invite_id=started.pk)
    assert (answer.takes, answer.submitted_at, answer.submission_id) == (1, None, None)
    assert not Answer.objects.filter(invite_id=never_opened.pk).exists()
    assert Video.objects.get(pk=video_id).question_id == question.pk
    assert Invite.objects.get(pk=answered.pk).submitted_at == now


def test_the_migrated_rows_work_with_todays_code(before: Apps) -> None:
    """After migrating all the way, the services read the old rows as the
    default interview's answers."""
    now = timezone.now()
    video_id = uuid.uuid4()
    answered = old_invite(before, "answered@example.com", takes=3, submitted_at=now, submission_id=video_id)
    before.get_model("videos", "Video").objects.filter(pk=old_video(before, answered).pk).update(id=video_id)
    waiting = old_invite(before, "waiting@example.com", takes=1)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from invites.models import Invite, InviteStatus
    from invites.services import invite_next_question

    invite = Invite.objects.get(pk=answered.pk)
    assert invite.status == InviteStatus.SUBMITTED
    assert invite_next_question(invite) is None
    assert invite.interview.is_default
    pending = Invite.objects.get(pk=waiting.pk)
    assert invite_next_question(pending) == pending.interview.questions.get()
    assert pending.answers.get().takes == 1  # type: ignore[attr-defined]


def test_an_invite_submitted_without_takes_or_a_video_keeps_its_answer(before: Apps) -> None:
    """Submitted through the multipart upload (which counts no take), its video
    since deleted by staff (which clears submission_id): still answered."""
    now = timezone.now()
    submitted = old_invite(before, "submitted@example.com", submitted_at=now)

    after = migrate(AFTER)
    answer = after.get_model("invites", "Answer").objects.get(invite_id=submitted.pk)
    assert (answer.takes, answer.submitted_at, answer.submission_id) == (0, now, None)


def test_migrating_back_restores_takes_and_the_submission(before: Apps) -> None:
    video_id = uuid.uuid4()
    answered = old_invite(
        before, "answered@example.com", takes=2, submitted_at=timezone.now(), submission_id=video_id
    )
    before.get_model("videos", "Video").objects.filter(pk=old_video(before, answered).pk).update(id=video_id)
    started = old_invite(before, "started@example.com", takes=1)
    migrate(AFTER)

    back = migrate(BEFORE)
    Invite = back.get_model("invites", "Invite")
    assert (Invite.objects.get(pk=answered.pk).takes, Invite.objects.get(pk=answered.pk).submission_id) == (
        2,
        video_id,
    )
    assert Invite.objects.get(pk=started.pk).takes == 1
    assert back.get_model("videos", "Video").objects.get(pk=video_id).invite_id == answered.pk
