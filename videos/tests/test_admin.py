from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from videos.models import Video

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:videos_video_changelist")


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_video_list_makes_a_constant_number_of_queries(
    staff_client: Client, make_videos: Callable[[int], list[Video]]
) -> None:
    make_videos(1)
    one = count_queries(staff_client, CHANGELIST)
    make_videos(5)
    assert count_queries(staff_client, CHANGELIST) == one


def test_video_list_shows_watch_links_and_editable_tags(staff_client: Client, video: Video) -> None:
    body = staff_client.get(CHANGELIST).content.decode()
    assert video.get_absolute_url() in body
    assert 'name="form-0-tag"' in body
    assert "0:03" in body


def test_tag_inline_from_the_list(staff_client: Client, video: Video) -> None:
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(video.id),
        "form-0-tag": "review",
        "_save": "Save",
    }
    response = staff_client.post(CHANGELIST, data)
    assert response.status_code == 302
    video.refresh_from_db()
    assert video.tag == "review"


def test_bulk_tag_action(staff_client: Client, make_videos: Callable[[int], list[Video]]) -> None:
    videos = make_videos(3)
    data = {"action": "tag_pass", "_selected_action": [str(v.id) for v in videos[:2]]}
    assert staff_client.post(CHANGELIST, data).status_code == 302
    assert sorted(Video.objects.values_list("tag", flat=True)) == ["pass", "pass", "pending"]


@pytest.mark.parametrize(
    ("query", "expected"), [("tag=advance", 1), ("tag=pending", 1), ("q=c1%40example.com", 1)]
)
def test_filters_and_search(
    staff_client: Client, make_videos: Callable[[int], list[Video]], query: str, expected: int
) -> None:
    first, second = make_videos(2)
    first.tag = "advance"
    first.save()
    response = staff_client.get(f"{CHANGELIST}?{query}")
    assert response.context["cl"].result_count == expected


def test_change_page_embeds_the_player(staff_client: Client, video: Video) -> None:
    response = staff_client.get(reverse("admin:videos_video_change", args=[video.id]))
    body = response.content.decode()
    assert 'id="player"' in body
    assert reverse("api:stream_video", args=[video.id]) in body


def test_change_page_saves_tag(staff_client: Client, video: Video) -> None:
    url = reverse("admin:videos_video_change", args=[video.id])
    assert staff_client.post(url, {"tag": "advance"}).status_code == 302
    video.refresh_from_db()
    assert video.tag == "advance"


def test_videos_cannot_be_added_by_hand(staff_client: Client) -> None:
    assert staff_client.get(reverse("admin:videos_video_add")).status_code == 403


def test_deleting_in_admin_removes_the_file(staff_client: Client, video: Video) -> None:
    name = video.file.name
    url = reverse("admin:videos_video_delete", args=[video.id])
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Video.objects.exists()
    assert not default_storage.exists(name)
