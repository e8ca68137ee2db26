"""Finishing a resumable upload: the bytes become the invite's one video."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aurio.storage import PrivateFileSystemStorage
from invites.models import Invite, InviteStatus
from invites.services import invite_create
from uploads.models import Chunk, Upload
from uploads.tests.test_tus import OCTETS, TUS, create, patch, upload_of
from videos.models import Video

pytestmark = pytest.mark.django_db


def send(client: Client, invite: Invite, content: bytes, pieces: int = 3) -> str:
    url = create(client, invite, len(content))["Location"]
    step = len(content) // pieces + 1
    for offset in range(0, len(content), step):
        assert patch(client, url, content[offset : offset + step], offset).status_code == 204
    return url


def finish(client: Client, invite: Invite, url: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("api:finish_upload", args=[invite.token, url.rsplit("/", 1)[1]]))


def test_finished_upload_becomes_the_video(client: Client, invite: Invite, recorder_webm: Path) -> None:
    content = recorder_webm.read_bytes()
    url = send(client, invite, content)
    response = finish(client, invite, url)
    assert response.status_code == 201
    video = Video.objects.get(pk=response.json()["videoId"])
    assert video.invite == invite
    assert video.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert default_storage.exists(video.file.name)
    upload = upload_of(url)
    assert upload.video == video
    assert upload.sha256 == hashlib.sha256(content).hexdigest()
    assert not Chunk.objects.exists()
    assert (
        not default_storage.exists(f"uploads/{upload.id}")
        or default_storage.listdir(f"uploads/{upload.id}")[1] == []
    )
    invite.refresh_from_db()
    assert invite.status == InviteStatus.SUBMITTED


def test_finishing_twice_gives_the_same_video(client: Client, invite: Invite, recorder_webm: Path) -> None:
    url = send(client, invite, recorder_webm.read_bytes())
    first = finish(client, invite, url)
    again = finish(client, invite, url)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Video.objects.count() == 1


def test_the_invites_other_uploads_are_dropped_once_the_answer_is_in(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    content = recorder_webm.read_bytes()
    first = send(client, invite, content)
    second = create(client, invite, len(content))["Location"]  # started before the first finished
    patch(client, second, content[: len(content) // 2], 0)
    finish(client, invite, first)
    assert patch(client, second, content, 0).status_code == 404
    assert Video.objects.count() == 1
    assert Upload.objects.filter(invite=invite, video__isnull=True).count() == 0
    assert not default_storage.exists(f"uploads/{second.rsplit('/', 1)[1]}")


def test_incomplete_upload_cannot_be_finished(client: Client, invite: Invite, recorder_webm: Path) -> None:
    content = recorder_webm.read_bytes()
    url = create(client, invite, len(content))["Location"]
    patch(client, url, content[:1000], 0)
    response = finish(client, invite, url)
    assert response.status_code == 409
    assert "1000 of" in response.json()["detail"]
    assert not Video.objects.exists()


def test_finishing_an_incomplete_upload_past_its_expiry_is_410(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    content = recorder_webm.read_bytes()
    url = create(client, invite, len(content))["Location"]
    patch(client, url, content[:1000], 0)
    Upload.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = finish(client, invite, url)
    assert response.status_code == 410
    assert "expired" in response.json()["detail"]


def test_a_complete_upload_past_its_expiry_is_still_finished(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    """Every byte is here (the sweep has not removed it yet): the take is kept."""
    url = send(client, invite, recorder_webm.read_bytes())
    Upload.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert finish(client, invite, url).status_code == 201


def test_finishing_after_the_link_was_withdrawn_mid_upload_is_410(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    content = recorder_webm.read_bytes()
    url = create(client, invite, len(content))["Location"]
    patch(client, url, content[:1000], 0)
    Invite.objects.filter(pk=invite.pk).update(revoked_at=timezone.now())
    response = finish(client, invite, url)
    assert response.status_code == 410
    assert response.json() == {"detail": "This link has been withdrawn."}


def test_finished_file_that_is_not_a_video_is_415_and_discarded(client: Client, invite: Invite) -> None:
    url = send(client, invite, b"<html>" + b"x" * 5000)
    response = finish(client, invite, url)
    assert response.status_code == 415
    upload = upload_of(url)
    assert "not a video" in upload.failure
    assert not upload.chunks.exists()
    assert not Video.objects.exists()
    invite.refresh_from_db()
    assert invite.submitted_at is None  # the candidate can record again


def test_damaged_stored_part_is_detected(client: Client, invite: Invite, recorder_webm: Path) -> None:
    url = send(client, invite, recorder_webm.read_bytes())
    chunk = upload_of(url).chunks.first()
    assert chunk is not None
    with default_storage.open(chunk.name, "wb") as f:
        f.write(b"corrupted")
    response = finish(client, invite, url)
    assert response.status_code == 409
    assert not Video.objects.exists()


def test_storage_down_at_finish_keeps_the_parts_for_a_retry(
    client: Client, invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = send(client, invite, recorder_webm.read_bytes())
    original = PrivateFileSystemStorage._save

    def down(self: PrivateFileSystemStorage, name: str, content: object) -> str:
        if name.startswith("videos/"):
            raise OSError("storage unavailable")
        return original(self, name, content)  # type: ignore[arg-type]

    monkeypatch.setattr(PrivateFileSystemStorage, "_save", down)
    assert finish(client, invite, url).status_code == 503
    assert upload_of(url).chunks.count() == 3
    monkeypatch.setattr(PrivateFileSystemStorage, "_save", original)
    assert finish(client, invite, url).status_code == 201


@pytest.mark.parametrize("upload_id", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_finish_of_unknown_upload_is_404(client: Client, invite: Invite, upload_id: str) -> None:
    assert client.post(reverse("api:finish_upload", args=[invite.token, upload_id])).status_code == 404


def test_finish_with_another_invites_token_is_404(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    url = send(client, invite, recorder_webm.read_bytes())
    other = invite_create(email="other@example.com")
    assert finish(client, other, url).status_code == 404


def test_expire_command_removes_unfinished_uploads_only(
    client: Client, invite: Invite, recorder_webm: Path
) -> None:
    content = recorder_webm.read_bytes()
    stale = create(client, invite, len(content))["Location"]
    patch(client, stale, content[:500], 0)
    fresh = create(client, invite_create(email="other@example.com"), len(content))["Location"]
    Upload.objects.filter(pk=upload_of(stale).pk).update(expires_at=timezone.now() - timedelta(hours=1))
    stale_upload = upload_of(stale)

    out = StringIO()
    call_command("expire_uploads", "--dry-run", stdout=out)
    assert "Would delete 1 expired upload(s)" in out.getvalue()
    assert Upload.objects.count() == 2

    call_command("expire_uploads", stdout=StringIO())
    assert list(Upload.objects.values_list("pk", flat=True)) == [upload_of(fresh).pk]
    assert not Chunk.objects.filter(upload_id=stale_upload.pk).exists()
    assert (
        not default_storage.exists(f"uploads/{stale_upload.id}")
        or not default_storage.listdir(f"uploads/{stale_upload.id}")[1]
    )


def test_submitted_uploads_never_expire(client: Client, invite: Invite, recorder_webm: Path) -> None:
    url = send(client, invite, recorder_webm.read_bytes())
    finish(client, invite, url)
    Upload.objects.update(expires_at=timezone.now() - timedelta(days=9))
    call_command("expire_uploads", stdout=StringIO())
    assert Upload.objects.count() == 1
    assert client.head(url, headers=TUS).status_code == 200


def test_patch_body_is_read_in_pieces_not_whole(
    client: Client, invite: Invite, recorder_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body is spooled 1 MiB at a time, so memory does not grow with the request."""
    from uploads import services

    sizes: list[int] = []
    real = services._spool

    def spy(stream, limit, workdir, checksum):  # type: ignore[no-untyped-def]
        read = stream.read

        def tracked(n: int = -1) -> bytes:
            sizes.append(n)
            return read(n)

        stream.read = tracked
        return real(stream, limit, workdir, checksum)

    monkeypatch.setattr(services, "_spool", spy)
    content = recorder_webm.read_bytes() * 12  # > 2 MiB
    url = create(client, invite, len(content))["Location"]
    client.generic("PATCH", url, content, content_type=OCTETS, headers={**TUS, "Upload-Offset": "0"})
    assert sizes and max(sizes) <= services.READ_SIZE + 1
    assert -1 not in sizes
