"""Every page a person sees, in Chromium, under aurio's Content-Security-Policy.

The policy forbids inline script and style (script-src/style-src 'self'), so
anything that needs them shows up here: a `securitypolicyviolation` event, or
the console error the browser prints when it blocks something or a script
breaks. Each page is visited until it is really in use (camera on, video
playing, Swagger UI drawn from the schema) and must produce neither.

The last test puts markup in every field a candidate or their browser chooses
(name, filename) and every string the processing writes (failure reason,
suggestion reasons) and checks it shows as text, with no dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from aurio.models import ApiToken
from invites.models import Invite
from invites.services import invite_create, invite_revoke
from tests.e2e.conftest import TIMEOUT_MS
from tests.support.factories import store_video
from uploads.models import Upload
from videos import processing
from videos.models import Status, Video

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Installed before any of the page's own code runs, in every document.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline code"}` +
    ` (${event.sourceFile || "page"}:${event.lineNumber})`);
});
"""

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
NEXT_TASKS = "new Promise((resolve) => setTimeout(() => setTimeout(resolve, 0), 0))"
# Resolves once the video has reached `state`, checked at each of its events.
# (wait_for_function would evaluate a string, which the policy rightly refuses.)
UNTIL = """
(v, state) => new Promise((resolve, reject) => {
  const [event, reached] = {
    playing: ["timeupdate", () => v.currentTime > 0.2],
    seeked: ["seeked", () => !v.seeking],
    loaded: ["loadedmetadata", () => v.readyState >= 1],
  }[state];
  const check = () => reached() && resolve();
  v.addEventListener(event, check);
  v.addEventListener("error", () => reject(new Error(`media error ${v.error && v.error.code}`)));
  check();
})
"""
# Elements the markup above would have made, had it reached the page as HTML.
BECAME_ELEMENTS = """
[...document.querySelectorAll("img, script")].filter(
  (e) => e.getAttribute("src") === "x" || e.textContent.includes("alert(1)")).length
"""


@dataclass
class Watched:
    """A page whose CSP violations, console errors, page errors and dialogs are recorded."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        # An error page's own status is reported as a failed load of the document: expected.
        document_status = (
            message.location.get("url") == self.page.url and "Failed to load resource" in message.text
        )
        if message.type == "error" and not document_status:
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, path: str, ready: Callable[[Page], None] | None = None, status: int = 200) -> list[str]:
        """Open `path`, wait until it is in use, and return what went wrong there."""
        self.problems.clear()
        response = self.page.goto(self.base_url + path, wait_until="load")
        assert response is not None
        if response.status != status:
            self.problems.append(f"answered {response.status}, not {status}")
        if ready is not None:
            ready(self.page)
        # A violation event is a task queued after the work that caused it:
        # let the tasks queued so far run before reading them.
        self.page.evaluate(NEXT_TASKS)
        found = self.page.evaluate("window.__violations || ['no violation listener in this document']")
        return [f"{path}: {problem}" for problem in [*found, *self.problems]]

    def visit_all(self, paths: list[str]) -> list[str]:
        return [problem for path in paths for problem in self.visit(path)]


@pytest.fixture
def watched(chromium: Browser, live_server: LiveServer) -> Iterator[Watched]:
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    watched = Watched(page=page, base_url=live_server.url)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("dialog", watched.on_dialog)
    yield watched
    context.close()


def log_in(watched: Watched, user: User) -> None:
    """Give the browser a staff session (the login form itself is visited on its own)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    watched.page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": watched.base_url, "httpOnly": True}]
    )


def camera_ready(page: Page) -> None:
    expect(page.locator("#start")).to_be_enabled()


def ready_video(invite: Invite, clip: Path) -> Video:
    """A video processed in full: poster, MP4 rendition and suggestion."""
    video = store_video(invite, clip.read_bytes(), extension="mp4")
    assert processing.process(str(video.pk)) == "ready"
    video.refresh_from_db()
    assert video.playback and video.poster
    return video  # type: ignore[no-any-return]


# --- candidate pages ------------------------------------------------------------


def test_candidate_pages_run_without_csp_violations_errors_or_referers(
    watched: Watched, recruiter: User, media_root: Path, plain_mp4: Path
) -> None:
    live = invite_create(email="open@example.com", name="Ada", created_by=recruiter)
    expired = invite_create(
        email="late@example.com", expires_at=timezone.now() + timedelta(days=1), created_by=recruiter
    )
    Invite.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    revoked = invite_create(email="gone@example.com", created_by=recruiter)
    invite_revoke(invite=revoked)
    submitted = invite_create(email="done@example.com", created_by=recruiter)
    store_video(submitted, plain_mp4.read_bytes(), extension="mp4")
    Invite.objects.filter(pk=submitted.pk).update(submitted_at=timezone.now())

    # What the record page's own requests (styles, scripts, API calls) tell the server.
    referers: dict[str, str | None] = {}
    watched.page.on(
        "request", lambda request: referers.setdefault(request.url, request.headers.get("referer"))
    )
    problems = watched.visit(reverse("invites:record", args=[live.token]), ready=camera_ready)
    loaded = [url for url in referers if url.startswith(watched.base_url) and "/r/" not in url]
    assert any(url.endswith("/record.js") for url in loaded)
    # no-referrer: the link is not repeated in any request, so in no log line either.
    assert {url: referers[url] for url in loaded if referers[url]} == {}

    problems += [
        *watched.visit(reverse("invites:record", args=[expired.token]), status=410),
        *watched.visit(reverse("invites:record", args=[revoked.token]), status=410),
        *watched.visit(reverse("invites:record", args=["x" * 32]), status=404),
        *watched.visit(reverse("invites:done", args=[live.token]), status=410),
        *watched.visit(reverse("invites:done", args=[submitted.token])),
        *watched.visit(reverse("invites:record", args=[submitted.token])),
    ]
    assert problems == []
    # The last page said what it is (not an error page that happened to be clean).
    expect(watched.page.locator("h1")).to_contain_text("Thank you")


