"""The candidate's page and the recruiter's player in Chromium, Firefox and WebKit.

Each engine runs as Debian ships it (tests/support/browsers.py): Chromium
through Playwright, Firefox over WebDriver BiDi, WebKitGTK's MiniBrowser
through WebKitWebDriver. Every engine fakes its camera and microphone.

What differs between them, and what these tests pin:
- Chromium and Firefox record WebM (VP8/VP9 and Opus); WebKit, like Safari,
  offers only MP4 (H.264 and AAC). On Debian bookworm WebKit's recording comes
  out empty (it lacks GStreamer's isofmp4mux): the page must say so, never send
  nothing, and offer the file picker without costing the candidate a take.
- A file from a phone: Safari's fragmented MP4 and an iPhone's portrait MOV
  go through the file picker in every engine, byte for byte.
- A cut connection mid-upload: the upload carries on from where the server
  says it stopped, in every engine.
- The recruiter's player plays and seeks the original and the rendition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from invites.models import Invite
from invites.services import invite_create
from tests.e2e.record_page import KEPT_TAKE_JS, MIN_CHUNK, SMALL_CHUNK, Candidate, takes_used
from tests.support.browsers import Browser, ChromiumPage, wait_for
from tests.support.faultproxy import FaultProxy
from tests.support.media import make_rotated, make_video
from uploads.accept import video_accept_upload
from uploads.models import Upload
from videos.models import Video
from videos.processing import process_here

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORDERS = ["chromium", "firefox"]
UPLOAD_TIMEOUT = 90.0

CAMERA_ON = """() => {
  const start = document.getElementById("start"), preview = document.getElementById("preview");
  return !start.hidden && !start.disabled && preview.readyState >= 2 && preview.videoWidth > 0;
}"""
# Visible on screen (not hidden, not inside something hidden).
SHOWN = """(selector) => {
  const e = document.querySelector(selector);
  return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
}"""
TEXT = "(selector) => (document.querySelector(selector) || {}).textContent || ''"
TEXT_IS = "(selector, text) => ((document.querySelector(selector) || {}).textContent || '') === text"
DONE = "() => location.pathname.endsWith('/done') && document.querySelector('h1').textContent"
MIC_HEARD = "() => Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 0"
# Once the kept take is whole in IndexedDB: its size and SHA-256 (else null).
KEPT = f"async () => ({KEPT_TAKE_JS})()"
# The type of the take being recorded, as the page keeps it in IndexedDB.
KEPT_TYPE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("aurio-takes");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  if (!db.objectStoreNames.contains("takes")) { db.close(); return null; }
  const takes = await new Promise((resolve) => {
    const request = db.transaction("takes").objectStore("takes").getAll();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  return takes.length === 1 ? takes[0].mimeType : null;
}"""
# The player loads `src`, plays a little, then seeks to `at`; what it saw.
PLAY_AND_SEEK = """async (src, at) => {
  const player = document.getElementById("player");
  const until = (event, reached) => new Promise((resolve, reject) => {
    const check = () => reached() && resolve();
    player.addEventListener(event, check);
    const code = () => player.error && player.error.code;
    player.addEventListener("error", () => reject(new Error("media error " + code())));
    setTimeout(() => reject(new Error("no " + event + " within 30 s")), 30000);
    check();
  });
  player.muted = true;
  player.src = src;
  await until("loadedmetadata", () => player.readyState >= 1);
  await player.play();
  await until("timeupdate", () => player.currentTime > 0.2);
  player.pause();
  const seeked = until("seeked", () => !player.seeking && Math.abs(player.currentTime - at) < 0.5);
  player.currentTime = at;
  await seeked;
  const { duration, currentTime, videoWidth, videoHeight } = player;
  return { duration, at: currentTime, width: videoWidth, height: videoHeight };
}"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def phone_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What a phone's camera app hands the file picker: Safari's fragmented MP4
    (as its MediaRecorder writes it) and an iPhone's MOV held upright."""
    folder = tmp_path_factory.mktemp("phone")
    return {
        "safari-fragmented.mp4": make_video(
            folder / "safari-fragmented.mp4", fmt="mp4", fragmented=True, seconds=3.0, size=(320, 240)
        ),
        "iphone-portrait.mov": make_rotated(folder / "iphone-portrait.mov", rotation=-90, seconds=3.0),
    }


def open_page(browser: Browser, url: str) -> None:
    browser.goto(url)
    wait_for(browser, CAMERA_ON, what="the camera preview")


