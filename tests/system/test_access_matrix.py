"""Who can reach what: every URL × every role → the expected status, and
nothing private in any answer a role should not get.

Roles: anonymous; a candidate holding another invite's token (used in the
links and as a bearer token); a logged-in user who is not staff; staff without
permissions; staff with the permissions (not a superuser); and that staff
member's API token. The target is one invite with a processed video (original,
MP4 rendition, poster), an unfinished resumable upload and the audit trail's
record of the invite (which no role may change or delete); it belongs to an
interview of three questions, the candidate's invite to the default one. Roles without a
token of their own use a guessed one on the candidate endpoints."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from aurio.logs import redact
from aurio.models import ApiToken
from interviews.models import Interview, Question
from invites.models import Invite
from invites.services import invite_create
from tests.support.factories import make_interview, store_video
from uploads.models import Upload
from uploads.services import upload_create
from videos.models import Video

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "candidate", "outsider", "teammate", "recruiter", "api"]
GUESSED = "G" * 32
LOGIN = "login"  # a redirect to the admin's login page
PERMISSIONS = [
    "invites.view_invite",
    "invites.add_invite",
    "videos.view_video",
    "videos.change_video",
    "uploads.view_upload",
    "audit.view_auditevent",
    "interviews.view_interview",
    "interviews.add_interview",
    "interviews.change_interview",
]
POSTER = b"\xff\xd8\xff\xe0poster-bytes"
RENDITION = b"\x00\x00\x00\x18ftypmp42rendition-bytes"


@dataclass
class Cast:
    target: Invite
    other: Invite
    video: Video
    upload: Upload
    event: AuditEvent  # the trail's record of the target's creation
    original: bytes
    clients: dict[str, Client]
    interview: Interview  # the target's
    own_question: Question  # the candidate's (the default interview's question)
    target_question: Question  # the target's first question, not the candidate's

    def token(self, role: str) -> str:
        """The token a role holds: the candidate their own (another invite's), the rest none."""
        return self.other.token if role == "candidate" else GUESSED


@pytest.fixture
def cast(db: None, recorder_webm: Path) -> Cast:
    owner = User.objects.create_user("owner", "owner@example.com", "pw", is_staff=True)
    interview = make_interview(title="Target role")
    target = invite_create(
        email="target@example.com", name="Target Person", created_by=owner, interview=interview
    )
    other = invite_create(email="other@example.com", name="Other", created_by=owner)
    original = recorder_webm.read_bytes()
    video: Any = store_video(target, original)
    video.poster.name = default_storage.save(f"videos/{video.pk}/poster.jpg", ContentFile(POSTER))
    video.poster_size = len(POSTER)
    video.playback.name = default_storage.save(f"videos/{video.pk}/playback.mp4", ContentFile(RENDITION))
    video.playback_size = len(RENDITION)
    video.save()
    upload = upload_create(invite=target, length=1000, metadata={"filename": "answer.webm"})
    asked: Any = interview.questions.first()
    asked.video.save("question.webm", ContentFile(original), save=True)  # the recruiter asking it

    outsider = User.objects.create_user("outsider", "o@example.com", "pw")
    teammate = User.objects.create_user("teammate", "t@example.com", "pw", is_staff=True)
    recruiter = User.objects.create_user("recruiter", "r@example.com", "pw", is_staff=True)
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        recruiter.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    clients = {
        "anonymous": Client(),
        "candidate": Client(headers={"Authorization": f"Bearer {other.token}"}),
        "outsider": Client(),
        "teammate": Client(),
        "recruiter": Client(),
        "api": Client(headers={"Authorization": f"Bearer {ApiToken.issue(recruiter)[1]}"}),
    }
    clients["outsider"].force_login(outsider)
    clients["teammate"].force_login(teammate)
    clients["recruiter"].force_login(recruiter)
    event = AuditEvent.objects.get(object_id=target.pk)
    return Cast(
        target,
        other,
        video,
        upload,
        event,
        original,
        clients,
        interview,
        own_question=other.interview.questions.get(),
        target_question=interview.questions.first(),  # type: ignore[arg-type]
    )


@dataclass
class Endpoint:
    name: str
    method: str
    url: Callable[[Cast, str], str]
    expected: dict[str, int | str]
    data: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    media: bytes | None = None  # what an allowed role gets; never anyone else

    def __str__(self) -> str:
        return self.name


def url(name: str, *args: str) -> Callable[[Cast, str], str]:
    """The URL `name` as a role asks for it; each argument is "token" (the role's)
    or where in the cast to find it ("video.id")."""

    def build(cast: Cast, token: str) -> str:
        return reverse(name, args=[token if arg == "token" else attrgetter(arg)(cast) for arg in args])

    return build


def everyone(status: int | str, **exceptions: int | str) -> dict[str, int | str]:
    return {role: exceptions.get(role, status) for role in ROLES}


# Recruiter API: no credentials → 401; a session without staff or permission → 403.
RECRUITER_API = everyone(401, outsider=403, teammate=403, recruiter=200, api=200)
# Staff pages and the admin: everyone but staff is sent to the login page.
STAFF_PAGE = everyone(LOGIN, teammate=404, recruiter=200)
ADMIN_LIST = everyone(LOGIN, teammate=403, recruiter=200)
# Writing to the audit log: refused to everyone, recruiters included.
NO_WRITES = everyone(LOGIN, teammate=403, recruiter=403)
TUS = {"Tus-Resumable": "1.0.0"}


def candidate(status: int) -> dict[str, int | str]:
    """A candidate endpoint: the candidate reaches their own invite only; a guessed token gets 404."""
    return everyone(404, candidate=status)


ENDPOINTS = [
    # --- candidate pages and API (authorised by the token in the path) ---
    Endpoint("record page", "get", url("invites:record", "token"), candidate(200)),
    Endpoint("done page", "get", url("invites:done", "token"), candidate(410)),
    Endpoint("check invite", "get", url("api:check_invite", "token"), candidate(200)),
    Endpoint("start take", "post", url("api:start_take", "token"), candidate(201)),
    Endpoint(
        "start a take of a question",
        "post",
        url("api:start_question_take", "token", "own_question.id"),
        candidate(201),
    ),
    Endpoint(
        "reveal a question",
        "post",
        url("api:reveal_question", "token", "own_question.id"),
        candidate(200),
    ),
    Endpoint(
        "reveal the target's question",
        "post",
        url("api:reveal_question", "token", "target_question.id"),
        everyone(404),
    ),
    # Another interview's question is nobody's to count takes on, with any token.
    Endpoint(
        "start a take of the target's question",
        "post",
        url("api:start_question_take", "token", "target_question.id"),
        everyone(404),
    ),
    # The target's question video is for the target's link only.
    Endpoint(
        "the target's question video",
        "get",
        url("videos:question_video", "token", "target_question.id"),
        everyone(404),
    ),
    Endpoint("upload (no file)", "post", url("api:upload_video", "token"), candidate(400)),
    Endpoint(
        "tus create",
        "post",
        url("uploads:uploads", "token"),
        candidate(201),
        headers={**TUS, "Upload-Length": "10"},
    ),
    # The target's upload is nobody's to reach with another token, whatever the method.
    *(
        Endpoint(
            f"tus {method} of the target's upload",
            method,
            url("uploads:upload", "token", "upload.id"),
            everyone(404),
            headers=headers,
        )
        for method, headers in (("head", TUS), ("patch", {**TUS, "Upload-Offset": "0"}), ("delete", TUS))
    ),
    Endpoint(
        "finish the target's upload",
        "post",
        url("api:finish_upload", "token", "upload.id"),
        everyone(404),
    ),
    # --- recruiter API ---
    Endpoint("list invites", "get", url("api:list_invites"), RECRUITER_API),
    Endpoint(
        "create invite",
        "post",
        url("api:create_invite"),
        {**RECRUITER_API, "recruiter": 201, "api": 201},
        data={"email": "new@example.com"},
    ),
    Endpoint(
        "list answers",
        "get",
        lambda c, t: reverse("api:list_answers") + f"?inviteId={c.target.pk}",
        RECRUITER_API,
    ),
    Endpoint("list interviews", "get", url("api:list_interviews"), RECRUITER_API),
    Endpoint(
        "create interview",
        "post",
        url("api:create_interview"),
        {**RECRUITER_API, "recruiter": 201, "api": 201},
        data={"title": "New role", "questions": [{"text": "Why us?"}]},
    ),
    Endpoint("get interview", "get", url("api:get_interview", "interview.id"), RECRUITER_API),
    Endpoint(
        "add a question",
        "post",
        url("api:add_question", "interview.id"),
        {**RECRUITER_API, "recruiter": 201, "api": 201},
        data={"text": "And why now?"},
    ),
    Endpoint("list videos", "get", url("api:list_videos"), RECRUITER_API),
    Endpoint("get video", "get", url("api:get_video", "video.id"), RECRUITER_API),
    Endpoint("tag video", "post", url("api:tag_video", "video.id"), RECRUITER_API, data={"tag": "advance"}),
    Endpoint("stream", "get", url("api:stream_video", "video.id"), RECRUITER_API, media=b"original"),
    Endpoint("stream (HEAD)", "head", url("api:stream_video", "video.id"), RECRUITER_API),
    Endpoint("playback", "get", url("api:playback_video", "video.id"), RECRUITER_API, media=RENDITION),
    Endpoint("poster", "get", url("api:video_poster", "video.id"), RECRUITER_API, media=POSTER),
    # --- staff pages ---
    Endpoint("watch page", "get", url("videos:detail", "video.id"), STAFF_PAGE),
    Endpoint(
        "tag from the watch page",
        "post",
        url("videos:tag", "video.id"),
        everyone(LOGIN, teammate=404, recruiter=302),
        data={"tag": "advance"},
    ),
    # --- admin ---
    Endpoint("admin index", "get", url("admin:index"), everyone(LOGIN, teammate=200, recruiter=200)),
    Endpoint("admin invites", "get", url("admin:invites_invite_changelist"), ADMIN_LIST),
    Endpoint("admin invite", "get", url("admin:invites_invite_change", "target.pk"), ADMIN_LIST),
    Endpoint("admin videos", "get", url("admin:videos_video_changelist"), ADMIN_LIST),
    Endpoint("admin video", "get", url("admin:videos_video_change", "video.pk"), ADMIN_LIST),
    Endpoint("admin uploads", "get", url("admin:uploads_upload_changelist"), ADMIN_LIST),
    # --- the audit log: read-only, for staff with audit.view_auditevent ---
    Endpoint("audit log", "get", url("admin:audit_auditevent_changelist"), ADMIN_LIST),
    Endpoint(
        "audit log of the target",
        "get",
        lambda c, t: reverse("admin:audit_auditevent_changelist") + f"?invite_ref={c.target.pk}",
        ADMIN_LIST,
    ),
    Endpoint("audit event", "get", url("admin:audit_auditevent_change", "event.pk"), ADMIN_LIST),
    Endpoint("add an audit event", "get", url("admin:audit_auditevent_add"), NO_WRITES),
    Endpoint(
        "change an audit event",
        "post",
        url("admin:audit_auditevent_change", "event.pk"),
        NO_WRITES,
        data={"actor_label": "nobody"},
    ),
    Endpoint(
        "delete an audit event",
        "post",
        url("admin:audit_auditevent_delete", "event.pk"),
        NO_WRITES,
        data={"post": "yes"},
    ),
]


def request(cast: Cast, role: str, endpoint: Endpoint) -> HttpResponse:
    client = cast.clients[role]
    url = endpoint.url(cast, cast.token(role))
    headers = endpoint.headers or {}
    if endpoint.method == "get":
        return client.get(url, headers=headers)
    if endpoint.method == "head":
        return client.head(url, headers=headers)
    if endpoint.method == "patch":
        return client.generic(
            "PATCH", url, b"", content_type="application/offset+octet-stream", headers=headers
        )
    if endpoint.method == "delete":
        return client.delete(url, headers=headers)
    if endpoint.data is not None and endpoint.url(cast, GUESSED).startswith("/api/"):
        return client.post(url, json.dumps(endpoint.data), content_type="application/json", headers=headers)
    return client.post(url, endpoint.data or {}, headers=headers)


def body_of(response: HttpResponse) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content


def status_of(response: HttpResponse) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(reverse("admin:login")):
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_access(cast: Cast, endpoint: Endpoint, role: str) -> None:
    response = request(cast, role, endpoint)
    expected = endpoint.expected[role]
    assert status_of(response) == expected, f"{endpoint} as {role}"
    # Nobody, whatever their role, rewrites or removes the trail.
    assert AuditEvent.objects.filter(pk=cast.event.pk, actor_label="owner").exists()
    body = body_of(response)
    allowed = expected in (200, 201)
    if endpoint.media is not None and allowed:
        want = cast.original if endpoint.media == b"original" else endpoint.media
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(want).hexdigest()
    if not allowed or endpoint.url(cast, GUESSED).startswith(("/r/", "/api/v1/invites/", "/api/v1/tus/")):
        # Nothing about the target (its person, link, video or upload) in an answer it shouldn't get.
        for secret in (
            cast.target.email,
            cast.target.name,
            cast.target.token,
            str(cast.video.id),
            str(cast.upload.id),
        ):
            assert secret.encode() not in body, f"{endpoint} as {role} leaks {secret!r}"
        assert cast.original[:64] not in body
        assert POSTER not in body and RENDITION not in body
        content_type = response.get("Content-Type", "")
        assert not content_type.startswith(("video/", "image/")), f"{endpoint} as {role}: {content_type}"
        assert response.get("Location", "").find("amazonaws") == -1


def test_every_candidate_and_api_url_is_in_the_matrix() -> None:
    """A new URL must join the matrix: the names covered here against the URLconf's."""
    from aurio.api import api

    covered_api = {
        "check_invite",
        "start_take",
        "start_question_take",
        "reveal_question",
        "upload_video",
        "finish_upload",
        "list_invites",
        "create_invite",
        "list_answers",
        "list_interviews",
        "create_interview",
        "get_interview",
        "add_question",
        "list_videos",
        "get_video",
        "tag_video",
        "stream_video",
        "playback_video",
        "video_poster",
    }
    names = {pattern.name for pattern in api.urls[0] if getattr(pattern, "name", None)}
    assert names - {"openapi-json", "openapi-view", "api-root"} <= covered_api


# --- Tokens stay out of Referer headers and logs ---------------------------------

LINK_ATTRIBUTE = re.compile(
    rb"""\b(?:href|src|action|formaction|poster|data-[a-z-]*url[a-z-]*)\s*=\s*["']([^"']*)["']"""
)


def candidate_pages(cast: Cast) -> list[HttpResponse]:
    client = Client()
    submitted = invite_create(email="done@example.com")
    Invite.objects.filter(pk=submitted.pk).update(submitted_at=timezone.now())
    return [
        client.get(reverse("invites:record", args=[cast.target.token])),
        client.get(reverse("invites:done", args=[cast.target.token])),
        client.get(reverse("invites:done", args=[submitted.token])),
        client.get(reverse("invites:record", args=[GUESSED])),
    ]


def test_candidate_pages_send_no_referrer_beyond_the_site(cast: Cast) -> None:
    for response in candidate_pages(cast):
        assert response["Referrer-Policy"] in ("no-referrer", "same-origin"), response.request["PATH_INFO"]


def test_candidate_pages_link_nowhere_outside_the_site(cast: Cast) -> None:
    """With every link and resource on the same origin, no Referer with a token leaves it."""
    for response in candidate_pages(cast):
        for url in LINK_ATTRIBUTE.findall(response.content):
            assert url.startswith((b"/", b"#", b"data:")) and not url.startswith(b"//"), url


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tus/{token}/",
        "/api/v1/tus/{token}/3f2b0c1e-4f8e-4a7e-9d1e-0a4b5c6d7e8f",
        "/api/v1/uploads/{token}/3f2b0c1e-4f8e-4a7e-9d1e-0a4b5c6d7e8f/finish",
        "/api/v1/upload/{token}",
        "/api/v1/invites/{token}",
        "/api/v1/invites/{token}/takes",
        "/api/v1/invites/{token}/questions/3f2b0c1e-4f8e-4a7e-9d1e-0a4b5c6d7e8f/takes",
        "/r/{token}",
        "/r/{token}/done",
        "/r/{token}/questions/3f2b0c1e-4f8e-4a7e-9d1e-0a4b5c6d7e8f/video",
    ],
)
def test_log_redaction_covers_every_candidate_path(cast: Cast, path: str) -> None:
    token = cast.target.token
    for line in (
        f"Not Found: {path.format(token=token)}",
        f'"PATCH {path.format(token=token)} HTTP/1.1" 204',
        f"https://aurio.example.com{path.format(token=token)}?chunk=1",
    ):
        assert token not in redact(line)
        assert "[token]" in redact(line)


def test_gunicorn_header_and_environ_atoms_are_redacted_too() -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from aurio.logs import RedactingGunicornLogger

    token = "T" * 32
    path = f"/api/v1/tus/{token}/3f2b0c1e-4f8e-4a7e-9d1e-0a4b5c6d7e8f"
    request = SimpleNamespace(
        headers=[("REFERER", f"https://aurio.example.com/r/{token}")],
        method="PATCH",
        path=path,
        query="",
        version=(1, 1),
        uri=path,
    )
    response = SimpleNamespace(status="204 No Content", headers=[], sent=0, response_length=0)
    environ = {
        "REMOTE_ADDR": "192.0.2.1",
        "REQUEST_METHOD": "PATCH",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://aurio.example.com/r/{token}",
    }
    atoms = RedactingGunicornLogger(Config()).atoms(response, request, environ, timedelta(seconds=1))
    assert [key for key, value in atoms.items() if isinstance(value, str) and token in value] == []
