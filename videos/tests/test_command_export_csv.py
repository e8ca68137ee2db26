from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from invites.models import Invite
from invites.services import invite_create, invite_revoke
from videos.models import Video


def export(*args: str) -> list[dict[str, str]]:
    out = StringIO()
    call_command("export_csv", *args, stdout=out)
    return list(csv.DictReader(StringIO(out.getvalue())))


def test_invites_one_row_each_without_links_by_default(video: Video) -> None:
    invite_revoke(invite=invite_create(email="gone@example.com", name="Gone"))
    rows = export("invites")
    assert [(r["email"], r["status"], r["videos"]) for r in rows] == [
        ("cand@example.com", "submitted", "1"),
        ("gone@example.com", "revoked", "0"),
    ]
    assert rows[0]["id"] == str(video.invite_id)
    assert rows[0]["name"] == "Cand"
    assert rows[1]["revoked_at"].endswith("+00:00")
    assert "link" not in rows[0]
    assert not any("/r/" in value for row in rows for value in row.values())


def test_with_links_adds_each_invite_link(invite: Invite) -> None:
    rows = export("invites", "--with-links")
    assert rows[0]["link"] == invite.link


def test_videos_one_row_each(video: Video) -> None:
    [row] = export("videos")
    assert row["id"] == str(video.pk)
    assert row["email"] == "cand@example.com"
    assert row["tag"] == "pending"
    assert row["size"] == str(video.size)
    assert row["original_name"] == "answer.webm"


def test_text_a_spreadsheet_would_run_is_defused(db: None) -> None:
    invite_create(email="a@example.com", name='=HYPERLINK("http://evil")')
    [row] = export("invites")
    assert row["name"] == '\'=HYPERLINK("http://evil")'


def test_output_writes_a_file(invite: Invite, tmp_path: Path) -> None:
    target = tmp_path / "invites.csv"
    err = StringIO()
    call_command("export_csv", "invites", "--output", str(target), stdout=StringIO(), stderr=err)
    rows = list(csv.DictReader(target.open(newline="")))
    assert [r["email"] for r in rows] == ["cand@example.com"]
    assert f"Wrote 1 invites to {target}." in err.getvalue()


def test_empty_table_gives_the_header_only(db: None) -> None:
    out = StringIO()
    call_command("export_csv", "videos", stdout=out)
    assert out.getvalue().startswith("id,invite_id,email,")
    assert len(out.getvalue().splitlines()) == 1


def test_unwritable_output_is_refused(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("export_csv", "invites", "--output", str(tmp_path / "no" / "such.csv"))


def test_with_links_is_for_invites_only(db: None) -> None:
    with pytest.raises(CommandError, match="--with-links goes with invites"):
        call_command("export_csv", "videos", "--with-links")


def test_unknown_table_is_refused(db: None) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("export_csv", "users")


def test_rows_name_the_interview_and_the_question_as_the_candidate_saw_it(
    db: None, recorder_webm: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.support.factories import make_interview
    from uploads.accept import video_accept_upload

    interview = make_interview(
        title="Data engineer",
        questions=[{"text": "Warm up", "practice": True}, {"text": "Why us?"}, {"text": "A hard bug?"}],
    )
    invite = invite_create(email="two@example.com", interview=interview)
    for _ in range(2):
        upload = SimpleUploadedFile("answer.webm", recorder_webm.read_bytes(), "video/webm")
        video_accept_upload(invite=invite, upload=upload)
    assert [(r["question_number"], r["question"]) for r in export("videos")] == [
        ("1", "Why us?"),
        ("2", "A hard bug?"),
    ]
    [row] = export("invites")
    assert (row["interview"], row["status"], row["videos"], row["takes"]) == (
        "Data engineer",
        "submitted",
        "2",
        "0",
    )