# --- staff pages -----------------------------------------------------------------


def admin_pages(invite: Invite, video: Video, upload: Upload, token: ApiToken, user: User) -> list[str]:
    """Every kind of admin page a recruiter or an operator opens: each model's
    list and form, the add forms, one of each of Django's other admin pages
    (same templates for every model), and the lists filtered and searched."""
    year = timezone.now().year
    pages = [
        reverse("admin:index"),
        reverse("admin:app_list", args=["videos"]),
        reverse("admin:password_change"),
        reverse("admin:invites_invite_history", args=[invite.pk]),
        reverse("admin:auth_user_password_change", args=[user.pk]),
        reverse("admin:aurio_apitoken_delete", args=[token.pk]),
        reverse("admin:invites_invite_add"),
        reverse("admin:auth_user_add"),
        # Interviews: the builder (its ↑/↓ script), duplicating, inviting a list.
        reverse("admin:interviews_interview_changelist"),
        reverse("admin:interviews_interview_add"),
        reverse("admin:interviews_interview_change", args=[invite.interview_id]),
        reverse("admin:interviews_interview_duplicate", args=[invite.interview_id]),
        reverse("admin:invites_invite_bulk"),
    ]
    for model, obj in (
        ("invites_invite", invite),
        ("videos_video", video),
        ("uploads_upload", upload),
        ("aurio_apitoken", token),
        ("auth_user", user),
    ):
        pages += [reverse(f"admin:{model}_changelist"), reverse(f"admin:{model}_change", args=[obj.pk])]
    return [
        *pages,
        reverse("admin:invites_invite_changelist") + "?status=open&videos__tag=pending&q=cand&o=-3",
        reverse("admin:videos_video_changelist")
        + f"?tag__exact=pending&status__exact=ready&q=cand&created_at__year={year}",
    ]


def test_admin_pages_run_without_csp_violations_or_errors(
    watched: Watched, recruiter: User, invite: Invite, media_root: Path, plain_mp4: Path
) -> None:
    problems = watched.visit(reverse("admin:login"))
    video = ready_video(invite, plain_mp4)
    upload = Upload.objects.create(invite=invite, length=100, offset=50, filename="take.webm")
    token = ApiToken.issue(recruiter)[0]
    log_in(watched, recruiter)

    problems += watched.visit_all(admin_pages(invite, video, upload, token, recruiter))
    assert problems == []


def test_admin_widgets_and_copy_button_work_under_the_policy(
    watched: Watched, recruiter: User, invite: Invite
) -> None:
    log_in(watched, recruiter)
    page = watched.page
    problems = watched.visit(reverse("admin:invites_invite_changelist"))
    page.locator(".aurio-copy").first.click()
    expect(page.locator(".aurio-copy").first).to_have_text("Copied ✓")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")

    problems += watched.visit(reverse("admin:invites_invite_add"))
    page.locator(".datetimeshortcuts a", has_text="Today").click()
    page.locator(".datetimeshortcuts .clock-icon").first.click()
    page.locator(".clockbox").first.get_by_text("Noon").click()
    page.locator(".datetimeshortcuts .date-icon").first.click()
    expect(page.locator(".calendarbox").first).to_be_visible()
    problems += [*page.evaluate("window.__violations"), *watched.problems]
    assert problems == []


def test_review_page_plays_the_rendition_with_its_poster_under_the_policy(
    watched: Watched, recruiter: User, invite: Invite, media_root: Path, plain_mp4: Path
) -> None:
    video = ready_video(invite, plain_mp4)
    log_in(watched, recruiter)

    def playing(page: Page) -> None:
        player = page.locator("#player")
        expect(player).to_have_attribute("src", reverse("api:playback_video", args=[video.id]))
        expect(player).to_have_attribute("poster", reverse("api:video_poster", args=[video.id]))
        player.evaluate("v => { v.muted = true; return v.play(); }")
        player.evaluate(UNTIL, "playing")
        # Seek, as a reviewer does: a Range request for the middle of the file.
        player.evaluate("v => { v.currentTime = 1; }")
        player.evaluate(UNTIL, "seeked")
        poster = page.evaluate(
            "src => new Promise((ok, no) => { const i = new Image(); i.onload = () => ok(i.naturalWidth);"
            " i.onerror = no; i.src = src; })",
            video.poster_url,
        )
        assert poster > 0

    assert watched.visit(reverse("videos:detail", args=[video.id]), ready=playing) == []


