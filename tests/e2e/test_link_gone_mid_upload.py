"""The link ends while the take is on its way: the page says so and stops,
and an upload that merely expired (the link still open) is sent again."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Request, Route, expect

from invites.models import Invite
from invites.services import invite_revoke
from tests.e2e.record_page import Candidate, expect_done, record_take, wait_for_camera
from uploads.models import Upload
from videos.models import Video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("end", ["revoke", "expire"])
def test_a_link_that_ends_mid_upload_is_said_once_not_retried_for_ever(
    candidate: Candidate, browser_page: Page, end: str
) -> None:
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(candidate.url(chunk=64 * 1024))
    wait_for_camera(page)
    record_take(page, ms=3_000)
    tus_requests: list[float] = []
    ended: list[float] = []

    def end_the_link_at_the_second(route: Route) -> None:
        tus_requests.append(time.monotonic())
        if len(tus_requests) == 2:
            if end == "revoke":
                invite_revoke(invite=candidate.invite)
            else:
                Invite.objects.filter(pk=candidate.invite.pk).update(expires_at=timezone.now())
            ended.append(time.monotonic())
        route.continue_()

    page.route("**/api/v1/tus/**", end_the_link_at_the_second)
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text(
        "withdrawn" if end == "revoke" else "expired", timeout=45_000
    )
    asked = len(tus_requests)
    page.wait_for_timeout(3_000)
    assert len(tus_requests) == asked, "the page kept asking after it said the link had ended"
    assert asked < 10  # a PATCH refused, a HEAD refused, a creation refused: then it stops
    assert not Video.objects.exists()
    assert errors == []


def test_an_upload_that_expired_while_the_link_is_open_is_sent_again(
    candidate: Candidate, browser_page: Page
) -> None:
    """Finish answers 410 for an incomplete upload past its expiry; the link
    still takes an answer, so the page uploads the take again and submits."""
    page = candidate.open(browser_page)
    record_take(page, ms=1_500)
    held: list[Route] = []
    page.route("**/finish", lambda route: held.append(route) if not held else route.continue_())
    creations: list[Request] = []
    page.on("request", lambda r: creations.append(r) if r.method == "POST" and "/tus/" in r.url else None)
    page.click("#submit")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert held, "the page never asked to finish"
    upload = Upload.objects.get(invite=candidate.invite)
    Upload.objects.filter(pk=upload.pk).update(
        offset=upload.offset - 1, expires_at=timezone.now() - timedelta(minutes=1)
    )
    held[0].continue_()
    expect_done(page, candidate.invite)
    assert len(creations) == 2  # the take was sent once more
    video = Video.objects.get(invite=candidate.invite)
    assert Upload.objects.get(video=video).length == upload.length  # the same take, whole
