"""The page's own look at a take before it is sent: could anyone hear and see the candidate?

While recording, the page samples the microphone's loudness and the camera's
brightness; at review it warns about a take that was nearly all silent, or
nearly all dark (a covered camera), and puts "Record again" first. The take
can still be sent: the warning is advice, not a refusal.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.record_page import Candidate, expect_done, record_take

pytestmark = pytest.mark.e2e


def test_a_silent_dark_take_gets_a_warning_and_can_still_be_sent(
    candidate: Candidate, dark_and_silent_page: Page
) -> None:
    page = candidate.open(dark_and_silent_page)
    record_take(page, ms=3_000)
    warning = page.locator("#take-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("We couldn\u2019t hear you in this take")
    expect(warning).to_contain_text("your camera looks covered or dark")
    expect(page.locator("#rerecord")).to_have_text("Record again")
    expect(page.locator("#rerecord")).to_have_class("primary")
    page.click("#submit")
    expect_done(page, candidate.invite)


def test_the_normal_camera_and_microphone_get_no_warning(candidate: Candidate, browser_page: Page) -> None:
    page = candidate.open(browser_page)
    record_take(page, ms=3_000)
    expect(page.locator("#take-warning")).to_be_hidden()
    expect(page.locator("#rerecord")).to_have_text("Re-record")