def submit_and_wait(browser: Browser, invite: Invite) -> None:
    wait_for(browser, SHOWN, "#submit", what="the Submit button")
    browser.click("#submit")
    wait_for(browser, DONE, timeout=UPLOAD_TIMEOUT, what="the thank-you page")
    assert browser.call(TEXT, "h1").startswith("Thank you")


def choose(browser: Browser, path: Path) -> None:
    browser.choose_file("#file", path)
    wait_for(browser, SHOWN, "#submit", what="the chosen file under review")
    assert path.name in browser.call(TEXT, "#status")


def the_upload(invite: Invite) -> Upload:
    uploads = list(Upload.objects.filter(invite=invite))
    assert len(uploads) == 1, uploads
    return uploads[0]


def processed(invite: Invite) -> Video:
    """The invite's answer, processed as the worker would (the test runs no worker)."""
    video = Video.objects.get(invite=invite)
    assert process_here(str(video.pk)) == "ready", Video.objects.filter(pk=video.pk).values("failure_reason")
    video.refresh_from_db()
    assert video.playback
    return video


# --- the device check ----------------------------------------------------------------------


def test_the_device_check_shows_the_camera_and_hears_the_microphone(
    candidate: Candidate, any_browser: Browser
) -> None:
    open_page(any_browser, candidate.url())
    assert "Your camera is on" in any_browser.call(TEXT, "#status")
    # Firefox starts a page's audio only after a click (or once the site has a camera
    # permission, which fake devices don't grant): the page resumes it on the first one.
    any_browser.click("h1")
    wait_for(any_browser, MIC_HEARD, timeout=15, what="the sound meter to move")
    # Looking costs nothing: no take is counted before "Start recording".
    candidate.invite.refresh_from_db()
    assert takes_used(candidate.invite) == 0


# --- recording ------------------------------------------------------------------------------


def record(browser: Browser, seconds: float = 4.0) -> None:
    browser.click("#start")
    wait_for(browser, SHOWN, "#stop", what="recording to start (after the countdown)")
    wait_for(browser, "() => document.getElementById('countdown').hidden", what="the countdown to end")
    browser.call(f"() => new Promise((resolve) => setTimeout(resolve, {int(seconds * 1000)}))")
    browser.click("#stop")


@pytest.mark.parametrize("any_browser", RECORDERS, indirect=True)
def test_a_recorded_answer_arrives_byte_for_byte_and_plays(
    candidate: Candidate, any_browser: Browser
) -> None:
    invite = candidate.invite
    open_page(any_browser, candidate.url())
    record(any_browser)
    wait_for(any_browser, SHOWN, "#playback", what="the take to review")
    kept: dict[str, Any] = wait_for(any_browser, KEPT, what="the take kept in IndexedDB")
    assert kept["size"] > 10_000 and kept["size"] == kept["declaredSize"], kept

    submit_and_wait(any_browser, invite)
    upload = the_upload(invite)
    assert upload.length == upload.offset == kept["size"]
    assert upload.sha256 == kept["sha256"]
    assert upload.filename == "answer.webm"
    video = processed(invite)
    assert video.video_codec in ("vp8", "vp9"), video.video_codec
    assert video.audio_codec == "opus", video.audio_codec
    assert video.duration_seconds is not None and 3 <= video.duration_seconds <= 7, video.duration_seconds
    invite.refresh_from_db()
    assert takes_used(invite) == 1


@pytest.mark.parametrize("any_browser", ["webkit"], indirect=True)
def test_a_recording_that_comes_out_empty_is_never_sent_and_the_file_picker_takes_its_place(
    candidate: Candidate, any_browser: Browser, phone_files: dict[str, Path]
) -> None:
    browser, invite = any_browser, candidate.invite
    open_page(browser, candidate.url())
    # WebKit, like Safari, records MP4 only, and the page asks for it.
    assert browser.call("() => MediaRecorder.isTypeSupported('video/webm')") is False
    assert browser.call("() => MediaRecorder.isTypeSupported('video/mp4')") is True
    browser.click("#start")
    wait_for(browser, SHOWN, "#stop", what="recording to start (after the countdown)")
    assert wait_for(browser, KEPT_TYPE, what="the take's type in IndexedDB") == "video/mp4"
    browser.call("() => new Promise((resolve) => setTimeout(resolve, 3000))")
    browser.click("#stop")
    outcome = wait_for(
        browser,
        """() => {
          const error = document.getElementById("error");
          if (!error.hidden && error.textContent) return "error: " + error.textContent;
          if (!document.getElementById("playback").hidden) return "recorded";
          return "";
        }""",
        what="the page's verdict on the take",
    )
    if outcome == "recorded":  # pragma: no cover - a WebKit whose GStreamer has isofmp4mux
        pytest.fail("WebKit recorded this time: the MP4 recorder path now needs its own assertions")
    # Plainly said, with the way out shown and focused, and nothing sent.
    assert "recorded nothing" in outcome and "choose a video file" in outcome, outcome
    assert browser.call(SHOWN, "#alternative")
    assert browser.call("() => document.activeElement && document.activeElement.id") == "file"
    assert "You have 3 of 3 takes left." in browser.call(TEXT, "#status")
    assert not Upload.objects.filter(invite=invite).exists()
    invite.refresh_from_db()
    assert takes_used(invite) == 1  # the server counted the attempt ...

    path = phone_files["safari-fragmented.mp4"]
    choose(browser, path)
    submit_and_wait(browser, invite)
    invite.refresh_from_db()
    assert takes_used(invite) == 1  # ... and the file was sent as that same take
    upload = the_upload(invite)
    assert upload.sha256 == sha256(path)
    assert processed(invite).video_codec == "h264"


