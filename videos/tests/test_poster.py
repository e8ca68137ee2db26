"""The poster and the MP4 rendition over HTTP: the same authorisation as the
stream, Range on the rendition, and what the API and admin lists say."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django import Settings

from invites.models import Invite
from invites.services import invite_create
from tests.support.factories import store_video
from videos.models import Video

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def processed_video(invite: Invite, path: Path, settings: Settings) -> Video:
    settings.TASKS = IMMEDIATE
    video = store_video(invite, path.read_bytes())
    call_command("process_videos", str(video.pk), "--now", stdout=StringIO())
    video.refresh_from_db()
    return video


@pytest.fixture
def processed(invite: Invite, recorder_webm: Path, settings: Settings) -> Video:
    return processed_video(invite, recorder_webm, settings)


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


def poster_url(video: Video) -> str:
    return reverse("api:video_poster", args=[video.pk])


def playback_url(video: Video) -> str:
    return reverse("api:playback_video", args=[video.pk])


# --- the endpoints -----------------------------------------------------------------


def test_poster_is_served_to_a_bearer_token(api: Client, processed: Video) -> None:
    response = api.get(poster_url(processed))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == stored(processed.poster.name)
    assert response["Cache-Control"] == "private, max-age=3600"


def test_poster_is_served_to_a_staff_session(staff_client: Client, processed: Video) -> None:
    assert staff_client.get(poster_url(processed)).status_code == 200


@pytest.mark.parametrize("url_of", [poster_url, playback_url])
def test_media_need_authorisation(
    client: Client, processed: Video, outsider: User, teammate: User, url_of: Callable[[Video], str]
) -> None:
    url = url_of(processed)
    assert client.get(url).status_code == 401
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    client.force_login(teammate)  # staff, but without videos.view_video
    assert client.get(url).status_code == 403


def test_poster_and_rendition_are_404_before_processing(
    api: Client, invite: Invite, recorder_webm: Path
) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    assert api.get(poster_url(video)).json() == {"detail": "This video has no poster yet."}
    response = api.get(playback_url(video))
    assert response.status_code == 404
    assert "play streamUrl meanwhile" in response.json()["detail"]


def test_unknown_video_is_404(api: Client, db: None) -> None:
    assert api.get("/api/v1/videos/00000000-0000-0000-0000-000000000000/poster").status_code == 404
    assert api.get("/api/v1/videos/nope/playback").status_code == 404


def test_rendition_is_served_with_range(api: Client, processed: Video) -> None:
    data = stored(processed.playback.name)
    whole = api.get(playback_url(processed))
    assert whole.status_code == 200
    assert whole["Content-Type"] == "video/mp4"
    assert whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == data
    part = api.get(playback_url(processed), headers={"Range": "bytes=100-299"})
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-299/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:300]
    tail = api.get(playback_url(processed), headers={"Range": "bytes=-50"})
    assert b"".join(tail.streaming_content) == data[-50:]
    assert api.get(playback_url(processed), headers={"Range": f"bytes={len(data)}-"}).status_code == 416


def test_rendition_head_and_conditional_requests(api: Client, processed: Video) -> None:
    head = api.head(playback_url(processed))
    assert head.status_code == 200
    assert head["Content-Length"] == str(processed.playback_size)
    etag = head["ETag"]
    assert etag != api.head(processed.stream_url)["ETag"], "rendition and original are different bytes"
    assert api.get(playback_url(processed), headers={"If-None-Match": etag}).status_code == 304
    stale = api.get(playback_url(processed), headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200


def test_a_missing_rendition_file_is_404(api: Client, processed: Video) -> None:
    default_storage.delete(processed.playback.name)
    assert api.get(playback_url(processed)).status_code == 404


def test_reprocessing_changes_the_etag(api: Client, processed: Video, settings: Settings) -> None:
    before = api.head(playback_url(processed))["ETag"]
    call_command("process_videos", str(processed.pk), "--now", stdout=StringIO())
    assert api.head(playback_url(processed))["ETag"] != before


# --- the API's fields ----------------------------------------------------------------


def test_api_reports_poster_rendition_and_suggestion(api: Client, processed: Video) -> None:
    body = api.get(f"/api/v1/videos/{processed.pk}").json()
    assert body["status"] == "ready"
    assert body["posterUrl"] == poster_url(processed)
    assert body["playbackUrl"] == playback_url(processed)
    assert body["streamUrl"] == processed.stream_url
    assert body["suggestedTag"] == "pass"
    assert body["suggestionReasons"] == ["no speech detected"]
    assert body["processedAt"]
    assert body["renditions"] == [
        {
            "kind": "original",
            "url": processed.stream_url,
            "contentType": "video/webm",
            "width": 320,
            "height": 240,
            "size": processed.size,
        },
        {
            "kind": "playback",
            "url": playback_url(processed),
            "contentType": "video/mp4",
            "width": 320,
            "height": 240,
            "size": processed.playback_size,
        },
    ]


def test_api_before_processing_plays_the_original(api: Client, invite: Invite, recorder_webm: Path) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    body = api.get(f"/api/v1/videos/{video.pk}").json()
    assert body["status"] == "uploaded"
    assert body["posterUrl"] is None
    assert body["playbackUrl"] == video.stream_url
    assert [r["kind"] for r in body["renditions"]] == ["original"]
    assert (body["suggestedTag"], body["suggestionReasons"]) == (None, [])


# --- admin lists ---------------------------------------------------------------------


def test_invite_list_shows_the_latest_videos_poster(staff_client: Client, processed: Video) -> None:
    body = staff_client.get(reverse("admin:invites_invite_changelist")).content.decode()
    assert f'<img src="{poster_url(processed)}"' in body


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("changelist", ["admin:videos_video_changelist", "admin:invites_invite_changelist"])
def test_lists_with_posters_make_a_constant_number_of_queries(
    staff_client: Client, recorder_webm: Path, settings: Settings, changelist: str
) -> None:
    url = reverse(changelist)
    processed_video(invite_create(email="a@example.com"), recorder_webm, settings)
    one = count_queries(staff_client, url)
    for i in range(3):
        processed_video(invite_create(email=f"b{i}@example.com"), recorder_webm, settings)
    assert count_queries(staff_client, url) == one
