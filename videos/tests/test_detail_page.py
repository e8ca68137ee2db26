from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from videos.models import Video

pytestmark = pytest.mark.django_db


def test_staff_sees_player_metadata_and_tag_buttons(staff_client: Client, video: Video) -> None:
    response = staff_client.get(reverse("videos:detail", args=[video.id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'src="{reverse("api:stream_video", args=[video.id])}"' in body
    assert 'id="player"' in body
    assert "cand@example.com" in body
    assert "3.0 s" in body
    for tag in ("pending", "review", "advance", "pass"):
        assert f'value="{tag}"' in body


def test_anonymous_is_sent_to_log_in(client: Client, video: Video) -> None:
    response = client.get(reverse("videos:detail", args=[video.id]))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_non_staff_user_is_sent_to_log_in(client: Client, outsider: User, video: Video) -> None:
    client.force_login(outsider)
    response = client.get(reverse("videos:detail", args=[video.id]))
    assert response.status_code == 302


def test_staff_without_view_permission_gets_404(client: Client, teammate: User, video: Video) -> None:
    client.force_login(teammate)
    assert client.get(reverse("videos:detail", args=[video.id])).status_code == 404


def test_viewer_without_change_permission_sees_no_tag_buttons(
    client: Client, teammate: User, video: Video
) -> None:
    teammate.user_permissions.add(Permission.objects.get(codename="view_video"))
    client.force_login(teammate)
    response = client.get(reverse("videos:detail", args=[video.id]))
    assert response.status_code == 200
    assert 'name="tag"' not in response.content.decode()
    assert client.post(reverse("videos:tag", args=[video.id]), {"tag": "pass"}).status_code == 404
    video.refresh_from_db()
    assert video.tag == "pending"


@pytest.mark.parametrize("video_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "1"])
def test_unknown_video_is_404(staff_client: Client, video_id: str) -> None:
    assert staff_client.get(reverse("videos:detail", args=[video_id])).status_code == 404


def test_tag_button_sets_the_tag(staff_client: Client, video: Video) -> None:
    response = staff_client.post(reverse("videos:tag", args=[video.id]), {"tag": "advance"}, follow=True)
    assert response.status_code == 200
    video.refresh_from_db()
    assert video.tag == "advance"
    assert "Tagged advance" in response.content.decode()


def test_unknown_tag_is_refused_with_a_message(staff_client: Client, video: Video) -> None:
    response = staff_client.post(reverse("videos:tag", args=[video.id]), {"tag": "hire"}, follow=True)
    video.refresh_from_db()
    assert video.tag == "pending"
    assert "Unknown tag" in response.content.decode()


def test_tag_needs_post(staff_client: Client, video: Video) -> None:
    assert staff_client.get(reverse("videos:tag", args=[video.id])).status_code == 405


def test_tag_form_needs_csrf(recruiter: User, video: Video) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(recruiter)
    assert client.post(reverse("videos:tag", args=[video.id]), {"tag": "pass"}).status_code == 403
    video.refresh_from_db()
    assert video.tag == "pending"
