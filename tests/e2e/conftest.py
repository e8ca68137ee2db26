"""Browser fixtures: Playwright (sync API) driving Debian's Chromium.

Never `playwright install`: the browser is the system package at
/usr/bin/chromium. Chromium's fake camera and microphone stand in for real
devices, so the recording page runs end to end without hardware.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

# Playwright's sync API runs an event loop in the test's thread, which makes
# Django refuse ORM calls made from the test itself.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
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


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


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
    yield page
    context.close()


# Named apart from pytest-playwright's fixtures, should that plugin ever be installed.
@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    yield from _new_page(chromium)


@pytest.fixture
def denied_page(chromium_without_media_permission: Browser) -> Iterator[Page]:
    yield from _new_page(chromium_without_media_permission, permissions=[])


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Keeps a picture of the page when AURIO_E2E_SCREENSHOTS names a folder."""
    folder = os.environ.get("AURIO_E2E_SCREENSHOTS")

    def save(page: Page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return save
