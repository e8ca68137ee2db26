"""The interview's logo on the candidate's page: served with the type its bytes say."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from tests.support.factories import make_interview

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_logo_is_served_as_the_image_its_bytes_say(client: Client, db: None) -> None:
    interview = make_interview()
    interview.logo.save("logo.html", ContentFile(PNG), save=True)
    response = client.get(interview.logo_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG  # type: ignore[attr-defined]


@pytest.mark.parametrize("content", [None, b"<svg onload=alert(1)>"])
def test_no_logo_or_one_that_is_not_an_image_is_404(client: Client, db: None, content: bytes | None) -> None:
    interview = make_interview()
    if content is not None:  # stored behind the admin's check
        interview.logo.save("logo.png", ContentFile(content), save=True)
    assert client.get(reverse("interviews:logo", args=[interview.pk])).status_code == 404


def test_an_unknown_or_malformed_interview_is_404(client: Client, db: None) -> None:
    assert client.get(reverse("interviews:logo", args=["0" * 32])).status_code == 404
    assert client.get(reverse("interviews:logo", args=["not-an-id"])).status_code == 404
    assert client.post(reverse("interviews:logo", args=["not-an-id"])).status_code == 405
