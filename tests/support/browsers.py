"""The three browser engines behind one small interface, for tests that must
hold in every engine a candidate or a recruiter may use.

- **Chromium**: Debian's /usr/bin/chromium through Playwright (tests/e2e/conftest.py).
- **Firefox**: Debian's firefox-esr, spoken to over WebDriver BiDi directly.
  Firefox serves BiDi itself (`--remote-debugging-port`), so no geckodriver is
  needed; Playwright's own Firefox build can't be downloaded here and its
  "moz-firefox" channel needs a newer Firefox than ESR. The client below is the
  handful of BiDi commands the tests use, over `websocket-client` (which
  Selenium brings along), so the suite needs no Node.js.
- **WebKit** (Safari's engine): WebKitGTK's MiniBrowser through Debian's
  WebKitWebDriver and Selenium, on an Xvfb display of its own.

Each engine fakes a camera and a microphone and allows them without asking.
A `Browser` is one fresh page (no cookies, no IndexedDB from other tests);
`call` runs a JavaScript function (async or not) in it and returns its JSON
result.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

FIREFOX = Path("/usr/bin/firefox-esr")
WEBKIT_DRIVER = Path("/usr/bin/WebKitWebDriver")


def _multiarch(path: str) -> Path:
    """`path` under Debian's library folder for this machine (x86_64-linux-gnu, aarch64-linux-gnu…)."""
    found = sorted(Path("/usr/lib").glob(f"*-linux-gnu*/{path}"))
    return found[0] if found else Path("/usr/lib/x86_64-linux-gnu") / path


MINIBROWSER = _multiarch("webkit2gtk-4.1/MiniBrowser")
XVFB = Path("/usr/bin/Xvfb")
WEBKIT_DRIVER_ENDING_WITH_US = Path(__file__).resolve().parent / "bin" / "webkit-webdriver"
# What a fresh machine installs for each engine (scripts/install-test-deps).
PACKAGES = {
    "firefox": ["firefox-esr"],
    "webkit": [
        "webkit2gtk-driver",
        "xvfb",
        "gstreamer1.0-plugins-good",
        "gstreamer1.0-plugins-bad",
        "gstreamer1.0-plugins-ugly",
        "gstreamer1.0-libav",
    ],
}
GSTREAMER = _multiarch("gstreamer-1.0")
MISSING = {
    "firefox": [FIREFOX],
    "webkit": [
        WEBKIT_DRIVER,
        MINIBROWSER,
        XVFB,
        # MP4 (good), H.264 decoding (libav) and encoding (ugly): what WebKit plays and records with.
        GSTREAMER / "libgstisomp4.so",
        GSTREAMER / "libgstlibav.so",
        GSTREAMER / "libgstx264.so",
    ],
}

FIREFOX_PREFS = {
    # A fake camera (a coloured picture) and microphone (a tone), allowed without a prompt.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # No sound card here: without a mock audio output, Web Audio never leaves "suspended".
    "media.cubeb.force_mock_context": True,
    # Players may start without a click, as a test's play() has none.
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    # No first-run pages, updates or reports.
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
}
WEBKIT_ARGS = [
    "--automation",
    "--enable-media-stream=true",
    "--enable-mock-capture-devices=true",
    "--media-playback-requires-user-gesture=false",
]


def _ending_with_us(argv: list[str]) -> list[str]:
    """`argv` run so that it ends when the test run does, even a killed one (whose own
    teardown never runs): util-linux's setpriv sets the parent-death signal, then execs."""
    return ["setpriv", "--pdeathsig", "TERM", "--", *argv]


class BrowserError(RuntimeError):
    """The browser refused a command, or a script in the page threw."""


class Browser(Protocol):
    """One page in one engine."""

    engine: str

    def goto(self, url: str) -> None: ...

    def call(self, function: str, *args: Any) -> Any:
        """Run `function` (JavaScript source of a function, async or not) with `args`; its result."""
        ...

    def click(self, selector: str) -> None:
        """Click the element as a user would (a real pointer click, not element.click())."""
        ...

    def choose_file(self, selector: str, path: Path) -> None: ...

    def log(self) -> list[str]:
        """What the page wrote to its console, for a failing test's report."""
        ...


def missing(engine: str) -> str | None:
    """Why `engine` can't run on this machine, or None."""
    absent = [str(p) for p in MISSING[engine] if not p.exists()]
    if not absent:
        return None
    packages = " ".join(PACKAGES[engine])
    return f"{', '.join(absent)} missing: install Debian's {packages} (scripts/install-test-deps)"