@pytest.mark.parametrize("any_browser", ["webkit"], indirect=True)
def test_the_take_of_an_empty_recording_stays_unspent_after_a_reload(
    candidate: Candidate, any_browser: Browser, phone_files: dict[str, Path], settings: Settings
) -> None:
    """With one take allowed, an empty recording and a reload still leave the candidate their take."""
    settings.AURIO_MAX_ATTEMPTS = 1
    browser, invite = any_browser, candidate.invite
    open_page(browser, candidate.url())
    record(browser, seconds=1.0)
    wait_for(browser, SHOWN, "#error", what="the page's verdict on the take")
    assert "recorded nothing" in browser.call(TEXT, "#error")
    open_page(browser, candidate.url())  # the candidate reloads, as one does after an error
    assert "You have your one take left." in browser.call(TEXT, "#status")
    assert browser.call("() => document.getElementById('start').disabled") is False
    path = phone_files["safari-fragmented.mp4"]
    choose(browser, path)
    submit_and_wait(browser, invite)
    invite.refresh_from_db()
    assert takes_used(invite) == 1
    assert the_upload(invite).sha256 == sha256(path)


# A recorder that hands over a few bytes that are no video (as a half-working one might).
BROKEN_RECORDER = """(() => {
  class BrokenRecorder extends EventTarget {
    constructor(stream, options) { super(); this.state = "inactive"; this.mimeType = "video/webm"; }
    static isTypeSupported(type) { return /webm/.test(type); }
    start() { this.state = "recording"; }
    stop() {
      this.state = "inactive";
      const event = new Event("dataavailable");
      event.data = new Blob([new Uint8Array(37).fill(7)], { type: "video/webm" });
      this.dispatchEvent(event);
      this.dispatchEvent(new Event("stop"));
    }
  }
  window.MediaRecorder = BrokenRecorder;
})()"""


def test_a_recording_its_own_browser_cannot_play_is_never_sent(
    candidate: Candidate, browser_page: Any
) -> None:
    browser_page.add_init_script(BROKEN_RECORDER)
    browser, invite = ChromiumPage(browser_page), candidate.invite
    open_page(browser, candidate.url())
    record(browser, seconds=1.0)
    wait_for(browser, SHOWN, "#error", what="the page to notice the broken take")
    assert "came out broken" in browser.call(TEXT, "#error")
    assert not browser.call(SHOWN, "#submit")
    assert browser.call("() => document.activeElement && document.activeElement.id") == "file"
    assert "You have 3 of 3 takes left." in browser.call(TEXT, "#status")
    assert not Upload.objects.filter(invite=invite).exists()
    invite.refresh_from_db()
    assert takes_used(invite) == 1


def test_a_real_recording_the_player_stumbles_on_is_still_sent(
    candidate: Candidate, browser_page: Any
) -> None:
    """A player's failure is not the file's: an error on the review player (a decoder
    missing, a GPU fault) leaves a real take to be sent."""
    browser, invite = ChromiumPage(browser_page), candidate.invite
    open_page(browser, candidate.url())
    record(browser, seconds=2.0)
    kept: dict[str, Any] = wait_for(browser, KEPT, what="the take kept in IndexedDB")
    browser.call("() => document.getElementById('playback').dispatchEvent(new Event('error'))")
    assert browser.call(SHOWN, "#submit")
    assert not browser.call(SHOWN, "#error")
    submit_and_wait(browser, invite)
    assert the_upload(invite).sha256 == kept["sha256"]


