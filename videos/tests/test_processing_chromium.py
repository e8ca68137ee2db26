"""A real Chromium MediaRecorder take through processing, and the rendition
played back in Chromium.

Chromium's fake devices stand in for a camera and microphone: the picture is
a green frame with a moving shape and a clock, the sound a short beep every
second. So the expected suggestion is "pass: no speech detected", on a
picture that is not dark.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import av
import pytest
from pytest_django import Settings

from invites.models import Invite
from tests.support.ci import require
from tests.support.factories import store_video, stored_names
from videos import processing
from videos.models import Status, Tag

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

RECORDER_PAGE = """<!doctype html><script>
async function record(ms) {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true});
  const recorder = new MediaRecorder(stream, {mimeType: "video/webm;codecs=vp8,opus"});
  const parts = [];
  recorder.ondataavailable = (event) => parts.push(event.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  recorder.start(1000);
  await new Promise((resolve) => setTimeout(resolve, ms));
  recorder.stop();
  await stopped;
  const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text);
}
</script>"""

PLAYER_PAGE = '<!doctype html><video id="v" src="playback.mp4" poster="poster.jpg" muted></video>'


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        require(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM then
    # needs to be told that the test's own calls are fine.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def chromium_take(browser, tmp_path_factory: pytest.TempPathFactory) -> bytes:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("recorder")
    (folder / "record.html").write_text(RECORDER_PAGE)
    page = browser.new_page()
    page.goto((folder / "record.html").as_uri())
    data = base64.b64decode(page.evaluate("record(5000)"))
    page.close()
    return data


def test_a_chromium_recording_is_processed(
    chromium_take: bytes, invite: Invite, settings: Settings, tmp_path: Path
) -> None:
    video = store_video(invite, chromium_take)
    assert processing.process(str(video.pk)) == "ready"
    video.refresh_from_db()
    assert video.status == Status.READY
    assert (video.video_codec, video.audio_codec) == ("vp8", "opus")
    assert video.duration_seconds == pytest.approx(5.0, abs=0.6)
    assert stored_names(video) == ["original.webm", "playback-1.mp4", "poster-1.jpg"]
    assert video.suggested_tag == Tag.PASS
    assert video.suggestion_reasons == ["no speech detected"]
    assert video.analysis["dark_ratio"] < 0.2  # the green test picture is lit


def test_the_rendition_of_a_chromium_recording_plays_and_seeks_in_chromium(
    browser,  # type: ignore[no-untyped-def]
    chromium_take: bytes,
    invite: Invite,
    tmp_path: Path,
) -> None:
    video = store_video(invite, chromium_take)
    processing.process(str(video.pk))
    video.refresh_from_db()
    for field, name in ((video.playback, "playback.mp4"), (video.poster, "poster.jpg")):
        with field.storage.open(field.name, "rb") as f:
            (tmp_path / name).write_bytes(f.read())
    with av.open(str(tmp_path / "playback.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    (tmp_path / "player.html").write_text(PLAYER_PAGE)
    page = browser.new_page()
    page.goto((tmp_path / "player.html").as_uri())
    page.wait_for_function("document.getElementById('v').readyState >= 1")
    assert page.evaluate("document.getElementById('v').duration") == pytest.approx(5.0, abs=0.6)
    page.evaluate("document.getElementById('v').play()")
    page.wait_for_function("document.getElementById('v').currentTime > 0.3")
    page.evaluate("document.getElementById('v').currentTime = 3.5")
    page.wait_for_function("Math.abs(document.getElementById('v').currentTime - 3.5) < 1")
    assert page.evaluate("document.getElementById('v').error") is None
    assert page.evaluate("document.getElementById('v').videoWidth") == 640
    page.close()
