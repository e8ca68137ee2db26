"""Before recording: the camera preview, the sound level, the choice of
camera, and the consent line, on a desktop and on a phone-sized screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from invites.services import invite_create
from tests.e2e.record_page import record_path, wait_for_camera

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAMERA_LABEL_JS = "() => document.getElementById('preview').srcObject.getVideoTracks()[0].label"


def open_device_check(live_server: LiveServer, page: Page) -> None:
    """A new invite's record page, its camera on and (Chromium's fake microphone beeps) heard."""
    invite = invite_create(email="cand@example.com", name="Cand")
    page.goto(live_server.url + record_path(invite.token))
    wait_for_camera(page)
    expect(page.locator("#mic-note")).to_have_text("We can hear you.")


def test_the_device_check_hears_the_microphone_and_switches_cameras(
    live_server: LiveServer, browser_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    page = browser_page
    open_device_check(live_server, page)

    # The level bar moves with the fake microphone's beeps.
    page.wait_for_function(
        "() => Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 20"
    )
    expect(page.locator("#consent")).to_contain_text(
        "Your video and voice are recorded and sent to the team that invited you; "
        "only their recruiting team can watch it."
    )

    # Two cameras: a choice is offered, and choosing one switches the preview to it.
    cameras = page.locator("#camera option")
    expect(page.locator("#camera-choice")).to_be_visible()
    expect(cameras).to_have_count(2)
    before = page.evaluate(CAMERA_LABEL_JS)
    other = next(v for v in cameras.evaluate_all("os => os.map(o => o.textContent)") if v != before)
    page.select_option("#camera", label=other)
    page.wait_for_function(
        """label => {
          const stream = document.getElementById('preview').srcObject;
          return !!stream && stream.getVideoTracks()[0].label === label
            && stream.getVideoTracks()[0].readyState === 'live';
        }""",
        arg=other,
    )
    expect(page.locator("#start")).to_be_enabled()
    expect(page.locator("#microphone-choice")).to_be_visible()
    screenshot(page, "device-check")


def test_the_device_check_fits_a_phone_screen(
    live_server: LiveServer, phone_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    page = phone_page
    open_device_check(live_server, page)

    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#start").bounding_box()
    assert box is not None and box["height"] >= 44  # a comfortable touch target
    screenshot(page, "phone-device-check")


def test_a_camera_that_stops_working_says_so_and_comes_back_on_retry(
    live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    open_device_check(live_server, page)

    # An unplugged camera ends its track; Chromium's fake one can't be unplugged, so the
    # test fires the same event.
    page.evaluate(
        "() => document.getElementById('preview').srcObject.getVideoTracks()[0]"
        ".dispatchEvent(new Event('ended'))"
    )
    expect(page.locator("#error")).to_contain_text("Your camera or microphone stopped working")
    expect(page.locator("#start")).to_be_hidden()
    assert page.evaluate("() => document.getElementById('preview').srcObject") is None

    page.click("#retry")
    wait_for_camera(page)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#mic-note")).to_have_text("We can hear you.")


# Counts the streams getUserMedia hands the page, to see which are still live.
COUNT_STREAMS = """
window.__streams = [];
const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => ask(c).then((s) => { window.__streams.push(s); return s; });
"""
LIVE_TRACKS = (
    "() => window.__streams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live').length"
)


def test_changing_camera_quickly_leaves_one_camera_and_one_microphone_on(
    live_server: LiveServer, browser_page: Page
) -> None:
    """Each change asks for the camera again; the requests a later one replaced
    are let go when they come, or the camera light stays on and phones say "busy"."""
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(COUNT_STREAMS)
    open_device_check(live_server, page)
    cameras = page.locator("#camera option").evaluate_all("options => options.map((o) => o.value)")
    page.evaluate(
        """(cameras) => {
          const choice = document.getElementById("camera");
          for (let i = 0; i < 6; i++) {
            choice.value = cameras[i % cameras.length];
            choice.dispatchEvent(new Event("change"));
          }
        }""",
        cameras,
    )
    page.wait_for_function("() => window.__streams.length >= 7")  # the first, and one a change
    page.wait_for_timeout(1_000)
    assert page.evaluate(LIVE_TRACKS) == 2
    expect(page.locator("#start")).to_be_enabled()
    assert errors == []
