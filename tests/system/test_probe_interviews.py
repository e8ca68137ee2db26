"""Probe (issue 13, interviews): failing tests for problems found by an
adversarial pass. Each test states what should happen; none of them is a fix."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from interviews.models import Interview
from invites.models import Answer, Invite, hash_token, new_nonce, token_for_nonce
from invites.services import answer_for, answer_reset_takes, invite_create
from tests.support.factories import make_interview
from uploads.models import Upload

TUS = {"Tus-Resumable": "1.0.0"}
# A valid address (validate_email allows 320 characters) longer than Invite.email's 254.
LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".com"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tus_create(client: Client, invite: Invite, length: int, **metadata: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("uploads:uploads", args=[invite.token]),
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": ",".join(f"{k} {b64(v)}" for k, v in metadata.items()),
        },
    )


def tus_patch(client: Client, url: str, data: bytes, offset: int):  # type: ignore[no-untyped-def]
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": str(offset)},
    )


# --- 1. reconcile --fix "reopens" a migrated unfinished claim, but the invite stays submitted ---------


BEFORE = [
    ("interviews", None),
    ("invites", "0003_invite_submission_id"),
    ("videos", "0002_processing"),
    ("uploads", "0002_upload_take_chunk_created_at"),
]


def _migrate(targets: list[tuple[str, str | None]]):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)  # type: ignore[arg-type]
    nodes = [(app, name) for app, name in targets if name is not None]
    return executor.loader.project_state(nodes).apps


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reconcile_reopening_a_migrated_unfinished_submission_lets_the_candidate_send_again(
    recorder_webm: Path,
) -> None:
    """Seed-era data: an invite marked submitted by a video whose row never came
    (the request died between claim and row) and nothing stored. After the
    migration, `reconcile --fix` says "reopened, the candidate can send again",
    but the invite keeps its submitted_at: the link shows "done", every upload
    is 409, and reconcile no longer reports it. The candidate's answer is lost."""
    try:
        apps = _migrate(BEFORE)
        nonce = new_nonce()
        token = token_for_nonce(nonce)
        old = apps.get_model("invites", "Invite").objects.create(
            email="crashed@example.com",
            nonce=nonce,
            token_hash=hash_token(token),
            expires_at=timezone.now() + timedelta(days=7),
            takes=1,
            submitted_at=timezone.now() - timedelta(hours=2),
            submission_id=uuid.uuid4(),
        )
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    out = StringIO()
    call_command("reconcile", "--fix", stdout=out)
    assert "reopened, the candidate can send again" in out.getvalue()

    invite = Invite.objects.get(pk=old.pk)
    assert invite.submitted_at is None, "reopened, yet the invite is still marked submitted"
    client = Client()
    response = client.post(
        reverse("api:upload_video", args=[token]),
        {"file": SimpleUploadedFile("a.webm", recorder_webm.read_bytes(), "video/webm")},
    )
    assert response.status_code == 201, response.content


# --- 2. resetting takes leaves the old take's upload in flight, which blocks the new take ------------


@pytest.mark.django_db
def test_after_a_reset_of_takes_the_candidates_new_take_can_be_uploaded(client: Client) -> None:
    """The candidate used take 2 of Q1 and its upload stalled half-way; the
    recruiter resets Q1's takes. The candidate starts again (take 1), but the
    new upload is refused 409 "A newer take of this question is already being
    sent" until the stalled one expires (AURIO_UPLOAD_EXPIRY_HOURS, 24 h)."""
    interview = make_interview(questions=[{"text": "Q1"}, {"text": "Q2"}])
    invite = invite_create(email="cand@example.com", interview=interview)
    q1 = interview.questions.get(text="Q1")
    takes = reverse("api:start_question_take", args=[invite.token, q1.pk])
    assert client.post(takes).status_code == 201
    assert client.post(takes).json()["take"] == 2
    stalled = tus_create(client, invite, 400_000, question=str(q1.pk), take="2")
    assert stalled.status_code == 201
    assert tus_patch(client, stalled["Location"], b"x" * 200_000, 0).status_code == 204

    answer = Answer.objects.select_related("invite", "question").get(invite=invite, question=q1)
    answer_reset_takes(answer=answer)

    started = client.post(takes)
    assert started.status_code == 201 and started.json()["take"] == 1
    fresh = tus_create(client, invite, 400_000, question=str(q1.pk), take="1")
    assert fresh.status_code == 201, fresh.content


