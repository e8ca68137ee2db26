"""Browser fixtures: Playwright (sync API) driving Debian's Chromium, and
`any_browser`, one page in each of Chromium, Firefox and WebKit behind the small
interface of tests/support/browsers.py.

Never `playwright install`: the browser is the system package at
/usr/bin/chromium. Chromium's fake cameras (two of them, so the page offers a
choice) and microphones stand in for real devices, so the recording page runs
end to end without hardware. `proxy` puts a fault-injecting proxy between the
browser and the live server (tests/support/faultproxy.py); `candidate` is a
candidate with an invite, whose record page a test opens directly or through it.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from pytest_django.live_server_helper import LiveServer

from invites.services import invite_create
from tests.e2e.record_page import Candidate
from tests.support import browsers
from tests.support.ci import require
from tests.support.faultproxy import FaultProxy, fault_proxy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

# Playwright's sync API runs an event loop in the test's thread, which makes
# Django refuse ORM calls made from the test itself.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream=device-count=2",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Answers every camera/microphone prompt with "allow".
ALLOW_MEDIA = "--use-fake-ui-for-media-stream"
TIMEOUT_MS = 30_000
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        require(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def _launch(playwright: Playwright, *extra_args: str) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


@pytest.fixture(scope="session")
def chromium(playwright_session: Playwright) -> Iterator[Browser]:
    """A browser whose camera and microphone are fake and always allowed."""
    browser = _launch(playwright_session, ALLOW_MEDIA)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def chromium_without_media_permission(playwright_session: Playwright) -> Iterator[Browser]:
    """A browser that grants no camera or microphone: getUserMedia is refused."""
    browser = _launch(playwright_session)
    yield browser
    browser.close()


def _new_page(browser: Browser, **context_options: object) -> Iterator[Page]:
    context = browser.new_context(**context_options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # Printed only when a test fails (pytest captures it): the page's own view.
    page.on("console", lambda msg: print(f"[console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: print(f"[pageerror] {exc}"))
    page.on("response", lambda r: print(f"[response] {r.status} {r.request.method} {r.url}"))
    # The record page asks before leaving with an unsent take; tests that reload mean it.
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


# Named apart from pytest-playwright's fixtures, should that plugin ever be installed.
@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    yield from _new_page(chromium)


@pytest.fixture
def phone_page(chromium: Browser) -> Iterator[Page]:
    yield from _new_page(chromium, **PHONE)


def _dark_and_silent_files(folder: Path) -> tuple[Path, Path]:
    """A black picture (Y4M) and silence (WAV), for Chromium's fake camera and microphone
    to play in a loop: a covered camera and a muted microphone."""
    width, height = 320, 240
    video = folder / "black.y4m"
    with video.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        frame = bytes([16]) * (width * height) + bytes([128]) * (width * height // 2)
        for _ in range(15):
            f.write(b"FRAME\n" + frame)
    audio = folder / "silence.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"\0\0" * 48_000)
    return video, audio


@pytest.fixture(scope="session")
def chromium_dark_and_silent(
    playwright_session: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """A browser whose fake camera sees only black and whose fake microphone hears nothing."""
    video, audio = _dark_and_silent_files(tmp_path_factory.mktemp("fake-devices"))
    browser = _launch(
        playwright_session,
        ALLOW_MEDIA,
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}",
    )
    yield browser
    browser.close()


@pytest.fixture
def dark_and_silent_page(chromium_dark_and_silent: Browser) -> Iterator[Page]:
    yield from _new_page(chromium_dark_and_silent)


@pytest.fixture
def denied_page(chromium_without_media_permission: Browser) -> Iterator[Page]:
    yield from _new_page(chromium_without_media_permission, permissions=[])


@pytest.fixture(scope="session")
def firefox() -> Iterator[browsers.FirefoxProcess]:
    require(browsers.missing("firefox"))
    process = browsers.FirefoxProcess()
    yield process
    process.close()


@pytest.fixture(scope="session")
def x_display() -> Iterator[browsers.Display]:
    require(browsers.missing("webkit"))
    display = browsers.Display()
    yield display
    display.close()


ENGINES = ["chromium", "firefox", "webkit"]


@pytest.fixture(params=ENGINES)
def any_browser(request: pytest.FixtureRequest) -> Iterator[browsers.Browser]:
    """A fresh page in each engine in turn (narrow it with
    `@pytest.mark.parametrize("any_browser", [...], indirect=True)`)."""
    page: browsers.Browser
    on_sqlite = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    if request.param != "chromium" and not on_sqlite:
        # What differs between engines is the page and the player, not the database:
        # Firefox and WebKit run once per `make test`, in the SQLite run, to keep CI short.
        pytest.skip("Firefox and WebKit run in the SQLite run only")
    if request.param == "chromium":
        page = browsers.ChromiumPage(request.getfixturevalue("browser_page"))
        yield page
    elif request.param == "firefox":
        with request.getfixturevalue("firefox").page() as page:
            yield page
    else:
        page = browsers.WebKitPage(request.getfixturevalue("x_display"))
        try:
            yield page
        finally:
            print("\n".join(page.log()))  # shown when the test failed
            page.close()
        return
    print("\n".join(page.log()))


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Keeps a picture of the page when AURIO_E2E_SCREENSHOTS names a folder."""
    folder = os.environ.get("AURIO_E2E_SCREENSHOTS")

    def save(page: Page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return save


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the live server; open pages at `proxy.url`."""
    host = live_server.thread.host  # type: ignore[attr-defined]
    with fault_proxy("127.0.0.1" if host == "localhost" else host, live_server.thread.port) as p:  # type: ignore[attr-defined]
        yield p


@pytest.fixture
def candidate(transactional_db: None, live_server: LiveServer) -> Candidate:
    """A candidate with an open invite; `candidate.open(page)` shows them their record page."""
    return Candidate(invite_create(email="cand@example.com", name="Cand"), live_server.url)
