"""The database goes away: every request that needs it gets a 503 that says so,
with Retry-After (JSON under /api/, a page elsewhere), never a 500 with a
traceback; /healthz says the database is down; what the candidate had already
uploaded is kept, and the upload carries on and finishes once it is back.

In process, aurio.middleware.DatabaseUnavailableMiddleware is tested through
a test-only URLconf (tests/faults/urls.py). Under real gunicorn, the
fault-injecting proxy (tests/support/faultproxy.py) stands between aurio and
PostgreSQL: refusing connections there is the database being down.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from pathlib import Path

import pytest
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.test import Client, override_settings
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError

from aurio.middleware import DATABASE_RETRY_AFTER_SECONDS, database_unreachable
from invites.models import Invite
from tests.faults.checks import assert_kept_but_not_submitted, resume_and_finish
from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.server import AurioServer, Reply, Template, postgres_address, wait_until
from tests.support.tus import MIB, TUS, TusUpload

RETRY_AFTER = str(DATABASE_RETRY_AFTER_SECONDS)


# --- in process: the middleware ----------------------------------------------------------


@pytest.fixture
def outage_urls() -> Iterator[None]:
    with override_settings(ROOT_URLCONF="tests.faults.urls"):
        yield


def assert_friendly_page(status: int, headers: Mapping[str, str] | Message, html: str) -> None:
    assert status == 503
    assert headers["Retry-After"] == RETRY_AFTER
    assert headers["Content-Type"].startswith("text/html")
    assert "Back in a moment" in html and "cannot reach its database" in html
    for leak in ("Traceback", "OperationalError", "Connection refused", "5432"):
        assert leak not in html


def assert_json_503(reply: Reply) -> None:
    assert reply.status == 503, reply
    assert reply.headers["Retry-After"] == RETRY_AFTER
    assert reply.headers["Content-Type"] == "application/json"
    assert "cannot reach its database" in reply.json()["detail"]


def test_a_page_meeting_an_unreachable_database_gets_a_friendly_503(
    client: Client, outage_urls: None
) -> None:
    response = client.get("/r/some-page")
    assert_friendly_page(response.status_code, response.headers, response.content.decode())
    assert response["Cache-Control"] == "no-store"
    # Still a page of aurio's: same security headers, no inline script or style.
    assert "Content-Security-Policy" in response
    assert "<script>" not in response.content.decode() and "style=" not in response.content.decode()


@pytest.mark.parametrize("path", ["/api/v1/something", "/api/v1/closed"])
def test_the_api_meeting_an_unreachable_database_gets_json_503(
    client: Client, outage_urls: None, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response.json()["detail"].startswith("aurio is briefly unavailable")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_real_api_operation_meeting_an_unreachable_database_gets_json_503(
    api: Client, settings: object, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    """django-ninja catches its operations' exceptions before the middleware
    (with DEBUG on it would answer a traceback): its own handler answers the same."""
    from django.db import OperationalError

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    settings.DEBUG = debug  # type: ignore[attr-defined]
    monkeypatch.setattr("aurio.auth.ApiToken.objects.select_related", down)
    response = api.get("/api/v1/invites")
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response.json()["detail"].startswith("aurio is briefly unavailable")
    assert "Traceback" not in response.content.decode()


def test_the_outage_is_logged_once_per_request(
    client: Client, outage_urls: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        client.get("/api/v1/something", headers={"X-Request-ID": "outage-1"})
    ours = [r for r in caplog.records if r.name == "aurio.middleware"]
    assert len(ours) == 1
    assert (
        "GET /api/v1/something answered 503 (OperationalError: connection to server" in ours[0].getMessage()
    )
    assert not [r for r in caplog.records if r.name == "django.request"]  # no second line for it


def test_other_errors_are_not_taken_for_an_outage(client: Client, outage_urls: None) -> None:
    with pytest.raises(ValueError, match="a bug"):
        client.get("/r/bug")


# --- under gunicorn: PostgreSQL behind the fault proxy ------------------------------------


@pytest.fixture
def database_link(aurio_template: Template) -> Iterator[FaultProxy]:
    """The fault proxy between aurio and its PostgreSQL server."""
    with fault_proxy(*postgres_address()) as proxy:
        yield proxy


def assert_logged_once(server: AurioServer, reply: Reply) -> None:
    """The 503 is in aurio's log exactly once, under the request id the client was given."""
    request_id = reply.headers["X-Request-ID"]
    lines = [line for line in server.json_log() if line["request_id"] == request_id]
    outage = [line for line in lines if line["logger"] == "aurio.middleware"]
    assert len(outage) == 1 and "answered 503" in outage[0]["message"], lines
    assert not [line for line in lines if line["logger"] == "django.request"], lines


