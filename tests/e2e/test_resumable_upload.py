"""The take survives the network and the tab: a real Chromium, a fault-injecting
proxy (tests/support/faultproxy.py) between it and the live server.

Some takes travel in fixed 64 KB tus chunks (`?chunk=` on the page's URL), so a
cut lands mid-upload; others in the PATCHes the page sizes by itself from the
connection's speed, as candidates' do. "Byte-identical" compares the SHA-256 of
the take the page kept in IndexedDB with the SHA-256 of the bytes the server
assembled: read by the test from the stored chunks just before "finish" turns
them into the video (WebM is remuxed after that), and as the server itself
records it (Upload.sha256).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Route, expect
from pytest_django import Settings

from tests.e2e.record_page import (
    FIRST_CHUNK,
    MAX_CHUNK,
    MIN_CHUNK,
    SMALL_CHUNK,
    Candidate,
    capture_received_upload,
    expect_done,
    kept_take,
    kept_take_count,
    page_bytes,
    record_take,
    wait_for_camera,
    wait_until,
)
from tests.support.faultproxy import FaultProxy, Request
from tests.support.media import make_video
from uploads.models import Upload
from videos.models import Video

# Long enough that the page's own PATCHes (FIRST_CHUNK, then sized by speed) are
# several, short enough to stay well under the old 5 MiB PATCH: about 600 KB.
SMALL_TAKE_MS = 8_000

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def real_chunk_bounds(settings: Settings) -> None:
    """The server's default PATCH bounds (the test settings allow tiny PATCHes for protocol tests)."""
    settings.AURIO_MIN_CHUNK_BYTES = MIN_CHUNK
    settings.AURIO_MAX_CHUNK_BYTES = 8 * 1024 * 1024


def tus_requests(proxy: FaultProxy, since: int = 0) -> list[Request]:
    """The tus requests the browser sent (the creation POST, HEADs, PATCHes), in order."""
    return [r for r in proxy.requests[since:] if "/api/v1/tus/" in r.path]


def patch_offsets(requests: list[Request]) -> list[int]:
    return [r.offset for r in requests if r.method == "PATCH" and r.offset is not None]


def patch_sizes(requests: list[Request], length: int) -> list[int]:
    """The size of each PATCH of an upload that nothing interrupted: from one offset to the next."""
    offsets = patch_offsets(requests)
    return [end - start for start, end in zip(offsets, [*offsets[1:], length], strict=True)]


def first_head(requests: list[Request]) -> int:
    return next(i for i, r in enumerate(requests) if r.method == "HEAD")


def resumed_offsets(requests: list[Request]) -> list[int]:
    """Offsets of the PATCHes after the first HEAD (where the client asked where to carry on)."""
    heads = [i for i, r in enumerate(requests) if r.method == "HEAD"]
    return patch_offsets(requests[heads[0] :]) if heads else []


def assert_one_video_from(
    upload: Upload,
    kept: dict[str, object],
    received: dict[str, object],
    seconds: tuple[float, float] = (3, 6),
) -> None:
    """One upload, complete, carrying exactly the kept take's bytes, turned into one stored video."""
    assert upload.length == upload.offset == kept["size"]
    assert received["id"] == upload.pk
    assert received["sha256"] == kept["sha256"]
    # The server's own record of the assembled bytes (before any remux) agrees.
    assert upload.sha256 == kept["sha256"]
    video = Video.objects.get(invite=upload.invite)
    assert upload.video_id == video.id
    assert video.file.storage.exists(video.file.name)
    assert video.file.storage.size(video.file.name) == video.size
    low, high = seconds
    duration = video.duration_seconds
    assert duration is not None and low <= duration <= high, duration