def wait_for(browser: Browser, function: str, *args: Any, timeout: float = 30.0, what: str = "") -> Any:
    """Call `function` in the page until it returns something truthy; that value.

    A call that fails (the page is between two documents, or not yet in the
    state the function reads) counts as not yet."""
    deadline = time.monotonic() + timeout
    failed = ""
    while True:
        try:
            value = browser.call(function, *args)
        except BrowserError as error:
            value, failed = None, f" (last call failed: {error})"
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{browser.engine}: timed out after {timeout:.0f} s waiting for {what or function}{failed}\n"
                + "\n".join(browser.log()[-30:])
            )
        time.sleep(0.1)


# --- Firefox over WebDriver BiDi ----------------------------------------------------------


def _serialize(value: Any) -> dict[str, Any]:
    """A Python value as a BiDi LocalValue."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [_serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(k), _serialize(v)] for k, v in value.items()]}
    raise TypeError(f"can't send {type(value).__name__} to the page")


def _deserialize(remote: dict[str, Any]) -> Any:
    """A BiDi RemoteValue as a Python value (nodes and other handles as the remote dict)."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        value = remote["value"]
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf"), "-0": 0.0}.get(
            value, value
        )
    if kind in ("array", "set"):
        return [_deserialize(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k: _deserialize(v) for k, v in remote.get("value", [])}
    return remote


class BiDi:
    """A WebDriver BiDi session over one WebSocket: commands wait for their
    answer; events that arrive meanwhile go to `on_event`."""

    def __init__(self, url: str, on_event: Callable[[dict[str, Any]], None]):
        import websocket

        self._socket = websocket.create_connection(url, timeout=120, suppress_origin=True)
        self._next = 0
        self._lock = threading.Lock()
        self._on_event = on_event

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            command = self._next
            self._socket.send(json.dumps({"id": command, "method": method, "params": params}))
            while True:
                message = json.loads(self._socket.recv())
                if message.get("type") == "event":
                    self._on_event(message)
                elif message.get("id") == command:
                    if message.get("type") == "error":
                        raise BrowserError(f"{method}: {message.get('error')}: {message.get('message')}")
                    return dict(message["result"])

    def close(self) -> None:
        self._socket.close()


class FirefoxProcess:
    """One headless firefox-esr with a throwaway profile, and its BiDi session."""

    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="aurio-firefox-"))
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items())
        )
        self.events: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            _ending_with_us(
                [str(FIREFOX), "--headless", "--no-remote", "--profile", str(self.profile)]
                + ["--remote-debugging-port=0"]  # a free port, which it then announces
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            address = self._listening_on()
            self.bidi = BiDi(f"{address}/session", self.events.append)
            self.bidi.send(
                "session.new",
                capabilities={"alwaysMatch": {"unhandledPromptBehavior": {"default": "accept"}}},
            )
            self.bidi.send("session.subscribe", events=["log.entryAdded"])
        except BaseException:
            self.close()
            raise

    def _listening_on(self, timeout: float = 60.0) -> str:
        assert self.process.stderr is not None
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            seen.append(line.rstrip())
            found = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
            if found:
                # Keep reading what Firefox says, so a full pipe never blocks it.
                threading.Thread(target=self._drain, daemon=True).start()
                return found.group(1).rstrip("/")
        raise BrowserError("firefox-esr did not start WebDriver BiDi:\n" + "\n".join(seen[-20:]))

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for _ in self.process.stderr:
            pass

    @contextmanager
    def page(self) -> Iterator[FirefoxPage]:
        """A tab in a user context of its own: its own cookies and storage."""
        user_context = self.bidi.send("browser.createUserContext")["userContext"]
        context = self.bidi.send("browsingContext.create", type="tab", userContext=user_context)["context"]
        try:
            yield FirefoxPage(self, context)
        finally:
            self.bidi.send("browser.removeUserContext", userContext=user_context)

    def close(self) -> None:
        try:
            if hasattr(self, "bidi"):
                self.bidi.send("browser.close")
                self.bidi.close()
        except Exception:  # noqa: BLE001 - the process is stopped below either way
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class FirefoxPage:
    engine = "firefox"

    def __init__(self, firefox: FirefoxProcess, context: str):
        self._firefox = firefox
        self._bidi = firefox.bidi
        self.context = context

    def goto(self, url: str) -> None:
        self._bidi.send("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def _call(self, function: str, args: list[dict[str, Any]]) -> dict[str, Any]:
        answer = self._bidi.send(
            "script.callFunction",
            functionDeclaration=function,
            arguments=args,
            awaitPromise=True,
            target={"context": self.context},
            resultOwnership="none",
        )
        if answer["type"] == "exception":
            details = answer["exceptionDetails"]
            raise BrowserError(f"firefox: the page threw: {details.get('text')}")
        return dict(answer["result"])

    def call(self, function: str, *args: Any) -> Any:
        return _deserialize(self._call(function, [_serialize(a) for a in args]))

    def _element(self, selector: str, *, into_view: bool = False) -> dict[str, Any]:
        find = "(s) => document.querySelector(s)"
        if into_view:
            find = """(s) => { const e = document.querySelector(s);
                              e && e.scrollIntoView({block: "center"}); return e; }"""
        node = self._call(find, [_serialize(selector)])
        if node["type"] != "node":
            raise BrowserError(f"firefox: no element matches {selector!r}")
        return {"sharedId": node["sharedId"]}

    def click(self, selector: str) -> None:
        element = self._element(selector, into_view=True)
        self._bidi.send(
            "input.performActions",
            context=self.context,
            actions=[
                {
                    "type": "pointer",
                    "id": "mouse",
                    "actions": [
                        {
                            "type": "pointerMove",
                            "x": 0,
                            "y": 0,
                            "origin": {"type": "element", "element": element},
                        },  # noqa: E501
                        {"type": "pointerDown", "button": 0},
                        {"type": "pointerUp", "button": 0},
                    ],
                }
            ],
        )

    def choose_file(self, selector: str, path: Path) -> None:
        element = self._element(selector)
        self._bidi.send("input.setFiles", context=self.context, element=element, files=[str(path)])

    def log(self) -> list[str]:
        logged = [e["params"] for e in self._firefox.events if e.get("method") == "log.entryAdded"]
        entries = [e for e in logged if e.get("source", {}).get("context") == self.context]
        return [f"[console.{e.get('level')}] {e.get('text')}" for e in entries]


# --- WebKit through WebKitWebDriver ---------------------------------------------------------


class Display:
    """An Xvfb server of its own (MiniBrowser needs an X display even unseen)."""

    def __init__(self) -> None:
        read, write = os.pipe()
        argv = [str(XVFB), "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"]
        self.process = subprocess.Popen(
            _ending_with_us(argv),
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as announced:
            ready, _, _ = select.select([announced], [], [], 30)
            number = announced.readline().strip() if ready else ""
        if not number:
            self.close()
            raise BrowserError("Xvfb did not start")
        self.name = f":{number}"

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WebKitPage:
    """A fresh MiniBrowser (a WebDriver session of its own) on `display`."""

    engine = "webkit"

    def __init__(self, display: Display):
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        options = Options()
        options.binary_location = str(MINIBROWSER)
        for arg in WEBKIT_ARGS:
            options.add_argument(arg)
        # WebKitWebDriver, through a script that makes it end with the test run.
        service = Service(str(WEBKIT_DRIVER_ENDING_WITH_US), env={**os.environ, "DISPLAY": display.name})
        self.driver = webdriver.WebKitGTK(options=options, service=service)
        self.driver.set_script_timeout(120)
        self._console: list[str] = []

    def goto(self, url: str) -> None:
        self.driver.get(url)
        # Console messages are not offered by WebKitWebDriver: keep them in the page.
        self.driver.execute_script(
            """
            if (window.__console) return;
            window.__console = [];
            for (const level of ["log", "warn", "error"]) {
              const original = console[level].bind(console);
              console[level] = (...args) => { window.__console.push(`[console.${level}] ${args.join(" ")}`);
                                              original(...args); };
            }
            window.addEventListener("error", (e) => window.__console.push(`[pageerror] ${e.message}`));
            """
        )

    def call(self, function: str, *args: Any) -> Any:
        from selenium.common.exceptions import JavascriptException

        try:
            # Execute Script awaits a returned promise (W3C WebDriver).
            return self.driver.execute_script(f"return ({function}).apply(null, arguments)", *args)
        except JavascriptException as error:
            raise BrowserError(f"webkit: the page threw: {error.msg}") from None

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def choose_file(self, selector: str, path: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

    def log(self) -> list[str]:
        try:
            return list(self.driver.execute_script("return window.__console || []"))
        except Exception:  # noqa: BLE001 - the report is a courtesy; the test has failed already
            return []

    def close(self) -> None:
        self.driver.quit()


# --- Chromium through Playwright -------------------------------------------------------------


class ChromiumPage:
    """A Playwright page (tests/e2e/conftest.py makes it) behind the same interface."""

    engine = "chromium"

    def __init__(self, page: Any):
        self.page = page
        self._console: list[str] = []
        page.on("console", lambda message: self._console.append(f"[console.{message.type}] {message.text}"))

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def call(self, function: str, *args: Any) -> Any:
        from playwright.sync_api import Error

        try:
            return self.page.evaluate(f"(args) => ({function}).apply(null, args)", list(args))
        except Error as error:
            raise BrowserError(f"chromium: {error.message}") from None

    def click(self, selector: str) -> None:
        self.page.click(selector)

    def choose_file(self, selector: str, path: Path) -> None:
        self.page.set_input_files(selector, str(path))

    def log(self) -> list[str]:
        return self._console
