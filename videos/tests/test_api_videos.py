"""The recruiter's video endpoints (`/api/v1/videos`, `/videos/{id}`, `/videos/{id}/tag`)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from invites.models import Invite
from invites.services import invite_create
from uploads.tests.test_upload_multipart import sha256, upload
from videos.models import Status, Tag, Video, video_path

# --- helpers and fixtures -----------------------------------------------------


@pytest.fixture(autouse=True)
def _own_media(media_root: Path) -> None:
    """Every test here gets an empty storage location (conftest's media_root)."""


def store_video(
    invite: Invite, content: bytes = b"\x1a\x45\xdf\xa3 not really a video", **fields: object
) -> Video:
    """A Video row with its file in storage, without going through the upload."""
    video = Video(
        id=uuid.uuid4(),
        invite=invite,
        original_name="answer.webm",
        content_type="video/webm",
        size=len(content),
        sha256=sha256(content),
        status=Status.READY,
        **fields,
    )
    video.file.name = default_storage.save(video_path(video, "original.webm"), ContentFile(content))
    video.save(force_insert=True)
    return video


# --- recruiter endpoints ---------------------------------------------------------


def test_video_list_shows_every_video_newest_first(api: Client, invite: Invite, recruiter: User) -> None:
    other = invite_create(email="other@example.com", created_by=recruiter)
    older = store_video(invite, created_at=timezone.now() - timedelta(hours=1))
    newer = store_video(other)
    response = api.get("/api/v1/videos")
    assert response.status_code == 200
    assert [v["id"] for v in response.json()] == [str(newer.id), str(older.id)]


def test_video_list_filters_by_invite(api: Client, invite: Invite, recruiter: User) -> None:
    other = invite_create(email="other@example.com", created_by=recruiter)
    mine = store_video(invite)
    store_video(other)
    response = api.get("/api/v1/videos", {"inviteId": str(invite.id)})
    assert response.status_code == 200
    assert [v["id"] for v in response.json()] == [str(mine.id)]


def test_video_list_for_an_unknown_invite_is_empty(api: Client, invite: Invite) -> None:
    store_video(invite)
    response = api.get("/api/v1/videos", {"inviteId": str(uuid.uuid4())})
    assert response.status_code == 200
    assert response.json() == []


def test_video_list_with_a_malformed_invite_id_is_404(api: Client, invite: Invite) -> None:
    store_video(invite)
    response = api.get("/api/v1/videos", {"inviteId": "not-a-uuid"})
    assert response.status_code == 404
    assert response.json() == {"detail": "No such invite."}


# --- GET /videos/{id} -----------------------------------------------------------


def test_video_detail_has_the_contract_fields(api: Client, invite: Invite) -> None:
    video = store_video(invite, duration_seconds=3.0, width=320, height=240)
    response = api.get(f"/api/v1/videos/{video.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(video.id)
    assert body["inviteId"] == str(invite.id)
    assert body["email"] == "cand@example.com"
    assert body["originalName"] == "answer.webm"
    assert body["tag"] == "pending"
    assert body["status"] == "ready"
    assert body["durationSeconds"] == 3.0
    assert body["contentType"] == "video/webm"
    assert body["size"] == video.size
    assert body["streamUrl"] == f"/api/v1/videos/{video.id}/stream"
    assert "posterUrl" in body
    assert "createdAt" in body


def test_video_detail_of_an_uploaded_video_reports_its_duration(
    api: Client, client: Client, invite: Invite, recorder_webm: Path
) -> None:
    video_id = upload(client, invite, recorder_webm.read_bytes()).json()["videoId"]
    body = api.get(f"/api/v1/videos/{video_id}").json()
    assert body["durationSeconds"] == pytest.approx(3.0, abs=0.25)
    assert body["size"] == Video.objects.get().size


def test_unknown_video_is_404(api: Client, db: None) -> None:
    response = api.get(f"/api/v1/videos/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such video."}


@pytest.mark.parametrize("video_id", ["not-a-uuid", "123", "%00", "' OR 1=1 --", "x" * 500])
def test_malformed_video_id_is_404_never_500(api: Client, db: None, video_id: str) -> None:
    response = api.get(f"/api/v1/videos/{video_id}")
    assert response.status_code == 404


# --- POST /videos/{id}/tag ------------------------------------------------------


def test_tagging_a_video_saves_the_tag(api: Client, invite: Invite) -> None:
    video = store_video(invite)
    response = api.post(f"/api/v1/videos/{video.id}/tag", {"tag": "advance"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["tag"] == "advance"
    video.refresh_from_db()
    assert video.tag == Tag.ADVANCE


@pytest.mark.parametrize("tag", ["promote", "", "PASS", None, 3])
def test_tagging_with_a_bad_value_is_refused(api: Client, invite: Invite, tag: object) -> None:
    video = store_video(invite)
    response = api.post(f"/api/v1/videos/{video.id}/tag", {"tag": tag}, content_type="application/json")
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)
    video.refresh_from_db()
    assert video.tag == Tag.PENDING


def test_tagging_with_a_missing_tag_is_refused(api: Client, invite: Invite) -> None:
    video = store_video(invite)
    response = api.post(f"/api/v1/videos/{video.id}/tag", {}, content_type="application/json")
    assert response.status_code == 422
    assert "tag" in response.json()["detail"]


def test_tagging_with_a_non_json_body_is_a_4xx(api: Client, invite: Invite) -> None:
    video = store_video(invite)
    response = api.post(f"/api/v1/videos/{video.id}/tag", "tag=advance{", content_type="application/json")
    assert 400 <= response.status_code < 500
    video.refresh_from_db()
    assert video.tag == Tag.PENDING


def test_tagging_an_unknown_video_is_404(api: Client, db: None) -> None:
    response = api.post(
        f"/api/v1/videos/{uuid.uuid4()}/tag", {"tag": "pass"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No such video."}


def test_tagging_a_malformed_video_id_is_404(api: Client, db: None) -> None:
    response = api.post("/api/v1/videos/nope/tag", {"tag": "pass"}, content_type="application/json")
    assert response.status_code == 404
