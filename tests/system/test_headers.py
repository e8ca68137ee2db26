"""The security headers of every kind of response aurio sends, in process.

- HTML pages (candidate, staff, admin, API docs, error pages): the CSP with no
  inline script or style allowed, nosniff, X-Frame-Options and a
  Referrer-Policy; and no inline code in the HTML itself.
- Candidate pages, whose URL is the invite's secret: no Referer at all and
  nothing stored in caches; the candidate's whole flow still works over HTTPS
  without a Referer (and with the `Origin: null` Chromium then sends).
- Media (original, rendition, poster): a content type aurio chose from the
  probed container, a safe Content-Disposition, nosniff and a sandboxing CSP.
- JSON API answers: nosniff and a JSON type, never HTML.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import include, path, reverse
from django.utils import timezone
from pytest_django import Settings

from invites.models import Invite
from invites.services import invite_create, invite_revoke
from tests.support.factories import store_video
from videos import processing
from videos.models import Video
from videos.streaming import MEDIA_CSP, Stored, content_disposition, presigned_url, stream_stored

pytestmark = pytest.mark.django_db

TUS = {"Tus-Resumable": "1.0.0"}
# HTTPS as a TLS-terminating proxy reports it; what Chromium sends from a
# no-referrer page: no Referer, and Origin "null" on its POSTs.
HTTPS_PROXY = ("HTTP_X_FORWARDED_PROTO", "https")
FROM_NO_REFERRER_PAGE = {"X-Forwarded-Proto": "https", "Origin": "null"}
# RFC 6266: a quoted ASCII name with nothing to escape, optionally followed by RFC 8187's filename*.
SAFE_DISPOSITION = re.compile(
    r"""^(inline|attachment); filename="[A-Za-z0-9._-]+"(; filename\*=UTF-8''[\w.%~-]+)?$"""
)


class InlineCode(HTMLParser):
    """Collects what a script-src/style-src 'self' policy would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
        # A JSON data island is data, not code; any other script needs a src.
        if tag == "script" and not values.get("src") and values.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")


def inline_code(response: HttpResponse) -> list[str]:
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.found


def policy(response: HttpResponse) -> dict[str, list[str]]:
    directives = [d.split() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def assert_page_headers(response: HttpResponse) -> None:
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] in ("no-referrer", "same-origin")
    assert response["Content-Type"].startswith("text/html")
    assert inline_code(response) == []


def meta_referrer(response: HttpResponse) -> list[str]:
    return re.findall(r'<meta name="referrer" content="([^"]+)">', response.content.decode())


@pytest.fixture
def invites(recruiter: User) -> dict[str, Invite]:
    """One invite in each state a candidate can find their link in."""
    found = {
        state: invite_create(email=f"{state}@example.com", name=state, created_by=recruiter)
        for state in ("open", "expired", "revoked", "submitted")
    }
    Invite.objects.filter(pk=found["expired"].pk).update(expires_at=timezone.now() - timedelta(days=1))
    invite_revoke(invite=found["revoked"])
    Invite.objects.filter(pk=found["submitted"].pk).update(submitted_at=timezone.now())
    return found


def candidate_pages(invites: dict[str, Invite]) -> dict[str, tuple[str, int]]:
    """Every page a candidate can be shown, with its status."""
    return {
        "open": (reverse("invites:record", args=[invites["open"].token]), 200),
        "expired": (reverse("invites:record", args=[invites["expired"].token]), 410),
        "revoked": (reverse("invites:record", args=[invites["revoked"].token]), 410),
        "unknown": (reverse("invites:record", args=["x" * 32]), 404),
        "submitted": (reverse("invites:record", args=[invites["submitted"].token]), 200),
        "done": (reverse("invites:done", args=[invites["submitted"].token]), 200),
        "done too early": (reverse("invites:done", args=[invites["open"].token]), 410),
    }


# --- candidate pages -------------------------------------------------------------------


def test_candidate_pages_send_no_referrer_and_are_never_stored(
    client: Client, invites: dict[str, Invite]
) -> None:
    for name, (url, status) in candidate_pages(invites).items():
        response = client.get(url)
        assert response.status_code == status, name
        assert_page_headers(response)
        assert response["Referrer-Policy"] == "no-referrer", name
        # The document's own policy agrees with the header (a meta tag would override it).
        assert meta_referrer(response) == ["no-referrer"], name
        assert "no-store" in response["Cache-Control"], name
        assert "private" in response["Cache-Control"], name


def test_a_rate_limited_candidate_page_sends_no_referrer_either(
    settings: Settings, invites: dict[str, Invite]
) -> None:
    settings.AURIO_RATE_LIMIT_REQUESTS = 1
    visitor = Client(REMOTE_ADDR="10.66.6.1")
    url = reverse("invites:record", args=[invites["open"].token])
    assert visitor.get(url).status_code == 200
    refused = visitor.get(url)
    assert refused.status_code == 429
    assert_page_headers(refused)
    assert refused["Referrer-Policy"] == "no-referrer"
    assert meta_referrer(refused) == ["no-referrer"]
    assert "no-store" in refused["Cache-Control"]