def test_database_outage_answers_503_everywhere_and_the_upload_finishes_after_it(
    start_aurio: Callable[..., AurioServer], database_link: FaultProxy, large_video: bytes
) -> None:
    server = start_aurio(database_port=database_link.port)
    invite = server.new_invite()
    token = invite["token"]
    tus = TusUpload(server.port, token, large_video)
    tus.create()
    committed = tus.send_chunks(3)

    database_link.refuse_for(600)  # PostgreSQL is gone until allow()

    page = server.fetch("GET", f"/r/{token}")
    assert_friendly_page(page.status, page.headers, page.body.decode())
    assert_logged_once(server, page)
    head = server.fetch("HEAD", tus.location, headers=TUS)
    assert head.status == 503 and head.headers["Retry-After"] == RETRY_AFTER
    patch = tus.patch(committed)
    assert_json_503(patch)
    assert_logged_once(server, patch)
    assert_json_503(tus.finish())
    assert_json_503(server.api("GET", "/invites"))
    health = server.fetch("GET", "/healthz")
    assert health.status == 503
    assert health.json()["database"] == "error" and health.json()["storage"] == "ok"
    assert database_link.refused > 0  # the answers above really met the outage

    database_link.allow()
    wait_until(lambda: server.fetch("GET", "/healthz").status == 200, what="aurio to see its database again")
    assert_kept_but_not_submitted(server, tus, invite["id"], committed)  # nothing uploaded was lost
    resume_and_finish(server, tus, invite["id"])


def test_database_lost_mid_patch_keeps_what_was_committed(
    start_aurio: Callable[..., AurioServer], database_link: FaultProxy, large_video: bytes
) -> None:
    """The connection the PATCH holds dies while the body arrives: 503, nothing
    of that chunk kept (in the database or in storage), and the client goes on."""
    server = start_aurio(database_port=database_link.port)
    invite = server.new_invite()
    tus = TusUpload(server.port, invite["token"], large_video)
    tus.create()
    committed = tus.send_chunks(1)

    connection = tus.start_patch(committed, MIB // 2)
    wait_until(server.spooling, what="the worker to start reading the PATCH body")
    database_link.refuse_for(600)  # resets the PATCH's open database connection
    connection.send(large_video[committed + MIB // 2 : committed + MIB])
    response = connection.getresponse()
    assert response.status == 503, response.read()
    assert response.headers["Retry-After"] == RETRY_AFTER
    connection.close()

    database_link.allow()
    assert_kept_but_not_submitted(server, tus, invite["id"], committed)
    stored = sorted(p.name for p in (server.media / "uploads" / tus.upload_id).iterdir())
    [(kept,)] = server.database.rows("SELECT name FROM uploads_chunk WHERE upload_id = %s", tus.upload_id)
    assert stored == [kept.rsplit("/", 1)[-1]]  # no stray part of the chunk that failed
    resume_and_finish(server, tus, invite["id"])


@pytest.mark.django_db
def test_a_chunk_stored_just_before_the_database_fails_is_not_left_behind(
    invite: Invite, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The part is in storage but its row can't be written: no row would ever
    point at it, so it is removed, and the answer is the outage's 503."""
    from django.db import OperationalError

    from uploads import services
    from uploads.models import Chunk, Upload

    upload = Upload.objects.create(invite=invite, length=10)

    def down(self: Chunk, *args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Chunk, "save", down)
    with pytest.raises(OperationalError):
        services.upload_append(upload=upload, offset=0, stream=io.BytesIO(b"0123456789"))
    parts = media_root / "uploads" / str(upload.pk)
    assert not parts.exists() or not any(parts.iterdir())
    upload.refresh_from_db()
    assert upload.offset == 0


def mongo_wrapped(cause: Exception) -> DatabaseError:
    error = DatabaseError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("exception", "unreachable"),
    [
        (OperationalError("connection refused"), True),
        (InterfaceError("connection already closed"), True),
        (ServerSelectionTimeoutError("no servers found"), True),  # pymongo, raw
        (mongo_wrapped(AutoReconnect("connection reset")), True),  # as django-mongodb-backend raises it
        (DatabaseError("syntax error"), False),
        (IntegrityError("duplicate key"), False),
        (mongo_wrapped(OperationFailure("bad query")), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_a_database_that_is_down_counts_as_unreachable(exception: Exception, unreachable: bool) -> None:
    assert database_unreachable(exception) is unreachable
