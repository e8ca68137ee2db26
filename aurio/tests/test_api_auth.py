"""Who may call the API: the authentication and authorisation matrix, the
`issue_api_token` command, `/healthz`, the OpenAPI docs and the CORS allow-list."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.db import OperationalError, connections
from django.http import HttpResponse
from django.test import Client, override_settings
from django.utils.crypto import get_random_string

from aurio.models import ApiToken
from invites.models import Invite
from tests.support.factories import store_video
from videos.models import Status, Tag, Video

TokenFor = Callable[[User], str]


@pytest.fixture(autouse=True)
def _own_media(media_root: Path) -> None:
    """Every test here gets an empty storage location (conftest's media_root)."""


@pytest.fixture
def video(invite: Invite) -> Video:
    return store_video(invite, b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8, status=Status.READY)  # type: ignore[return-value]


# Every recruiter endpoint, as (method, path template, JSON body).
RECRUITER_ENDPOINTS = [
    ("get", "/api/v1/invites", None),
    ("post", "/api/v1/invites", {"email": "new@example.com"}),
    ("get", "/api/v1/videos", None),
    ("get", "/api/v1/videos/{id}", None),
    ("get", "/api/v1/videos/{id}/stream", None),
    ("head", "/api/v1/videos/{id}/stream", None),
    ("post", "/api/v1/videos/{id}/tag", {"tag": "advance"}),
]
READ_ENDPOINTS = [e for e in RECRUITER_ENDPOINTS if e[0] in ("get", "head")]
WRITE_ENDPOINTS = [e for e in RECRUITER_ENDPOINTS if e[0] == "post"]


def endpoint_id(endpoint: tuple[str, str, object]) -> str:
    return f"{endpoint[0].upper()} {endpoint[1]}"


def call(
    client: Client, endpoint: tuple[str, str, object], video: Video, headers: dict[str, str] | None = None
) -> HttpResponse:
    method, template, payload = endpoint
    path = template.format(id=video.id)
    if method == "post":
        return client.post(path, payload, content_type="application/json", headers=headers)
    return getattr(client, method)(path, headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_no_write_happened(invite: Invite, video: Video) -> None:
    assert list(Invite.objects.values_list("pk", flat=True)) == [invite.pk]
    video.refresh_from_db()
    assert video.tag == Tag.PENDING


# --- who gets in ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", RECRUITER_ENDPOINTS, ids=endpoint_id)
def test_anonymous_request_is_401(client: Client, video: Video, invite: Invite, endpoint: tuple) -> None:
    response = call(client, endpoint, video)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    if endpoint[0] != "head":
        assert response.json() == {
            "detail": "Authentication required: send a bearer token or log in as staff."
        }
    assert_no_write_happened(invite, video)


@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS, ids=endpoint_id)
def test_anonymous_write_from_a_real_client_is_401_not_a_csrf_error(
    video: Video, invite: Invite, endpoint: tuple
) -> None:
    """A real HTTP client (no CSRF bypass, no cookies) that forgot its token must
    be told to authenticate, not that a CSRF cookie is missing."""
    response = call(Client(enforce_csrf_checks=True), endpoint, video)
    assert response.status_code == 401
    assert_no_write_happened(invite, video)


@pytest.mark.parametrize("endpoint", RECRUITER_ENDPOINTS, ids=endpoint_id)
def test_wrong_bearer_token_is_401(client: Client, video: Video, invite: Invite, endpoint: tuple) -> None:
    response = call(client, endpoint, video, headers=bearer("aur_this-is-not-a-real-token"))
    assert response.status_code == 401
    assert_no_write_happened(invite, video)


@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS, ids=endpoint_id)
def test_wrong_bearer_write_from_a_real_client_is_401(video: Video, invite: Invite, endpoint: tuple) -> None:
    response = call(Client(enforce_csrf_checks=True), endpoint, video, headers=bearer("aur_not-a-token"))
    assert response.status_code == 401
    assert_no_write_happened(invite, video)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Token aur_x", "Basic cmVjOnB3", "bearer" + " x" * 3, "Bearer " + "a" * 5000],
)
def test_malformed_authorization_header_is_401(client: Client, db: None, authorization: str) -> None:
    response = client.get("/api/v1/invites", headers={"Authorization": authorization})
    assert response.status_code == 401