def test_the_same_file_chosen_again_is_still_one_take(
    candidate: Candidate, browser_page: Any, phone_files: dict[str, Path]
) -> None:
    browser, invite = ChromiumPage(browser_page), candidate.invite
    open_page(browser, candidate.url())
    path = phone_files["iphone-portrait.mov"]
    for _ in range(3):
        choose(browser, path)
    invite.refresh_from_db()
    assert takes_used(invite) == 1
    submit_and_wait(browser, invite)
    assert the_upload(invite).sha256 == sha256(path)


def test_a_browser_that_records_only_mp4_sends_an_mp4_take(candidate: Candidate, browser_page: Any) -> None:
    """The page's MP4-recorder path with a recorder that really makes MP4: Chromium
    told, as Safari would say, that it records no WebM. (Debian's WebKit records
    nothing; Chromium's MP4 recorder writes fragmented MP4, as Safari's does.)"""
    browser_page.add_init_script(
        """(() => {
          const supported = MediaRecorder.isTypeSupported.bind(MediaRecorder);
          MediaRecorder.isTypeSupported = (type) => !/webm/i.test(type) && supported(type);
        })()"""
    )
    browser, invite = ChromiumPage(browser_page), candidate.invite
    open_page(browser, candidate.url())
    browser.click("#start")
    wait_for(browser, SHOWN, "#stop", what="recording to start (after the countdown)")
    assert wait_for(browser, KEPT_TYPE, what="the take's type in IndexedDB") == "video/mp4"
    browser.call("() => new Promise((resolve) => setTimeout(resolve, 4000))")
    browser.click("#stop")
    kept: dict[str, Any] = wait_for(browser, KEPT, what="the take kept in IndexedDB")
    submit_and_wait(browser, invite)
    upload = the_upload(invite)
    assert upload.filename == "answer.mp4"
    assert upload.sha256 == kept["sha256"]
    video = processed(invite)
    assert video.original_name.endswith(".mp4") and video.content_type == "video/mp4", video.content_type
    assert video.duration_seconds is not None and 3 <= video.duration_seconds <= 7, video.duration_seconds


# --- a file from a phone ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["safari-fragmented.mp4", "iphone-portrait.mov"])
def test_a_phone_video_goes_through_the_file_picker_byte_for_byte(
    candidate: Candidate, any_browser: Browser, phone_files: dict[str, Path], kind: str
) -> None:
    invite, path = candidate.invite, phone_files[kind]
    open_page(any_browser, candidate.url())
    choose(any_browser, path)
    submit_and_wait(any_browser, invite)
    upload = the_upload(invite)
    assert upload.filename == kind
    assert upload.length == upload.offset == path.stat().st_size
    assert upload.sha256 == sha256(path)
    video = processed(invite)
    assert video.video_codec == "h264" and video.audio_codec == "aac"
    assert 2.5 <= (video.duration_seconds or 0) <= 3.5, video.duration_seconds
    if kind == "iphone-portrait.mov":
        # The rendition stands upright, as the phone meant it.
        assert (video.playback_width, video.playback_height) == (240, 320)
    invite.refresh_from_db()
    assert takes_used(invite) == 1


# --- a cut connection ----------------------------------------------------------------------


@pytest.fixture
def real_chunk_bounds(settings: Settings) -> None:
    settings.AURIO_MIN_CHUNK_BYTES = MIN_CHUNK