def test_the_candidate_flow_works_over_https_without_a_referer(
    settings: Settings, invites: dict[str, Invite], recorder_webm: Path, media_root: Path
) -> None:
    """no-referrer is safe for candidates: nothing their page sends is CSRF-checked
    (each write is authorised by the token), so Django's HTTPS Referer check never runs."""
    settings.SECURE_PROXY_SSL_HEADER = HTTPS_PROXY
    candidate = Client(enforce_csrf_checks=True, headers=FROM_NO_REFERRER_PAGE)
    invite = invites["open"]
    content = recorder_webm.read_bytes()

    page = candidate.get(reverse("invites:record", args=[invite.token]))
    assert page.status_code == 200
    assert page.wsgi_request.is_secure()
    assert candidate.get(reverse("api:check_invite", args=[invite.token])).status_code == 200
    assert candidate.post(reverse("api:start_take", args=[invite.token])).status_code == 201
    created = candidate.post(
        reverse("uploads:uploads", args=[invite.token]),
        headers={**TUS, "Upload-Length": str(len(content)), "Upload-Metadata": f"filename {b64('a.webm')}"},
    )
    assert created.status_code == 201, created.content
    location = created["Location"]
    sent = candidate.generic(
        "PATCH", location, content, content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": "0"},
    )  # fmt: skip
    assert sent.status_code == 204, sent.content
    finished = candidate.post(reverse("api:finish_upload", args=[invite.token, location.rsplit("/", 1)[1]]))
    assert finished.status_code in (200, 201), finished.content
    assert Video.objects.filter(invite=invite).count() == 1
    done = candidate.get(reverse("invites:done", args=[invite.token]))
    assert done.status_code == 200


