from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.db import DatabaseError
from django_tasks_db.models import DBTaskResult

from aurio.errors import Refused
from aurio.storage import PrivateFileSystemStorage, sha256_of
from invites.models import Invite, InviteStatus
from uploads import accept
from videos.models import Status, Video

pytestmark = pytest.mark.django_db


def stored_files() -> list[str]:
    root = Path(default_storage.location) / "videos"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def as_upload(path: Path, name: str = "answer.webm") -> TemporaryUploadedFile:
    upload = TemporaryUploadedFile(name, "video/webm", path.stat().st_size, None)
    upload.write(path.read_bytes())
    upload.seek(0)
    return upload


def test_accepted_upload_stores_the_file_then_the_row(invite: Invite, recorder_webm: Path) -> None:
    before = stored_files()
    video = accept.video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    video.refresh_from_db()
    assert video.status == Status.UPLOADED  # processing is queued
    assert video.content_type == "video/webm"
    assert video.duration_seconds == pytest.approx(3.0, abs=0.1)
    path = Path(default_storage.path(video.file.name))
    assert path.stat().st_size == video.size
    assert sha256_of(path) == video.sha256
    assert len(stored_files()) == len(before) + 1
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED


def test_in_memory_uploads_are_accepted_too(invite: Invite, plain_mp4: Path) -> None:
    upload = SimpleUploadedFile("clip.mp4", plain_mp4.read_bytes(), "video/mp4")
    video = accept.video_accept_upload(invite=invite, upload=upload)
    assert video.content_type == "video/mp4"
    assert default_storage.exists(video.file.name)


def test_stored_files_are_private_to_the_server(invite: Invite, recorder_webm: Path) -> None:
    video = accept.video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    assert Path(default_storage.path(video.file.name)).stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError):
        default_storage.url(video.file.name)  # no public URL exists


def test_storage_failing_mid_write_leaves_no_row_and_no_file(
    invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self: PrivateFileSystemStorage, name: str, content: object) -> str:
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path(name)).write_bytes(b"partial")
        Path(self.path(name)).unlink()  # what a failed atomic write leaves: nothing
        raise OSError("disk full")

    monkeypatch.setattr(PrivateFileSystemStorage, "_save", broken_save)
    before = stored_files()
    with pytest.raises(Refused, match="couldn't store"):
        accept.video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    assert Video.objects.count() == 0
    assert stored_files() == before
    invite.refresh_from_db()
    assert invite.status == InviteStatus.OPEN  # the candidate can simply try again


def test_database_failing_after_the_write_removes_the_file(
    invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self: Video, *args: object, **kwargs: object) -> None:
        raise DatabaseError("connection lost")

    monkeypatch.setattr(Video, "save", broken_save)
    before = stored_files()
    with pytest.raises(DatabaseError):
        accept.video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    assert stored_files() == before
    invite.refresh_from_db()
    assert invite.submitted_at is None


def test_an_audit_write_failing_after_the_answer_is_in_loses_nothing(
    invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_record(**kwargs: object) -> None:
        raise DatabaseError("connection lost")

    monkeypatch.setattr("uploads.accept.audit.record", broken_record)
    video = accept.video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    assert Video.objects.get() == video  # kept, and queued for processing
    assert DBTaskResult.objects.get().args_kwargs["args"] == [str(video.pk)]
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED


def test_losing_the_race_to_submit_keeps_one_video(invite: Invite, recorder_webm: Path) -> None:
    stale = Invite.objects.get(pk=invite.pk)  # read before the other request finished
    first = accept.video_accept_upload(invite=invite, upload=as_upload(recorder_webm))
    before = stored_files()
    with pytest.raises(Refused, match="already been submitted"):
        accept.video_accept_upload(invite=stale, upload=as_upload(recorder_webm))
    assert list(Video.objects.values_list("pk", flat=True)) == [first.pk]
    assert stored_files() == before


def test_refused_upload_writes_nothing(invite: Invite, tmp_path: Path) -> None:
    fake = tmp_path / "fake.webm"
    fake.write_bytes(b"<html>not a video</html>" * 100)
    before = stored_files()
    with pytest.raises(Refused, match="not a video"):
        accept.video_accept_upload(invite=invite, upload=as_upload(fake))
    assert stored_files() == before
    assert Video.objects.count() == 0
    invite.refresh_from_db()
    assert invite.submitted_at is None
