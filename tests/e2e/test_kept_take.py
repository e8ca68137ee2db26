"""What the page does with the take it keeps in this browser (IndexedDB) when the
server refuses to take it.

Only the server's verdict on the file itself lets the kept take go: finish's 413,
415 or 422, or a 413 to creating the upload (a take too large). Any other refused
request (a PATCH's 400, say) keeps it, for the candidate to submit again, after a
reload too. The refusals are answered in the browser (Playwright routes), in the
server's form, standing in for a server that says no.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from pytest_django.live_server_helper import LiveServer

from invites.models import Invite
from invites.services import invite_create
from tests.e2e.record_page import (
    SMALL_CHUNK,
    Candidate,
    expect_done,
    kept_take,
    record_path,
    record_take,
    takes_used,
    wait_for_camera,
    wait_until,
)
from tests.support.faultproxy import FaultProxy
from uploads.models import Upload
from videos.models import Video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The takes kept in IndexedDB, as their `sending` flags: true while the page means to
# send the take (after a reload it carries on by itself), false once it leaves that to
# the candidate.
KEPT_SENDING_JS = """
() => new Promise((resolve, reject) => {
  const opening = indexedDB.open("aurio-takes");
  opening.onerror = () => reject(opening.error);
  opening.onsuccess = () => {
    const db = opening.result;
    const reading = db.transaction("takes").objectStore("takes").getAll();
    reading.onerror = () => reject(reading.error);
    reading.onsuccess = () => {
      db.close();
      resolve(reading.result.map((take) => take.sending));
    };
  };
})
"""


def kept_sending(page: Page) -> list[bool | None]:
    return list(page.evaluate(KEPT_SENDING_JS))


def record_a_kept_take(live_server: LiveServer, page: Page) -> tuple[Invite, dict[str, Any]]:
    """A new invite's page with one take recorded and kept whole in IndexedDB."""
    invite = invite_create(email="cand@example.com", name="Cand")
    page.goto(live_server.url + record_path(invite.token))
    wait_for_camera(page)
    record_take(page, ms=1_500)
    return invite, kept_take(page)


def refuse(page: Page, request: str, status: int) -> str:
    """Answer the page's `request` ("POST" creating the upload, a "PATCH", or "finish")
    with `status` until the test lifts it (page.unroute_all); returns the server's words."""
    detail = f"Refused by the test: {request} {status}."

    def answer(route: Route) -> None:
        if request == "finish" or route.request.method == request:
            route.fulfill(status=status, json={"detail": detail})
        else:
            route.continue_()

    page.route("**/finish" if request == "finish" else "**/api/v1/tus/**", answer)
    return detail


@pytest.mark.parametrize(
    ("refused", "status"),
    [("PATCH", 400), ("POST", 400), ("finish", 400)],
    ids=["a PATCH's 400", "creating the upload's 400", "finish's 400"],
)
def test_a_refused_request_keeps_the_take_to_submit_again(
    live_server: LiveServer, browser_page: Page, refused: str, status: int
) -> None:
    page = browser_page
    invite, kept = record_a_kept_take(live_server, page)

    detail = refuse(page, refused, status)
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text(detail)
    expect(page.locator("#submit")).to_be_visible()
    expect(page.locator("#submit")).to_be_enabled()
    # Kept, and left for the candidate to send: a reload offers it, it does not send it.
    assert wait_until(lambda: kept_sending(page) == [False]), kept_sending(page)

    page.unroute_all()
    page.reload()
    expect(page.locator("#earlier")).to_be_visible()
    page.click("#submit")
    expect_done(page, invite)
    upload = Upload.objects.get(invite=invite, video__isnull=False)
    assert upload.sha256 == kept["sha256"]
    assert Video.objects.filter(invite=invite).count() == 1


@pytest.mark.parametrize(
    ("refused", "status"),
    [("finish", 413), ("finish", 415), ("finish", 422), ("POST", 413)],
    ids=["finish's 413", "finish's 415", "finish's 422", "creating the upload's 413"],
)
def test_the_servers_verdict_on_the_file_lets_the_kept_take_go(
    live_server: LiveServer, browser_page: Page, refused: str, status: int
) -> None:
    page = browser_page
    invite, _ = record_a_kept_take(live_server, page)

    detail = refuse(page, refused, status)
    page.click("#submit")
    error = page.locator("#error")
    expect(error).to_contain_text(detail)
    expect(error).to_contain_text("Please record your answer again.")
    expect(page.locator("#submit")).to_be_hidden()
    expect(page.locator("#rerecord")).to_be_visible()
    assert wait_until(lambda: kept_sending(page) == []), kept_sending(page)

    page.unroute_all()
    page.reload()
    wait_for_camera(page)
    expect(page.locator("#earlier")).to_be_hidden()
    assert not Video.objects.filter(invite=invite).exists()


# getUserMedia answered only once the test lets it (window.__letCameraIn()), as when a
# candidate takes their time over the browser's permission prompt.
SLOW_CAMERA = """
window.__cameraWaits = false;
const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => {
  if (!window.__cameraWaits) return ask(c);
  return new Promise((resolve) => { window.__letCameraIn = () => resolve(ask(c)); });
};
"""


def test_a_camera_that_arrives_while_the_take_is_sent_does_not_replace_it(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page
) -> None:
    """The camera stops with a take in review; Re-record waits for it; the candidate
    submits instead; the camera then arrives. The take on its way stays the answer
    (it was dropped for a new take, its upload ended and its kept copy deleted)."""
    page = browser_page
    page.add_init_script(SLOW_CAMERA)
    invite = candidate.invite
    candidate.open(page, proxy.url, chunk=SMALL_CHUNK)
    record_take(page, ms=2_000)
    kept = kept_take(page)
    page.evaluate(
        "() => document.getElementById('preview').srcObject.getVideoTracks()[0]"
        ".dispatchEvent(new Event('ended'))"
    )
    expect(page.locator("#error")).to_contain_text("What you recorded is kept")
    page.evaluate("() => { window.__cameraWaits = true; }")
    page.click("#rerecord")  # waits for the camera
    expect(page.locator("#status")).to_contain_text("Waiting for your camera")
    proxy.throttle(30_000)  # a slow connection: the take is still on its way ...
    page.click("#submit")
    expect(page.locator("#upload")).to_be_visible()
    page.evaluate("() => window.__letCameraIn()")  # ... when the camera comes
    page.wait_for_timeout(1_000)  # time for the page to act on it, mid-upload
    assert Upload.objects.get(invite=invite).offset < kept["size"]
    proxy.throttle(None)
    expect_done(page, invite)
    invite.refresh_from_db()
    assert takes_used(invite) == 1
    upload = Upload.objects.get(invite=invite)
    assert upload.sha256 == kept["sha256"]