def test_upload_resumes_after_the_connection_is_cut(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url, chunk=SMALL_CHUNK)
    record_take(page)
    kept = kept_take(page)
    assert kept["size"] > 3 * SMALL_CHUNK, "the take should need several requests"
    received = capture_received_upload(page)

    # Halfway through, the network drops every connection and stays away for 2 s.
    proxy.cut_after(kept["size"] // 2, refuse_for=2.0)
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("connection is having trouble")
    expect(page.locator("#upload")).to_have_class(re.compile(r"\bwaiting\b"))
    screenshot(page, "upload-waiting")

    expect_done(page, invite)
    assert proxy.cuts == 1
    assert proxy.refused >= 1
    # The same upload carried on: created once, then, after asking the server for its
    # offset (HEAD), continued from there rather than from zero.
    log = tus_requests(proxy)
    assert [r.method for r in log].count("POST") == 1, log
    resumed = next(i for i, r in enumerate(log) if r.method == "HEAD")
    before, after = patch_offsets(log[:resumed]), patch_offsets(log[resumed:])
    assert after[0] >= max(before) and after[0] > 0, log
    upload = Upload.objects.get(invite=invite)
    assert_one_video_from(upload, kept, received)
    assert kept_take_count(page) == 0


def test_a_small_take_keeps_what_arrived_when_the_connection_is_cut(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)  # no ?chunk=: the page sizes its PATCHes
    record_take(page, ms=SMALL_TAKE_MS)
    kept = kept_take(page)
    assert 2 * FIRST_CHUNK < kept["size"] < 5 * 1024 * 1024, kept
    received = capture_received_upload(page)

    # A slowish line (each PATCH takes seconds); once the first PATCH is in, every
    # connection drops mid-way through the next one and the network stays away for 3 s.
    proxy.throttle(100_000)
    page.click("#submit")
    assert wait_until(lambda: len(patch_offsets(tus_requests(proxy))) >= 2, timeout=30)
    proxy.refuse_for(3.0)
    proxy.throttle(None)
    # The PATCHes that arrived whole before the cut are kept by the server...
    kept_at_cut = Upload.objects.get(invite=invite).offset
    assert 0 < kept_at_cut < kept["size"]

    expect_done(page, invite)
    log = tus_requests(proxy)
    assert [r.method for r in log].count("POST") == 1, log
    resumed = first_head(log)
    before, after = patch_offsets(log[:resumed]), patch_offsets(log[resumed:])
    assert before[:2] == [0, FIRST_CHUNK], log
    # (the PATCH under way when the connection dropped was lost, and is sent again)
    assert before[-1] == kept_at_cut, log
    # ...and the page carries on from there, not from 0.
    assert after[:1] == [kept_at_cut], log
    assert all(r.checksum for r in log if r.method == "PATCH"), log
    upload = Upload.objects.get(invite=invite)
    assert_one_video_from(upload, kept, received, seconds=(6, 10))


def test_reloading_mid_upload_carries_on_by_itself_from_the_servers_offset(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)
    record_take(page, ms=SMALL_TAKE_MS)
    kept = kept_take(page)
    received = capture_received_upload(page)  # the route outlives the reload

    # A slow line: the upload is still under way when the candidate reloads.
    proxy.throttle(40_000)
    page.click("#submit")
    assert wait_until(lambda: Upload.objects.filter(invite=invite, offset__gt=0).exists(), timeout=30)
    before_reload = Upload.objects.get(invite=invite)
    assert 0 < before_reload.offset < before_reload.length

    reloaded_at = len(proxy.requests)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.reload()  # and presses nothing afterwards
    status = page.locator("#status")
    expect(status).to_contain_text("Your answer was being sent when the page closed.")
    expect(status).to_contain_text("had arrived; sending the rest")
    expect(page.locator("#earlier")).to_be_hidden()
    expect(page.locator("#upload")).to_be_visible()
    # The page asked the server where it was (HEAD) and says what it heard. (The old
    # page's last PATCH may reach the proxy's log after the reload began: it is before the HEAD.)
    assert wait_until(lambda: resumed_offsets(tus_requests(proxy, since=reloaded_at)), timeout=15)
    log = tus_requests(proxy, since=reloaded_at)
    resumed_from = resumed_offsets(log)[0]
    assert resumed_from >= before_reload.offset > 0, log
    expect(status).to_contain_text(f"{page_bytes(resumed_from)} of {page_bytes(kept['size'])} had arrived")
    screenshot(page, "upload-resumed-after-reload")

    proxy.throttle(None)
    expect_done(page, invite)
    # The very upload that was under way, continued: not created again, not from zero.
    upload = Upload.objects.get(invite=invite)
    assert upload.pk == before_reload.pk
    log = tus_requests(proxy, since=reloaded_at)
    assert "POST" not in [r.method for r in log], log
    assert_one_video_from(upload, kept, received, seconds=(6, 10))
    assert Video.objects.filter(invite=invite).count() == 1
    assert kept_take_count(page) == 0
    # The old page's last PATCH, already in the socket buffers when it closed, may still land
    # after the new page asked for the offset: that PATCH then meets a 409 and the page asks
    # again, as tus intends; Chromium logs the 409. Nothing else may show.
    assert [p for p in problems if "status of 409" not in p] == [], problems


def test_a_take_whose_upload_expired_while_the_page_was_closed_is_sent_again_by_itself(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page
) -> None:
    invite = candidate.invite
    url = candidate.url(proxy.url)
    page = candidate.open(browser_page, proxy.url)
    record_take(page, ms=SMALL_TAKE_MS)
    kept = kept_take(page)
    received = capture_received_upload(page)
    proxy.throttle(40_000)
    page.click("#submit")
    assert wait_until(lambda: Upload.objects.filter(invite=invite, offset__gt=0).exists(), timeout=30)

    # The page closes mid-upload, and the upload expires on the server before it opens again.
    page.goto("about:blank")
    expired = Upload.objects.get(invite=invite)
    Upload.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    reopened_at = len(proxy.requests)
    page.goto(url)
    status = page.locator("#status")
    expect(status).to_contain_text("Your answer was being sent when the page closed.")
    expect(status).to_contain_text("no longer on our server, so sending starts again from the beginning")
    expect(page.locator("#earlier")).to_be_hidden()

    proxy.throttle(None)
    expect_done(page, invite)
    log = tus_requests(proxy, since=reopened_at)
    methods = [r.method for r in log]
    assert methods[:2] == ["HEAD", "POST"], log
    assert patch_offsets(log)[0] == 0, log
    upload = Upload.objects.get(invite=invite, video__isnull=False)
    assert upload.pk != expired.pk
    assert_one_video_from(upload, kept, received, seconds=(6, 10))
    assert kept_take_count(page) == 0


def test_a_take_recorded_but_not_submitted_is_offered_after_a_reload_not_sent(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)
    record_take(page, ms=1_000)
    kept_take(page)

    reloaded_at = len(proxy.requests)
    page.reload()
    earlier = page.locator("#earlier")
    expect(earlier).to_be_visible()
    expect(earlier).to_contain_text("You have a recording from earlier that was not sent")
    expect(page.locator("#submit")).to_be_enabled()
    expect(page.locator("#discard")).to_be_visible()
    expect(page.locator("#playback")).to_be_visible()
    expect(page.locator("#start")).to_be_hidden()
    screenshot(page, "earlier-take")
    page.wait_for_timeout(2_000)  # time enough for a page that sends unasked to start
    assert tus_requests(proxy, since=reloaded_at) == []
    assert not Upload.objects.filter(invite=invite).exists()
    assert kept_take_count(page) == 1


def test_patches_grow_while_they_arrive_quickly(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page, tmp_path: Path
) -> None:
    clip = make_video(
        tmp_path / "answer.webm", seconds=6, picture="camera", size=(640, 480), bitrate=4_000_000
    )
    length = clip.stat().st_size
    assert length > 4 * 1024 * 1024
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)
    page.locator("#file").set_input_files(clip)
    page.click("#submit")
    expect_done(page, invite)

    sizes = patch_sizes(tus_requests(proxy), length)
    assert sizes[0] == FIRST_CHUNK, sizes
    # Each PATCH on this fast line takes well under the ~2 s aimed at: the next one is larger.
    assert all(later > earlier for earlier, later in zip(sizes[:3], sizes[1:4], strict=True)), sizes
    assert max(sizes) <= MAX_CHUNK, sizes
    assert len(sizes) < length / FIRST_CHUNK / 2, sizes


