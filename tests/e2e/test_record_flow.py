"""The whole flow through a real browser.

A candidate records a few seconds on /r/<token> with Chromium's fake camera and
submits (a resumable tus upload, then "finish"); a recruiter logs into the
admin, plays the video, seeks in it and tags it. Plus the candidate's two
unhappy first impressions: a refused camera and an unknown link.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.urls import reverse
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from invites.models import Invite
from tests.e2e.record_page import (
    Candidate,
    expect_done,
    kept_take,
    kept_take_count,
    record_path,
    record_take,
    takes_used,
    wait_for_camera,
    wait_until,
)
from uploads.models import Upload
from videos.models import Video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Resolves with the player's duration once its metadata is in.
PLAYER_METADATA_JS = """
async () => {
  const player = document.getElementById("player");
  if (player.readyState < HTMLMediaElement.HAVE_METADATA) {
    await new Promise((resolve, reject) => {
      player.addEventListener("loadedmetadata", resolve, { once: true });
      const failed = () => reject(new Error("media error " + player.error.code));
      player.addEventListener("error", failed, { once: true });
      setTimeout(() => reject(new Error("no loadedmetadata within 20 s")), 20000);
      if (player.preload === "none") { player.preload = "metadata"; player.load(); }
    });
  }
  return player.duration;
}
"""

# Seeks the player to `seconds` and resolves with where it landed.
PLAYER_SEEK_JS = """
async (seconds) => {
  const player = document.getElementById("player");
  await new Promise((resolve, reject) => {
    player.addEventListener("seeked", resolve, { once: true });
    const failed = () => reject(new Error("media error " + player.error.code));
    player.addEventListener("error", failed, { once: true });
    setTimeout(() => reject(new Error("no seeked within 20 s")), 20000);
    player.currentTime = seconds;
  });
  return player.currentTime;
}
"""


def record_and_submit(page: Page, invite: Invite, screenshot: Callable[[Page, str], None]) -> None:
    wait_for_camera(page)
    # The live preview shows the (fake) camera, without echoing the microphone.
    assert page.eval_on_selector("#preview", "v => v.muted")
    expect(page.locator("#consent")).to_contain_text("only their recruiting team can watch it")
    screenshot(page, "record")

    page.click("#start")
    # A 3-2-1 countdown first; the take is counted by the server.
    expect(page.locator("#countdown")).to_be_visible()
    expect(page.locator("#take-label")).to_have_text("Take 1 of 3")
    screenshot(page, "countdown")
    expect(page.locator("#stop")).to_be_visible()
    page.wait_for_timeout(4_000)  # the recording itself
    expect(page.locator("#elapsed")).not_to_have_text("0:00")
    page.click("#stop")

    expect(page.locator("#playback")).to_be_visible()
    expect(page.locator("#preview")).to_be_hidden()
    expect(page.locator("#rerecord")).to_be_visible()
    # The take can be watched and seeked before it is sent.
    page.wait_for_function("() => Number.isFinite(document.getElementById('playback').duration)")
    screenshot(page, "review")
    kept = kept_take(page)

    page.click("#submit")
    expect(page.locator("#upload")).to_be_visible()
    expect(page.locator("#submit")).to_be_disabled()
    expect_done(page, invite)
    screenshot(page, "done")
    # Sent and saved: the browser's copy is gone.
    assert kept_take_count(page) == 0
    upload = Upload.objects.get(invite=invite)
    assert upload.length == upload.offset == kept["size"]
    assert upload.sha256 == kept["sha256"]


def log_in_to_admin(page: Page, live_server: LiveServer, username: str, password: str) -> None:
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_be_visible()


def test_candidate_records_and_recruiter_plays_seeks_and_tags(
    candidate: Candidate, live_server: LiveServer, browser_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    page = browser_page
    invite = candidate.invite
    page.goto(candidate.url())
    record_and_submit(page, invite, screenshot)

    # Both sides of the write: the row and the stored file.
    video = Video.objects.get(invite=invite)
    assert Upload.objects.get(invite=invite).video_id == video.id
    invite.refresh_from_db()
    assert takes_used(invite) == 1
    assert video.size > 0
    assert video.file.name
    assert video.file.storage.exists(video.file.name)
    assert video.file.storage.size(video.file.name) == video.size
    # Processing may finish just after the response; give it a moment.
    wait_until(lambda: Video.objects.get(pk=video.pk).duration_seconds is not None)
    video.refresh_from_db()
    assert video.duration_seconds is not None
    assert 3 <= video.duration_seconds <= 6, video.duration_seconds

    User.objects.create_superuser("rec", "rec@example.com", "pw")
    log_in_to_admin(page, live_server, "rec", "pw")
    page.goto(live_server.url + reverse("videos:detail", args=[video.id]))
    player = page.locator("video#player")
    expect(player).to_be_attached()
    assert video.stream_url in player.evaluate("p => p.currentSrc || p.getAttribute('src')")

    duration = page.evaluate(PLAYER_METADATA_JS)
    assert duration is not None and duration != float("inf") and duration > 2, duration
    position = page.evaluate(PLAYER_SEEK_JS, 2)
    assert abs(position - 2) < 0.5, position
    screenshot(page, "video")

    page.locator('form button[name="tag"][value="advance"]').click()
    page.wait_for_load_state()
    assert wait_until(lambda: Video.objects.get(pk=video.pk).tag == "advance")
    video.refresh_from_db()
    assert video.tag == "advance"


def test_recording_stops_by_itself_at_the_limit_and_can_be_redone(
    candidate: Candidate, browser_page: Page
) -> None:
    page = browser_page
    invite = candidate.invite
    with override_settings(AURIO_MAX_DURATION_SECONDS=2):
        page.goto(candidate.url())
    expect(page.locator("#remaining")).to_have_text("0:02")

    page.click("#start")
    expect(page.locator("#playback")).to_be_visible(timeout=15_000)
    expect(page.locator("#status")).to_contain_text("Time is up")
    expect(page.locator("#elapsed")).to_have_text("0:02")

    # Re-recording asks the server for the next take and counts down again.
    page.click("#rerecord")
    expect(page.locator("#countdown")).to_be_visible()
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#playback")).to_be_hidden()
    expect(page.locator("#submit")).to_be_hidden()
    expect(page.locator("#take-label")).to_have_text("Take 2 of 3")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#playback")).to_be_visible(timeout=15_000)
    assert not Video.objects.filter(invite=invite).exists()
    invite.refresh_from_db()
    assert takes_used(invite) == 2


def test_a_take_can_be_recorded_again_and_the_last_one_is_sent(
    candidate: Candidate, browser_page: Page
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page)
    record_take(page, ms=1_000)
    first = kept_take(page)
    record_take(page, ms=2_500, button="#rerecord")
    second = kept_take(page)  # the first take is no longer kept: only one remains
    assert second["sha256"] != first["sha256"]

    page.click("#submit")
    expect_done(page, invite)
    upload = Upload.objects.get(invite=invite)
    assert upload.length == second["size"]
    assert wait_until(lambda: Video.objects.filter(invite=invite).count() == 1)


def test_refused_camera_explains_how_to_allow_it(
    candidate: Candidate, denied_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    denied_page.goto(candidate.url())

    error = denied_page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("allow the camera and microphone")
    expect(denied_page.locator("#retry")).to_be_visible()
    expect(denied_page.locator("#start")).to_be_hidden()
    # Sending a video file is still possible.
    expect(denied_page.locator("#alternative")).to_be_visible()
    screenshot(denied_page, "denied")


def test_unknown_link_gets_a_friendly_404(live_server: LiveServer, browser_page: Page) -> None:
    response = browser_page.goto(live_server.url + record_path("no-such-token"))

    assert response is not None
    assert response.status == 404
    expect(browser_page.locator("h1")).to_have_text("We couldn't find this link")
