"""The other ways in and the limits: a video file instead of the browser's
recorder (a phone's camera app), the server's refusal of a file that is no
video, and the server's count of takes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django import Settings

from invites.models import Invite
from tests.e2e.record_page import Candidate, expect_done, record_take, takes_used
from tests.support.media import make_video
from uploads.models import Upload
from videos.models import Video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def takes_counted(invite: Invite) -> int:
    invite.refresh_from_db()
    return takes_used(invite)


def test_a_chosen_video_file_goes_through_the_same_upload(
    candidate: Candidate, browser_page: Page, tmp_path: Path, screenshot: Callable[[Page, str], None]
) -> None:
    clip = make_video(tmp_path / "from-my-phone.webm", seconds=3)
    invite = candidate.invite
    page = candidate.open(browser_page)
    file_input = page.locator("#file")
    assert file_input.get_attribute("accept") == "video/*"
    assert file_input.get_attribute("capture") == "user"

    file_input.set_input_files(clip)
    expect(page.locator("#status")).to_contain_text("from-my-phone.webm")
    expect(page.locator("#playback")).to_be_visible()
    expect(page.locator("#rerecord")).to_have_text("Record with the camera instead")
    screenshot(page, "file-chosen")
    assert takes_counted(invite) == 1

    page.dblclick("#submit")  # one video, however eager the click
    expect_done(page, invite)
    video = Video.objects.get(invite=invite)
    assert video.original_name == "from-my-phone.webm"
    assert video.file.storage.exists(video.file.name)
    assert video.file.storage.size(video.file.name) == video.size
    upload = Upload.objects.get(invite=invite)
    assert upload.length == upload.offset == clip.stat().st_size
    assert upload.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert upload.video_id == video.id


def test_a_file_that_is_not_a_video_is_refused_in_the_servers_words(
    candidate: Candidate, browser_page: Page, tmp_path: Path, screenshot: Callable[[Page, str], None]
) -> None:
    notes = tmp_path / "answer.mp4"  # the name says video; the bytes do not
    notes.write_bytes(b"These are my notes, not a video.\n" * 2000)
    invite = candidate.invite
    page = candidate.open(browser_page)

    page.locator("#file").set_input_files(notes)
    expect(page.locator("#status")).to_contain_text("answer.mp4")
    page.click("#submit")
    error = page.locator("#error")
    expect(error).to_contain_text("This file is not a video we can accept", timeout=30_000)
    expect(error).to_contain_text("Please choose another video")
    expect(page.locator("#submit")).to_be_hidden()
    expect(page.locator("#alternative")).to_be_visible()
    screenshot(page, "file-refused")
    assert not Video.objects.filter(invite=invite).exists()
    invite.refresh_from_db()
    assert invite.submitted_at is None


def test_the_server_refuses_a_take_past_the_limit_and_the_last_one_can_still_be_sent(
    candidate: Candidate, browser_page: Page, settings: Settings
) -> None:
    settings.AURIO_MAX_ATTEMPTS = 1
    invite = candidate.invite
    page = candidate.open(browser_page)
    expect(page.locator("#status")).to_contain_text("up to 1 take.")

    record_take(page, ms=1_000)
    expect(page.locator("#take-label")).to_have_text("Take 1 of 1")
    expect(page.locator("#status")).to_contain_text("This was your last take")

    page.click("#rerecord")
    error = page.locator("#error")
    expect(error).to_contain_text("You have used all 1 take for")
    expect(error).to_contain_text("You can still submit the take you have")
    expect(page.locator("#rerecord")).to_be_hidden()
    expect(page.locator("#playback")).to_be_visible()
    assert takes_counted(invite) == 1

    page.click("#submit")
    expect_done(page, invite)
    assert Video.objects.filter(invite=invite).count() == 1