# --- 3. a valid email longer than the column: 500 in the admin's bulk page and import_invites --------


@pytest.mark.django_db
def test_bulk_invite_lists_an_email_longer_than_254_characters_as_a_bad_line(
    staff_client: Client, recruiter: User
) -> None:
    """validate_email accepts up to 320 characters; Invite.email holds 254. On
    PostgreSQL the batch is a 500 (DataError); on SQLite the row is stored
    longer than its field. The API refuses it (422); the bulk page should list
    it as a bad line."""
    interview = Interview.objects.default()
    response = staff_client.post(
        reverse("admin:invites_invite_bulk"),
        {"interview": str(interview.pk), "candidates": f"ok@example.com\n{LONG_EMAIL}\n"},
    )
    assert response.status_code == 200
    assert not Invite.objects.exists()
    assert any(bad.line == 2 for bad in response.context["bad"])


@pytest.mark.django_db
def test_import_invites_refuses_an_email_longer_than_254_characters(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    listed = tmp_path / "list.csv"
    listed.write_text(f"email,name\nok@example.com,Ok\n{LONG_EMAIL},Long\n")
    with pytest.raises(CommandError):
        call_command("import_invites", str(listed), stdout=StringIO(), stderr=StringIO())
    assert not Invite.objects.filter(email=LONG_EMAIL).exists()


# --- 4. bad input that is a 500 ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_take_of_thousands_of_digits_in_tus_metadata_is_refused_not_a_500(client: Client) -> None:
    """int() refuses strings over 4300 digits with ValueError, which _take does not catch."""
    interview = make_interview(questions=[{"text": "Q1"}])
    invite = invite_create(email="cand@example.com", interview=interview)
    q1 = interview.questions.get()
    assert client.post(reverse("api:start_question_take", args=[invite.token, q1.pk])).status_code == 201
    client.raise_request_exception = False
    response = tus_create(client, invite, 1000, question=str(q1.pk), take="1" * 5000)
    assert response.status_code == 409


# --- 5. reconcile's report counts an unfinished claim as an answer ------------------------------------


@pytest.mark.django_db
def test_reconcile_does_not_report_an_invite_with_an_unfinished_claim_as_fully_answered(
    recorder_webm: Path,
) -> None:
    """The dry run says "every question answered, not marked submitted" (and
    counts it) for an invite whose last answer is only a claim without a video."""
    from invites.services import answer_claim
    from uploads.accept import video_accept_upload

    interview = make_interview(questions=[{"text": "Q1"}, {"text": "Q2"}])
    invite = invite_create(email="cand@example.com", interview=interview)
    q1, q2 = interview.questions.all()
    video_accept_upload(
        invite=invite,
        upload=SimpleUploadedFile("a.webm", recorder_webm.read_bytes(), "video/webm"),
        question=q1,
    )
    assert answer_claim(answer=answer_for(invite=invite, question=q2), video_id=uuid.uuid4())
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "every question answered" not in out.getvalue()
    assert "0 fully answered invite(s) not marked submitted" in out.getvalue()


# --- sanity: the helpers above work (this one passes) ------------------------------------------------


@pytest.mark.django_db
def test_upload_rows_keep_their_question(client: Client) -> None:
    """Sanity (passes): an upload names its question."""
    interview = make_interview(questions=[{"text": "Q1"}, {"text": "Q2"}])
    invite = invite_create(email="cand@example.com", interview=interview)
    q2 = interview.questions.get(text="Q2")
    assert client.post(reverse("api:start_question_take", args=[invite.token, q2.pk])).status_code == 201
    response = tus_create(client, invite, 1000, question=str(q2.pk), take="1")
    assert response.status_code == 201
    assert Upload.objects.get().question == q2