def test_token_of_a_deleted_token_row_is_401(client: Client, recruiter: User, token_for: TokenFor) -> None:
    key = token_for(recruiter)
    ApiToken.objects.all().delete()
    assert client.get("/api/v1/invites", headers=bearer(key)).status_code == 401


@pytest.mark.parametrize("endpoint", RECRUITER_ENDPOINTS, ids=endpoint_id)
def test_inactive_users_token_is_refused(
    client: Client, recruiter: User, token_for: TokenFor, video: Video, invite: Invite, endpoint: tuple
) -> None:
    key = token_for(recruiter)
    User.objects.filter(pk=recruiter.pk).update(is_active=False)
    response = call(client, endpoint, video, headers=bearer(key))
    assert response.status_code == 401
    assert_no_write_happened(invite, video)


@pytest.mark.parametrize("endpoint", RECRUITER_ENDPOINTS, ids=endpoint_id)
def test_non_staff_users_token_is_403(
    client: Client, outsider: User, token_for: TokenFor, video: Video, invite: Invite, endpoint: tuple
) -> None:
    response = call(client, endpoint, video, headers=bearer(token_for(outsider)))
    assert response.status_code == 403
    if endpoint[0] != "head":
        assert response.json() == {"detail": "This account is not a staff account."}
    assert_no_write_happened(invite, video)


@pytest.mark.parametrize("endpoint", RECRUITER_ENDPOINTS, ids=endpoint_id)
def test_staff_without_permissions_token_is_403(
    client: Client, teammate: User, token_for: TokenFor, video: Video, invite: Invite, endpoint: tuple
) -> None:
    response = call(client, endpoint, video, headers=bearer(token_for(teammate)))
    assert response.status_code == 403
    if endpoint[0] != "head":
        assert "lacks the permission" in response.json()["detail"]
    assert_no_write_happened(invite, video)


def test_staff_with_view_permission_can_watch_but_not_tag(
    client: Client, teammate: User, token_for: TokenFor, video: Video
) -> None:
    teammate.user_permissions.add(Permission.objects.get(codename="view_video"))
    headers = bearer(token_for(teammate))
    assert client.get(f"/api/v1/videos/{video.id}/stream", headers=headers).status_code == 200
    tag = client.post(
        f"/api/v1/videos/{video.id}/tag", {"tag": "pass"}, content_type="application/json", headers=headers
    )
    assert tag.status_code == 403
    video.refresh_from_db()
    assert video.tag == Tag.PENDING


@pytest.mark.parametrize("endpoint", RECRUITER_ENDPOINTS, ids=endpoint_id)
def test_recruiters_token_is_accepted(api: Client, video: Video, endpoint: tuple) -> None:
    response = call(api, endpoint, video)
    assert response.status_code in (200, 201)


def test_bearer_write_needs_no_csrf_token(recruiter: User, token_for: TokenFor, db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/invites", {"email": "x@example.com"}, content_type="application/json",
        headers=bearer(token_for(recruiter)),
    )  # fmt: skip
    assert response.status_code == 201
    assert Invite.objects.filter(email="x@example.com").exists()


def test_using_a_token_records_when_it_was_last_used(api: Client, db: None) -> None:
    assert ApiToken.objects.get().last_used_at is None
    api.get("/api/v1/invites")
    assert ApiToken.objects.get().last_used_at is not None


# --- staff sessions ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", READ_ENDPOINTS, ids=endpoint_id)
def test_staff_session_can_read(staff_client: Client, video: Video, endpoint: tuple) -> None:
    assert call(staff_client, endpoint, video).status_code == 200


def test_non_staff_session_is_403(client: Client, outsider: User, video: Video) -> None:
    client.force_login(outsider)
    assert client.get("/api/v1/videos").status_code == 403


