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
    expect_done,
    kept_take,
    record_path,
    record_take,
    wait_for_camera,
    wait_until,
)
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