def test_review_page_of_an_unprocessed_video_plays_the_original_under_the_policy(
    watched: Watched, recruiter: User, invite: Invite, media_root: Path, recorder_webm: Path
) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    assert video.status == Status.UPLOADED  # type: ignore[attr-defined]
    log_in(watched, recruiter)

    def loaded(page: Page) -> None:
        expect(page.locator("#player")).to_have_attribute("src", reverse("api:stream_video", args=[video.id]))
        page.locator("#player").evaluate(UNTIL, "loaded")

    path = reverse("videos:detail", args=[video.id])  # type: ignore[attr-defined]
    assert watched.visit(path, ready=loaded) == []


def test_api_docs_draw_the_schema_under_the_policy(watched: Watched) -> None:
    def drawn(page: Page) -> None:
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("aurio API")
        page.locator(".opblock-summary", has_text="/api/v1/invites/{token}").first.click()
        expect(page.locator(".opblock-body").first).to_be_visible()

    assert watched.visit("/api/v1/docs", ready=drawn) == []


# --- media opened as a page ------------------------------------------------------------

# A WebM's first bytes followed by HTML: what a polyglot upload would look like.
POLYGLOT = (
    b"\x1a\x45\xdf\xa3webm<html><body><script>alert(document.domain)</script><img src=x onerror=alert(1)>"
)


def test_media_opened_as_a_page_runs_nothing(
    watched: Watched, recruiter: User, invite: Invite, media_root: Path
) -> None:
    """Served as video/webm with nosniff and a sandboxing policy: Chromium shows a
    media viewer, never the HTML inside the bytes; a row whose type is not media
    is only ever downloaded."""
    video = store_video(invite, POLYGLOT)
    mistyped = store_video(invite, POLYGLOT)
    Video.objects.filter(pk=mistyped.pk).update(content_type="text/html")  # type: ignore[attr-defined]
    log_in(watched, recruiter)
    page = watched.page

    page.goto(watched.base_url + reverse("api:stream_video", args=[video.pk]))  # type: ignore[attr-defined]
    assert page.evaluate(BECAME_ELEMENTS) == 0
    assert page.locator("video").count() == 1
    with page.expect_download() as download, pytest.raises(PlaywrightError, match="Download is starting"):
        page.goto(watched.base_url + reverse("api:stream_video", args=[mistyped.pk]))  # type: ignore[attr-defined]
    assert download.value.suggested_filename.endswith(".webm")
    assert watched.dialogs == []


# --- markup in what candidates and processing write ----------------------------------


def test_markup_in_candidate_fields_shows_as_text_everywhere(
    watched: Watched, recruiter: User, media_root: Path, recorder_webm: Path
) -> None:
    name = f"{SCRIPT}{IMAGE}"
    invite = invite_create(email="x@example.com", name=name, created_by=recruiter)
    invite_path = reverse("invites:record", args=[invite.token])
    page = watched.page
    problems = watched.visit(invite_path)
    expect(page.locator("h1")).to_have_text(f"Hello {name}")

    video = store_video(
        invite,
        recorder_webm.read_bytes(),
        status=Status.FAILED,
        failure_reason=f"decoder said {IMAGE}",
        suggested_tag="pass",
        suggestion_reasons=[f"no speech {SCRIPT}"],
    )
    Video.objects.filter(pk=video.pk).update(original_name=f'{IMAGE}".webm')  # type: ignore[attr-defined]
    Upload.objects.create(invite=invite, length=10, offset=5, filename=f"{IMAGE}.webm", filetype="text/html")
    Invite.objects.filter(pk=invite.pk).update(submitted_at=timezone.now())
    log_in(watched, recruiter)
    shown = {
        reverse("invites:done", args=[invite.token]): [name],
        reverse("admin:invites_invite_changelist"): [name],
        reverse("admin:invites_invite_change", args=[invite.pk]): [name],
        reverse("admin:videos_video_changelist"): [name, IMAGE, SCRIPT],
        reverse("admin:videos_video_change", args=[video.pk]): [IMAGE, SCRIPT],  # type: ignore[attr-defined]
        reverse("videos:detail", args=[video.pk]): [name, IMAGE, SCRIPT],  # type: ignore[attr-defined]
        reverse("admin:uploads_upload_changelist"): [f"{IMAGE}.webm"],
    }
    for path, texts in shown.items():
        problems += watched.visit(path)
        body = page.locator("body").inner_text()
        problems += [f"{path}: {text!r} not shown as text" for text in texts if text not in body]
        # Nothing the candidate wrote became an element.
        problems += [f"{path}: markup became an element" for _ in range(page.evaluate(BECAME_ELEMENTS))]
    assert problems == []
    assert watched.dialogs == []