def test_patches_shrink_on_a_slow_line_but_not_below_the_servers_minimum(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)
    record_take(page, ms=SMALL_TAKE_MS)
    kept = kept_take(page)

    # 40 KB/s: the first PATCH (256 KiB) takes over 6 s, so the next ones aim at ~2 s each.
    proxy.throttle(40_000)
    page.click("#submit")
    assert wait_until(lambda: len(patch_offsets(tus_requests(proxy))) >= 3, timeout=40)
    proxy.throttle(None)
    expect_done(page, invite)

    log = tus_requests(proxy)
    assert [r.method for r in log].count("HEAD") == 0, log  # nothing failed: the sizes are the PATCHes'
    sizes = patch_sizes(log, kept["size"])
    assert sizes[0] == FIRST_CHUNK, sizes
    assert MIN_CHUNK <= sizes[1] < FIRST_CHUNK / 2, sizes
    assert all(size >= MIN_CHUNK for size in sizes[:-1]), sizes


def test_upload_waits_while_offline_and_carries_on_when_back(
    candidate: Candidate, phone_page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    invite = candidate.invite
    page = candidate.open(phone_page, chunk=SMALL_CHUNK)
    record_take(page)
    kept = kept_take(page)

    page.context.set_offline(True)
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("You are offline")
    expect(page.locator("#status")).to_contain_text("kept safe on this device")
    screenshot(page, "phone-upload-offline")
    assert not Video.objects.filter(invite=invite).exists()

    page.context.set_offline(False)  # the `online` event resumes at once
    expect_done(page, invite)
    upload = Upload.objects.get(invite=invite)
    assert upload.length == upload.offset == kept["size"]


def test_discarding_the_earlier_take_goes_back_to_the_camera(
    candidate: Candidate, browser_page: Page
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page)
    record_take(page, ms=1_000)
    kept_take(page)

    page.reload()
    expect(page.locator("#earlier")).to_be_visible()
    page.click("#discard")
    wait_for_camera(page)
    expect(page.locator("#earlier")).to_be_hidden()
    expect(page.locator("#playback")).to_be_hidden()
    assert kept_take_count(page) == 0
    assert not Upload.objects.filter(invite=invite).exists()


def test_a_lost_answer_to_finish_is_retried_and_makes_one_video(
    candidate: Candidate, browser_page: Page
) -> None:
    invite = candidate.invite
    page = candidate.open(browser_page)
    record_take(page, ms=1_500)
    finishes: list[int] = []

    def lose_first_answer(route: Route) -> None:
        # The server gets the request and makes the video; the answer never reaches the page.
        response = route.fetch()
        finishes.append(response.status)
        if len(finishes) == 1:
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.route("**/finish", lose_first_answer)
    page.dblclick("#submit")
    expect_done(page, invite)
    assert finishes == [201, 200]
    assert Video.objects.filter(invite=invite).count() == 1
    assert Upload.objects.filter(invite=invite).count() == 1


def test_a_server_that_takes_smaller_patches_gets_them(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page, tmp_path: Path, settings: Settings
) -> None:
    settings.AURIO_MAX_CHUNK_BYTES = 400_000  # an operator's lower AURIO_MAX_CHUNK_BYTES
    clip = make_video(
        tmp_path / "answer.webm", seconds=3, picture="camera", size=(640, 480), bitrate=4_000_000
    )
    length = clip.stat().st_size
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)
    page.locator("#file").set_input_files(clip)
    page.click("#submit")
    expect_done(page, invite)

    offsets = patch_offsets(tus_requests(proxy))
    # One PATCH is refused as too large (413) and sent again, halved; the page then stays below.
    assert len(offsets) - len(set(offsets)) == 1, offsets
    stored = sorted(set(offsets))
    sizes = [end - start for start, end in zip(stored, [*stored[1:], length], strict=True)]
    assert max(sizes) <= 400_000, sizes
    upload = Upload.objects.get(invite=invite)
    assert upload.length == upload.offset == length


def test_a_server_that_wants_larger_patches_gets_them(
    candidate: Candidate, proxy: FaultProxy, browser_page: Page, tmp_path: Path, settings: Settings
) -> None:
    settings.AURIO_MIN_CHUNK_BYTES = 300_000  # an operator's higher AURIO_MIN_CHUNK_BYTES
    clip = make_video(
        tmp_path / "answer.webm", seconds=3, picture="camera", size=(640, 480), bitrate=4_000_000
    )
    length = clip.stat().st_size
    invite = candidate.invite
    page = candidate.open(browser_page, proxy.url)
    page.locator("#file").set_input_files(clip)
    page.click("#submit")
    expect_done(page, invite)

    offsets = patch_offsets(tus_requests(proxy))
    # The first PATCH (256 KiB) is refused as too small (400) and sent again, doubled.
    assert offsets[:2] == [0, 0], offsets
    assert len(offsets) - len(set(offsets)) == 1, offsets
    stored = sorted(set(offsets))
    sizes = [end - start for start, end in zip(stored, [*stored[1:], length], strict=True)]
    assert min(sizes[:-1]) >= 300_000, sizes
    upload = Upload.objects.get(invite=invite)
    assert upload.length == upload.offset == length