def test_session_write_without_csrf_token_is_refused(recruiter: User, db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(recruiter)
    response = client.post("/api/v1/invites", {"email": "x@example.com"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Invite.objects.count() == 0


def test_session_tag_without_csrf_token_is_refused(recruiter: User, video: Video) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(recruiter)
    response = client.post(f"/api/v1/videos/{video.id}/tag", {"tag": "pass"}, content_type="application/json")
    assert response.status_code == 403
    video.refresh_from_db()
    assert video.tag == Tag.PENDING


def test_session_write_with_csrf_token_is_accepted(recruiter: User, db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(recruiter)
    token = get_random_string(32)  # what the admin's pages would have set
    client.cookies["csrftoken"] = token
    response = client.post(
        "/api/v1/invites", {"email": "x@example.com"}, content_type="application/json",
        headers={"X-CSRFToken": token},
    )  # fmt: skip
    assert response.status_code == 201
    assert Invite.objects.filter(email="x@example.com").exists()


# --- candidate endpoints need no recruiter credentials ----------------------------------


def test_candidate_token_check_needs_no_credentials(client: Client, invite: Invite) -> None:
    assert client.get(f"/api/v1/invites/{invite.token}").status_code == 200


def test_invite_token_does_not_open_recruiter_endpoints(client: Client, invite: Invite) -> None:
    assert client.get("/api/v1/videos", headers=bearer(invite.token)).status_code == 401


# --- issue_api_token ---------------------------------------------------------------------


def issue(username: str) -> str:
    out = StringIO()
    call_command("issue_api_token", username, stdout=out)
    return out.getvalue()


def test_issue_api_token_prints_a_working_token_last(client: Client, recruiter: User) -> None:
    key = issue("rec").strip().splitlines()[-1]
    assert client.get("/api/v1/invites", headers=bearer(key)).status_code == 200


def test_issue_api_token_stores_only_a_hash(recruiter: User) -> None:
    key = issue("rec").strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert token.user == recruiter
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {str(value) for value in ApiToken.objects.values().get().values()}


def test_issue_api_token_makes_a_new_token_each_time(recruiter: User) -> None:
    first = issue("rec").strip().splitlines()[-1]
    second = issue("rec").strip().splitlines()[-1]
    assert first != second
    assert ApiToken.objects.count() == 2


def test_issue_api_token_for_an_unknown_user_fails(db: None) -> None:
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        issue("ghost")
    assert ApiToken.objects.count() == 0


def test_issue_api_token_for_a_non_staff_user_fails(outsider: User) -> None:
    with pytest.raises(CommandError, match="not an active staff user"):
        issue("out")
    assert ApiToken.objects.count() == 0


def test_issue_api_token_for_an_inactive_staff_user_fails(recruiter: User) -> None:
    User.objects.filter(pk=recruiter.pk).update(is_active=False)
    with pytest.raises(CommandError):
        issue("rec")
    assert ApiToken.objects.count() == 0


# --- /healthz ----------------------------------------------------------------------------


def test_healthz_is_ok(client: Client, db: None) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("storageFreeBytes") > 0  # local media: the free space is checked too
    assert body == {"status": "ok", "database": "ok", "storage": "ok", "queue": "ok", "worker": "ok"}


def test_healthz_is_never_cached(client: Client, db: None) -> None:
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


def test_healthz_is_503_when_the_database_is_unreachable(
    client: Client, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(self: object, *args: object, **kwargs: object) -> None:
        raise OperationalError("could not connect to server")

    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", unreachable)
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    del body["storageFreeBytes"]
    assert body == {
        "status": "unavailable",
        "database": "error",
        "storage": "ok",
        "queue": "error",
        "worker": "unknown",  # the queue can't be read to tell
    }


def test_healthz_is_503_when_storage_fails(client: Client, db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: FileSystemStorage, name: str) -> bool:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(FileSystemStorage, "exists", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    del body["storageFreeBytes"]
    assert body == {
        "status": "unavailable",
        "database": "ok",
        "storage": "error",
        "queue": "ok",
        "worker": "ok",
    }


def test_healthz_refuses_post(client: Client, db: None) -> None:
    assert client.post("/healthz").status_code == 405


# --- OpenAPI -------------------------------------------------------------------------------


def test_docs_page_is_html(client: Client, db: None) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_openapi_lists_the_contract(client: Client, db: None) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/invites",
        "/api/v1/invites/{token}",
        "/api/v1/upload/{token}",
        "/api/v1/videos",
        "/api/v1/videos/{video_id}",
        "/api/v1/videos/{video_id}/stream",
        "/api/v1/videos/{video_id}/tag",
    } <= set(paths)


def test_openapi_describes_the_upload_as_multipart_file(client: Client, db: None) -> None:
    upload = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/upload/{token}"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert {"400", "404", "410", "413", "415"} <= set(upload["responses"])


def test_openapi_marks_recruiter_endpoints_as_authenticated(client: Client, db: None) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert paths["/api/v1/videos"]["get"].get("security")
    assert not paths["/api/v1/upload/{token}"]["post"].get("security")


# --- CORS -------------------------------------------------------------------------------------


def preflight(client: Client, path: str, origin: str, method: str = "GET") -> HttpResponse:
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method})


@override_settings(CORS_ALLOWED_ORIGINS=["http://app.example"])
def test_preflight_from_an_allowed_origin_is_allowed(client: Client, invite: Invite) -> None:
    response = preflight(client, f"/api/v1/invites/{invite.token}", "http://app.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://app.example"


@override_settings(CORS_ALLOWED_ORIGINS=["http://app.example"])
def test_preflight_from_an_unlisted_origin_gets_no_allow_origin(client: Client, invite: Invite) -> None:
    response = preflight(client, f"/api/v1/invites/{invite.token}", "http://evil.example")
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=["http://app.example"])
def test_upload_preflight_from_an_allowed_origin_is_allowed(client: Client, invite: Invite) -> None:
    response = preflight(client, f"/api/v1/upload/{invite.token}", "http://app.example", method="POST")
    assert response["Access-Control-Allow-Origin"] == "http://app.example"
    assert "POST" in response["Access-Control-Allow-Methods"]


@override_settings(CORS_ALLOWED_ORIGINS=["http://app.example"])
def test_cross_origin_get_exposes_range_headers(client: Client, invite: Invite) -> None:
    response = client.get(f"/api/v1/invites/{invite.token}", headers={"Origin": "http://app.example"})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://app.example"
    assert "content-range" in response["Access-Control-Expose-Headers"].lower()


@override_settings(CORS_ALLOWED_ORIGINS=["http://app.example"])
def test_cors_applies_only_to_the_api(client: Client, db: None) -> None:
    response = client.get("/healthz", headers={"Origin": "http://app.example"})
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[])
def test_no_origin_is_allowed_by_default(client: Client, invite: Invite) -> None:
    response = preflight(client, f"/api/v1/invites/{invite.token}", "http://app.example")
    assert "Access-Control-Allow-Origin" not in response


# --- guessing tokens ----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_address_that_guesses_tokens_is_refused_even_with_a_right_one(
    settings, recruiter: User, token_for: Callable[[User], str]
) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_RATE_LIMIT_BAD_TOKENS = 3
    right = token_for(recruiter)
    guesser = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(3):
        wrong = guesser.get(
            "/api/v1/invites", headers={"Authorization": f"Bearer aur_{get_random_string(43)}"}
        )
        assert wrong.status_code == 401
    refused = guesser.get("/api/v1/invites", headers={"Authorization": f"Bearer {right}"})
    assert refused.status_code == 429  # a hit looks like every other answer now
    assert "Too many wrong API tokens" in refused.json()["detail"]

    elsewhere = Client(REMOTE_ADDR="198.51.100.8")
    assert elsewhere.get("/api/v1/invites", headers={"Authorization": f"Bearer {right}"}).status_code == 200


@pytest.mark.django_db
def test_right_tokens_do_not_count_towards_the_limit(
    settings, recruiter: User, token_for: Callable[[User], str]
) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_RATE_LIMIT_BAD_TOKENS = 3
    client = Client(headers={"Authorization": f"Bearer {token_for(recruiter)}"})
    assert {client.get("/api/v1/invites").status_code for _ in range(6)} == {200}