def test_the_multipart_upload_works_over_https_without_a_referer(
    settings: Settings, invites: dict[str, Invite], recorder_webm: Path, media_root: Path
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = HTTPS_PROXY
    candidate = Client(enforce_csrf_checks=True, headers=FROM_NO_REFERRER_PAGE)
    invite = invites["open"]
    upload = SimpleUploadedFile("a.webm", recorder_webm.read_bytes(), "video/webm")
    response = candidate.post(reverse("api:upload_video", args=[invite.token]), {"file": upload})
    assert response.status_code == 201, response.content
    assert Video.objects.filter(invite=invite).count() == 1


# --- staff pages ---------------------------------------------------------------------


def test_the_review_page_keeps_same_origin_referrers_because_its_forms_need_them(
    settings: Settings, recruiter: User, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    """Django's CSRF check over HTTPS wants an Origin or a Referer of aurio's own:
    a no-referrer page would send `Origin: null` and have its tag form refused."""
    settings.SECURE_PROXY_SSL_HEADER = HTTPS_PROXY
    settings.ALLOWED_HOSTS = ["aurio.example"]
    video = store_video(invite, recorder_webm.read_bytes())
    staff = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https", "Host": "aurio.example"})
    staff.force_login(recruiter)
    page = staff.get(reverse("videos:detail", args=[video.pk]))  # type: ignore[attr-defined]
    assert_page_headers(page)
    assert page["Referrer-Policy"] == "same-origin"
    assert meta_referrer(page) == ["same-origin"]
    form = {"tag": "advance", "csrfmiddlewaretoken": page.context["csrf_token"]}
    tag_url = reverse("videos:tag", args=[video.pk])  # type: ignore[attr-defined]

    assert staff.post(tag_url, form, headers={"Origin": "null"}).status_code == 403
    assert staff.post(tag_url, form).status_code == 403  # no Origin, no Referer
    page_url = f"https://aurio.example{page.wsgi_request.path}"
    assert staff.post(tag_url, form, headers={"Referer": page_url}).status_code == 302
    assert Video.objects.get(pk=video.pk).tag == "advance"  # type: ignore[attr-defined]


def admin_pages() -> list[str]:
    """Every admin list and add form of every registered model (including ones added later)."""
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        pages += [reverse(f"admin:{info}_changelist"), reverse(f"admin:{info}_add")]
    return pages


def test_every_staff_page_has_the_policy_and_no_inline_code(
    staff_client: Client, recruiter: User, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    video = store_video(invite, recorder_webm.read_bytes())
    pages = [
        *admin_pages(),
        reverse("admin:invites_invite_change", args=[invite.pk]),
        reverse("admin:videos_video_change", args=[video.pk]),  # type: ignore[attr-defined]
        reverse("admin:auth_user_change", args=[recruiter.pk]),
        reverse("admin:invites_invite_changelist") + "?status=open&q=cand",
        reverse("admin:videos_video_changelist") + "?tag__exact=pending&q=cand",
        reverse("videos:detail", args=[video.pk]),  # type: ignore[attr-defined]
        reverse("api:openapi-view"),
    ]
    shown = 0
    for url in pages:
        response = staff_client.get(url)
        if response.status_code == 403 and url.endswith("/add/"):
            continue  # a model nobody adds through the admin (API tokens, uploads)
        assert response.status_code == 200, url
        assert_page_headers(response)
        shown += 1
    assert shown > 15


def test_the_admin_login_page_has_the_policy(client: Client, db: None) -> None:
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert_page_headers(response)
    assert response["Referrer-Policy"] == "same-origin"


# --- error pages ----------------------------------------------------------------------


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom", boom), path("", include("aurio.urls"))]


@pytest.mark.urls("tests.system.test_headers")
def test_error_pages_are_aurios_own_with_the_policy(
    settings: Settings, teammate: User, invite: Invite
) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]
    visitor = Client(raise_request_exception=False, enforce_csrf_checks=True)
    answers = [
        (404, visitor.get("/no/such/page")),
        (500, visitor.get("/boom")),
        (403, visitor.post(reverse("admin:login"), {"username": "x"})),  # no CSRF cookie
    ]
    visitor.force_login(teammate)
    answers.append((403, visitor.get(reverse("admin:invites_invite_changelist"))))  # no permission
    for status, response in answers:
        assert response.status_code == status, response.request["PATH_INFO"]
        assert_page_headers(response)
        body = response.content.decode()
        assert 'class="card"' in body, status  # aurio's template, not Django's bare page
        assert "a bug" not in body and "Traceback" not in body


def test_a_request_for_another_host_gets_the_policy_too(settings: Settings, db: None) -> None:
    settings.ALLOWED_HOSTS = ["aurio.example"]
    response = Client(raise_request_exception=False).get("/admin/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert 'class="card"' in response.content.decode()
    assert_page_headers(response)


# --- media -----------------------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_media_headers(response: Any, *, kind: str) -> None:
    assert response["Content-Type"].split(";")[0].startswith(f"{kind}/"), response["Content-Type"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == MEDIA_CSP
    assert SAFE_DISPOSITION.match(response["Content-Disposition"]), response["Content-Disposition"]


@pytest.fixture
def ready(invite: Invite, plain_mp4: Path, media_root: Path) -> Video:
    video = store_video(invite, plain_mp4.read_bytes(), extension="mp4")
    assert processing.process(str(video.pk)) == "ready"  # type: ignore[attr-defined]
    video.refresh_from_db()  # type: ignore[attr-defined]
    return video  # type: ignore[return-value]


@pytest.mark.parametrize("reader", ["staff", "bearer"])
def test_every_media_response_is_typed_named_and_sandboxed(
    reader: str, ready: Video, staff_client: Client, api: Client
) -> None:
    client = staff_client if reader == "staff" else api
    files = {
        reverse("api:stream_video", args=[ready.id]): "video",
        reverse("api:playback_video", args=[ready.id]): "video",
        reverse("api:video_poster", args=[ready.id]): "image",
    }
    for url, kind in files.items():
        whole = client.get(url)
        assert whole.status_code == 200, url
        assert_media_headers(whole, kind=kind)
        assert_media_headers(client.head(url), kind=kind)
        part = client.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206
        assert_media_headers(part, kind=kind)
        past_end = client.get(url, headers={"Range": "bytes=999999999-"})
        assert past_end.status_code == 416
        assert past_end["Content-Security-Policy"] == MEDIA_CSP
        assert past_end["X-Content-Type-Options"] == "nosniff"


def test_an_upload_named_and_typed_as_html_is_served_as_video(
    client: Client, staff_client: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    """The type comes from the probed container, never from the browser's name or type."""
    content = recorder_webm.read_bytes()
    created = client.post(
        reverse("uploads:uploads", args=[invite.token]),
        headers={
            **TUS,
            "Upload-Length": str(len(content)),
            "Upload-Metadata": f"filename {b64('x.html')},filetype {b64('text/html')}",
        },
    )
    location = created["Location"]
    client.generic(
        "PATCH", location, content, content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": "0"},
    )  # fmt: skip
    client.post(reverse("api:finish_upload", args=[invite.token, location.rsplit("/", 1)[1]]))
    video = Video.objects.get(invite=invite)
    assert video.original_name == "x.html"

    response = staff_client.get(reverse("api:stream_video", args=[video.id]))
    assert response["Content-Type"] == "video/webm"
    assert_media_headers(response, kind="video")
    assert "html" not in response["Content-Disposition"]


def test_a_multipart_upload_typed_as_html_is_served_as_video(
    client: Client, api: Client, invite: Invite, recorder_webm: Path, media_root: Path
) -> None:
    upload = SimpleUploadedFile("x.html", recorder_webm.read_bytes(), "text/html")
    response = client.post(reverse("api:upload_video", args=[invite.token]), {"file": upload})
    served = api.get(reverse("api:stream_video", args=[response.json()["videoId"]]))
    assert served["Content-Type"] == "video/webm"
    assert_media_headers(served, kind="video")
    assert "html" not in served["Content-Disposition"]


def test_a_stored_type_that_is_not_media_goes_out_as_bytes_to_save(
    api: Client, invite: Invite, media_root: Path
) -> None:
    """Whatever a row says (an old row, a bug, a hand edit), aurio never serves a type a browser runs."""
    video = store_video(invite, b"<script>alert(1)</script>")
    Video.objects.filter(pk=video.pk).update(content_type="text/html")  # type: ignore[attr-defined]
    response = api.get(reverse("api:stream_video", args=[video.pk]))  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment; ")
    assert response["Content-Security-Policy"] == MEDIA_CSP


def stored(filename: str, content_type: str = "video/mp4", *, signs: bool = False) -> Stored:
    """A Stored whose storage signs URLs (like S3) when `signs`, recording what it was asked."""
    asked: dict[str, str] = {}

    def url(name: str, parameters: dict[str, str]) -> str:
        asked.update(parameters)
        return "https://bucket.example/signed"

    storage = SimpleNamespace(querystring_auth=signs, url=url, asked=asked)
    file = SimpleNamespace(storage=storage, name="videos/x/original.mp4")
    return Stored(
        file=file,  # type: ignore[arg-type]
        size=10,
        content_type=content_type,
        etag='"e"',
        last_modified=0,
        filename=filename,
        video_id="x",
    )


@pytest.mark.parametrize(
    "filename",
    ['résumé "final".mp4', "naïve\\name.mp4", 'a"; filename=evil.html', "..\\..\\x.mp4", "line\r\nbreak.mp4"],
)
def test_content_disposition_keeps_any_filename_quoted_safely(filename: str) -> None:
    header = content_disposition(filename)
    assert SAFE_DISPOSITION.match(header), header
    assert "\r" not in header and "\n" not in header
    exact = re.search(r"filename\*=UTF-8''(.+)$", header)
    named = unquote(exact.group(1)) if exact else header
    assert "/" not in named and "\\" not in named and "\r" not in named and "\n" not in named


def test_a_non_ascii_name_reaches_the_response_as_filename_star(rf: RequestFactory) -> None:
    response = stream_stored(rf.head("/"), stored("vidéo «1».mp4"))
    disposition = response["Content-Disposition"]
    assert SAFE_DISPOSITION.match(disposition), disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "vidéo «1».mp4"


def test_presigned_urls_make_the_object_store_send_aurios_type_and_name(rf: RequestFactory) -> None:
    """S3 serves the bytes itself: the signature fixes the type and disposition it sends."""
    media = stored("video-1.webm", "video/webm", signs=True)
    assert presigned_url(media) == "https://bucket.example/signed"
    asked = media.file.storage.asked  # type: ignore[attr-defined]
    assert asked["ResponseContentType"] == "video/webm"
    assert asked["ResponseContentDisposition"] == 'inline; filename="video-1.webm"'

    html = stored("page.html", "text/html", signs=True)
    presigned_url(html)
    asked = html.file.storage.asked  # type: ignore[attr-defined]
    assert asked["ResponseContentType"] == "application/octet-stream"
    assert asked["ResponseContentDisposition"].startswith("attachment; ")


# --- JSON API -------------------------------------------------------------------------


def test_json_answers_are_never_html(client: Client, api: Client, invite: Invite, ready: Video) -> None:
    answers: list[Callable[[], Any]] = [
        lambda: api.get(reverse("api:list_invites")),
        lambda: api.get(reverse("api:get_video", args=[ready.id])),
        lambda: api.get(reverse("api:get_video", args=["00000000-0000-0000-0000-000000000000"])),
        lambda: api.post(
            reverse("api:tag_video", args=[ready.id]), {"tag": "<b>"}, content_type="application/json"
        ),
        lambda: client.get(reverse("api:list_invites")),  # 401
        lambda: client.get(reverse("api:check_invite", args=[invite.token])),
        lambda: client.get(reverse("api:check_invite", args=["x" * 32])),
        lambda: client.post(reverse("api:upload_video", args=[invite.token])),  # 400, no file
        lambda: client.get(reverse("api:openapi-json")),
    ]
    statuses = set()
    for answer in answers:
        response = answer()
        statuses.add(response.status_code)
        assert response["Content-Type"].startswith("application/json"), response.content[:80]
        assert response["X-Content-Type-Options"] == "nosniff"
    assert {200, 400, 401, 404, 422} <= statuses
