"""The tus 1.0 protocol as aurio serves it: every request and every error path."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invites.models import Invite
from invites.services import invite_revoke
from uploads.models import Chunk, Upload

pytestmark = pytest.mark.django_db

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def create(client: Client, invite: Invite, length: int, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("uploads:uploads", args=[invite.token]),
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": f"filename {b64('answer.webm')},filetype {b64('video/webm')}",
            **headers,
        },
    )


def patch(client: Client, url: str, data: bytes, offset: int, **headers: str):  # type: ignore[no-untyped-def]
    return client.generic(
        "PATCH", url, data, content_type=headers.pop("content_type", OCTETS),
        headers={**TUS, "Upload-Offset": str(offset), **headers},
    )  # fmt: skip


def chunk_files(upload: Upload) -> list[str]:
    _, files = (
        default_storage.listdir(f"uploads/{upload.id}")
        if default_storage.exists(f"uploads/{upload.id}")
        else ([], [])
    )
    return sorted(files)


@pytest.fixture
def content(recorder_webm: Path) -> bytes:
    return recorder_webm.read_bytes()


@pytest.fixture
def started(client: Client, invite: Invite, content: bytes) -> str:
    response = create(client, invite, len(content))
    assert response.status_code == 201
    return response["Location"]


def upload_of(url: str) -> Upload:
    return Upload.objects.get(pk=url.rsplit("/", 1)[1])


# --- OPTIONS ------------------------------------------------------------------------------------


def test_options_announces_version_extensions_and_limits(client: Client, invite: Invite) -> None:
    response = client.options(reverse("uploads:uploads", args=[invite.token]))
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {"creation", "termination", "expiration", "checksum"}
    assert int(response["Tus-Max-Size"]) > 0
    assert "sha1" in response["Tus-Checksum-Algorithm"].split(",")


# --- creation -----------------------------------------------------------------------------------


def test_creation_returns_the_upload_location_and_expiry(client: Client, invite: Invite) -> None:
    response = create(client, invite, 1000)
    assert response.status_code == 201
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Location"].startswith(reverse("uploads:uploads", args=[invite.token]))
    assert "Upload-Expires" in response
    upload = upload_of(response["Location"])
    assert (upload.length, upload.offset, upload.filename, upload.filetype) == (
        1000,
        0,
        "answer.webm",
        "video/webm",
    )


def test_creation_without_tus_resumable_is_412(client: Client, invite: Invite) -> None:
    response = client.post(reverse("uploads:uploads", args=[invite.token]), headers={"Upload-Length": "10"})
    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"
    assert not Upload.objects.exists()


@pytest.mark.parametrize("length", ["", "-1", "abc", "0", "1.5", "²", "1" * 4301])
def test_creation_with_a_bad_length_is_400(client: Client, invite: Invite, length: str) -> None:
    response = create(client, invite, 0, **{"Upload-Length": length})
    assert response.status_code == 400
    assert "Upload-Length" in response.json()["detail"]
    assert not Upload.objects.exists()


def test_deferred_length_is_refused(client: Client, invite: Invite) -> None:
    response = client.post(
        reverse("uploads:uploads", args=[invite.token]), headers={**TUS, "Upload-Defer-Length": "1"}
    )
    assert response.status_code == 400


def test_creation_over_the_size_limit_is_413(client: Client, invite: Invite, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_MAX_UPLOAD_BYTES = 1000
    response = create(client, invite, 1001)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_creation_with_bad_metadata_is_400(client: Client, invite: Invite) -> None:
    assert create(client, invite, 10, **{"Upload-Metadata": "filename !!notbase64"}).status_code == 400


def test_creation_for_unknown_link_is_404(client: Client, db: None) -> None:
    response = client.post(
        reverse("uploads:uploads", args=["x" * 32]), headers={**TUS, "Upload-Length": "10"}
    )
    assert response.status_code == 404


def test_creation_for_revoked_or_expired_link_is_410(client: Client, invite: Invite) -> None:
    invite_revoke(invite=invite)
    assert create(client, invite, 10).status_code == 410
    invite.revoked_at = None
    invite.expires_at = timezone.now() - timedelta(minutes=1)
    invite.save()
    assert create(client, invite, 10).status_code == 410
    assert not Upload.objects.exists()


def test_creation_after_submission_is_409(client: Client, invite: Invite) -> None:
    Invite.objects.filter(pk=invite.pk).update(submitted_at=timezone.now())
    assert create(client, invite, 10).status_code == 409


def test_get_on_the_collection_is_405(client: Client, invite: Invite) -> None:
    assert client.get(reverse("uploads:uploads", args=[invite.token])).status_code == 405


# --- HEAD ---------------------------------------------------------------------------------------


def test_head_reports_offset_and_length_uncached(client: Client, started: str, content: bytes) -> None:
    patch(client, started, content[:100], 0)
    response = client.head(started, headers=TUS)
    assert response.status_code == 200
    assert response["Upload-Offset"] == "100"
    assert response["Upload-Length"] == str(len(content))
    assert response["Cache-Control"] == "no-store"


def test_head_of_unknown_upload_is_404(client: Client, invite: Invite) -> None:
    base = reverse("uploads:uploads", args=[invite.token])
    assert client.head(base + "00000000-0000-0000-0000-000000000000", headers=TUS).status_code == 404
    assert client.head(base + "not-a-uuid", headers=TUS).status_code == 404


def test_upload_of_another_invite_is_404(client: Client, started: str, recruiter) -> None:  # type: ignore[no-untyped-def]
    from invites.services import invite_create

    other = invite_create(email="other@example.com")
    stolen = started.replace(started.split("/")[-2], other.token)
    assert client.head(stolen, headers=TUS).status_code == 404


def test_head_without_tus_resumable_is_412(client: Client, started: str) -> None:
    assert client.head(started).status_code == 412


# --- PATCH --------------------------------------------------------------------------------------


def test_patches_in_order_complete_the_upload(client: Client, started: str, content: bytes) -> None:
    half = len(content) // 2
    first = patch(client, started, content[:half], 0)
    assert first.status_code == 204
    assert first["Upload-Offset"] == str(half)
    second = patch(client, started, content[half:], half)
    assert second.status_code == 204
    assert second["Upload-Offset"] == str(len(content))
    upload = upload_of(started)
    assert upload.is_complete
    assert [c.size for c in upload.chunks.all()] == [half, len(content) - half]
    assert len(chunk_files(upload)) == 2


def test_patch_at_the_wrong_offset_is_409_and_changes_nothing(
    client: Client, started: str, content: bytes
) -> None:
    patch(client, started, content[:100], 0)
    response = patch(client, started, content[200:300], 200)
    assert response.status_code == 409
    assert "100" in response.json()["detail"]
    upload = upload_of(started)
    assert upload.offset == 100
    assert len(chunk_files(upload)) == 1


def test_retry_of_a_chunk_already_stored_is_accepted_once(
    client: Client, started: str, content: bytes
) -> None:
    patch(client, started, content[:100], 0)
    patch(client, started, content[100:200], 100)
    retry = patch(client, started, content[:100], 0)  # the first response was lost
    assert retry.status_code == 204
    assert retry["Upload-Offset"] == "200"
    upload = upload_of(started)
    assert upload.chunks.count() == 2
    assert len(chunk_files(upload)) == 2


def test_different_bytes_at_an_old_offset_are_409(client: Client, started: str, content: bytes) -> None:
    patch(client, started, content[:100], 0)
    assert patch(client, started, b"x" * 100, 0).status_code == 409


def test_empty_chunk_is_accepted(client: Client, started: str, content: bytes) -> None:
    patch(client, started, content, 0)
    response = patch(client, started, b"", len(content))
    assert response.status_code == 204
    assert response["Upload-Offset"] == str(len(content))
    assert upload_of(started).chunks.count() == 1


def test_more_bytes_than_the_upload_has_left_is_413(client: Client, started: str, content: bytes) -> None:
    response = patch(client, started, content + b"extra", 0)
    assert response.status_code == 413
    upload = upload_of(started)
    assert upload.offset == 0
    assert chunk_files(upload) == []


def test_patch_with_the_wrong_content_type_is_415(client: Client, started: str) -> None:
    assert patch(client, started, b"abc", 0, content_type="application/octet-stream").status_code == 415


@pytest.mark.parametrize("offset", ["", "-5", "ten", "¹", "1" * 4301])
def test_patch_with_a_bad_offset_header_is_400(client: Client, started: str, offset: str) -> None:
    response = client.generic(
        "PATCH", started, b"abc", content_type=OCTETS, headers={**TUS, "Upload-Offset": offset}
    )
    assert response.status_code == 400


def test_patch_through_method_override(client: Client, started: str, content: bytes) -> None:
    response = client.post(
        started, content[:50], content_type=OCTETS,
        headers={**TUS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"},
    )  # fmt: skip
    assert response.status_code == 204
    assert response["Upload-Offset"] == "50"


def test_matching_checksum_is_accepted(client: Client, started: str, content: bytes) -> None:
    digest = base64.b64encode(hashlib.sha1(content[:100]).digest()).decode()
    response = patch(client, started, content[:100], 0, **{"Upload-Checksum": f"sha1 {digest}"})
    assert response.status_code == 204


def test_mismatched_checksum_is_460_and_nothing_is_kept(client: Client, started: str, content: bytes) -> None:
    digest = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    response = patch(client, started, content[:100], 0, **{"Upload-Checksum": f"sha256 {digest}"})
    assert response.status_code == 460
    upload = upload_of(started)
    assert upload.offset == 0
    assert chunk_files(upload) == []


@pytest.mark.parametrize("header", ["crc32 AAAA", "sha1 !!!", "sha1"])
def test_unusable_checksum_header_is_400(client: Client, started: str, header: str) -> None:
    assert patch(client, started, b"abc", 0, **{"Upload-Checksum": header}).status_code == 400


def test_patch_on_a_revoked_invite_is_410(client: Client, started: str, invite: Invite) -> None:
    invite_revoke(invite=invite)
    assert patch(client, started, b"abc", 0).status_code == 410


@pytest.mark.parametrize(
    ("end", "detail"), [("revoke", "This link has been withdrawn."), ("expire", "This link has expired.")]
)
def test_head_on_an_upload_whose_link_ended_mid_upload_is_410(
    client: Client, started: str, invite: Invite, end: str, detail: str
) -> None:
    """A client resuming after a refused PATCH asks HEAD where to carry on: it
    must hear that the link has ended too, or it resumes for ever."""
    if end == "revoke":
        invite_revoke(invite=invite)
    else:
        Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.head(started, headers=TUS)
    assert response.status_code == 410
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Cache-Control"] == "no-store"
    assert patch(client, started, b"abc", 0).json() == {"detail": detail}
    assert client.delete(started, headers=TUS).status_code == 204  # letting go still works


def test_leftover_chunk_of_a_request_that_died_is_replaced(
    client: Client, started: str, content: bytes
) -> None:
    """A request stored its chunk but died before moving the offset, a minute
    ago: the retry wins."""
    upload = upload_of(started)
    name = default_storage.save(upload.chunk_name(0), io.BytesIO(b"half-writ"))
    created = timezone.now() - timedelta(minutes=2)
    Chunk.objects.create(upload=upload, offset=0, size=9, sha256="0" * 64, name=name, created_at=created)
    response = patch(client, started, content[:100], 0)
    assert response.status_code == 204
    assert [(c.offset, c.size) for c in upload.chunks.all()] == [(0, 100)]
    assert not default_storage.exists(name)


def test_a_chunk_being_committed_by_another_request_is_left_alone(
    client: Client, started: str, content: bytes
) -> None:
    """Another request stored its chunk at this offset a moment ago and is about
    to move the offset: this one answers 409 and removes only its own chunk."""
    upload = upload_of(started)
    name = default_storage.save(upload.chunk_name(0), io.BytesIO(content[:100]))
    theirs = Chunk.objects.create(
        upload=upload, offset=0, size=100, sha256=hashlib.sha256(content[:100]).hexdigest(), name=name
    )
    response = patch(client, started, content[:200], 0)
    assert response.status_code == 409
    assert list(upload.chunks.all()) == [theirs]
    assert chunk_files(upload) == [name.rsplit("/", 1)[1]]


# --- expiration ---------------------------------------------------------------------------------


def test_expired_upload_is_410(client: Client, started: str) -> None:
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.head(started, headers=TUS).status_code == 410
    assert patch(client, started, b"abc", 0).status_code == 410


# --- termination --------------------------------------------------------------------------------


def test_delete_terminates_the_upload_and_its_chunks(client: Client, started: str, content: bytes) -> None:
    patch(client, started, content[:100], 0)
    upload = upload_of(started)
    response = client.delete(started, headers=TUS)
    assert response.status_code == 204
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert chunk_files(upload) == []
    assert client.head(started, headers=TUS).status_code == 404


def test_unsupported_method_on_an_upload_is_405(client: Client, started: str) -> None:
    assert client.put(started, headers=TUS).status_code == 405


def test_a_chunked_patch_is_411_not_taken_as_empty(client: Client, started: str) -> None:
    """Django reads a body only up to Content-Length: a chunked PATCH looked
    empty, got 204 and moved nothing, so its client looped for ever."""
    response = client.generic(
        "PATCH", started, b"", content_type=OCTETS,
        headers={**TUS, "Upload-Offset": "0", "Transfer-Encoding": "chunked"},
    )  # fmt: skip
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