@pytest.fixture(scope="module")
def larger_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1 MB: a dozen 64 KB PATCHes before and after the cut."""
    path = tmp_path_factory.mktemp("larger") / "answer.mp4"
    return make_video(path, fmt="mp4", fragmented=True, seconds=4.0, size=(640, 480), bitrate=2_000_000)


@pytest.mark.usefixtures("real_chunk_bounds")
def test_an_upload_cut_halfway_carries_on_from_where_it_stopped(
    candidate: Candidate, proxy: FaultProxy, any_browser: Browser, larger_take: Path
) -> None:
    invite, size = candidate.invite, larger_take.stat().st_size
    assert size > 12 * SMALL_CHUNK
    open_page(any_browser, candidate.url(proxy.url, chunk=SMALL_CHUNK))
    choose(any_browser, larger_take)
    # Halfway through, every connection drops and the network stays away for 2 s.
    proxy.cut_after(size // 2, refuse_for=2.0)
    submit_and_wait(any_browser, invite)
    assert proxy.cuts == 1
    tus = [r for r in proxy.requests if "/api/v1/tus/" in r.path]
    assert [r.method for r in tus].count("POST") == 1, tus
    resumed = next(i for i, r in enumerate(tus) if r.method == "HEAD")
    before = [r.offset for r in tus[:resumed] if r.method == "PATCH" and r.offset is not None]
    after = [r.offset for r in tus[resumed:] if r.method == "PATCH" and r.offset is not None]
    assert after and after[0] >= max(before) > 0, tus
    upload = the_upload(invite)
    assert upload.sha256 == sha256(larger_take)


# --- the recruiter's player ---------------------------------------------------------------


@pytest.fixture
def recruiter_in(live_server: LiveServer, any_browser: Browser) -> Iterator[Browser]:
    """The browser, signed in to the admin as a recruiter."""
    User.objects.create_superuser("rec", "rec@example.com", "pw")
    any_browser.goto(live_server.url + reverse("admin:login"))
    any_browser.call(
        """() => { document.getElementById("id_username").value = "rec";
                   document.getElementById("id_password").value = "pw"; }"""
    )
    any_browser.click("#login-form [type=submit]")
    wait_for(any_browser, "() => !!document.getElementById('user-tools')", what="the admin after logging in")
    yield any_browser


def answer_from(path: Path) -> Video:
    invite = invite_create(email="phone@example.com")
    video_accept_upload(invite=invite, upload=SimpleUploadedFile(path.name, path.read_bytes(), "video/mp4"))
    return processed(invite)


def test_the_original_and_the_rendition_play_and_seek(
    live_server: LiveServer, recruiter_in: Browser, phone_files: dict[str, Path], recorder_webm: Path
) -> None:
    browser = recruiter_in
    # An original of the kind this engine records: a recorder-style WebM (no duration, no
    # cues; made by FFmpeg) for Chromium and Firefox, Safari's fragmented MP4 for WebKit.
    made_here = phone_files["safari-fragmented.mp4"] if browser.engine == "webkit" else recorder_webm
    video = answer_from(made_here)
    assert video.playback and video.playback_url != video.stream_url
    browser.goto(live_server.url + reverse("videos:detail", args=[video.id]))
    wait_for(browser, SHOWN, "#player", what="the player")
    for name, url in (("original", video.stream_url), ("rendition", video.playback_url)):
        seen = browser.call(PLAY_AND_SEEK, url, 1.5)
        assert abs(seen["at"] - 1.5) < 0.15, (name, seen)
        assert abs(seen["duration"] - (video.duration_seconds or 0)) < 0.5, (name, seen)
        assert seen["width"] > 0 and seen["height"] > 0, (name, seen)


# --- an interview of several questions -------------------------------------------------------


def test_an_interview_of_two_questions_in_every_engine(
    live_server: LiveServer, any_browser: Browser, phone_files: dict[str, Path]
) -> None:
    """Each answer is sent in the background while the next question is on screen. Chromium
    and Firefox record; WebKit records nothing here, so it answers through the file picker."""
    from invites.models import Answer
    from tests.support.factories import make_interview

    interview = make_interview(
        title="Two questions",
        questions=[
            {"text": "What do you do?", "answer_seconds": 20, "thinking_seconds": 0},
            {"text": "What next?", "answer_seconds": 20, "thinking_seconds": 0},
        ],
    )
    invite = invite_create(email="cand@example.com", interview=interview)
    browser = any_browser
    webkit = browser.engine == "webkit"
    open_page(browser, live_server.url + reverse("invites:record", args=[invite.token]))
    for number, text in ((1, "What do you do?"), (2, "What next?")):
        wait_for(browser, TEXT_IS, "#question-heading", f"Question {number} of 2", what=f"question {number}")
        assert browser.call(TEXT, "#question-text") == text
        if webkit:
            choose(browser, phone_files["safari-fragmented.mp4"])
        else:
            wait_for(browser, CAMERA_ON, what="the camera preview")
            record(browser, seconds=2.0)
            wait_for(browser, SHOWN, "#playback", what="the take to review")
        wait_for(browser, SHOWN, "#submit", what="the Next question / Submit button")
        assert browser.call(TEXT, "#submit") == ("Next question" if number == 1 else "Submit")
        browser.click("#submit")
    wait_for(browser, DONE, timeout=UPLOAD_TIMEOUT, what="the thank-you page")
    answers = list(Answer.objects.filter(invite=invite).order_by("question__position"))
    assert [a.question.text for a in answers] == ["What do you do?", "What next?"]
    assert all(a.submission_id for a in answers)
    assert Video.objects.filter(invite=invite).count() == 2
