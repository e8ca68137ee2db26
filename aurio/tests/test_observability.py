"""Request ids, structured logs, the queue in /healthz and /metrics."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone
from gunicorn.config import Config

from aurio import health
from aurio.logs import JsonFormatter, RedactingGunicornLogger, RequestId
from aurio.middleware import current_request_id
from invites.models import Invite
from uploads.models import Upload
from videos.models import Status, Video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the configured console handler writes (its filters), as JSON lines."""
    root = logging.getLogger()
    console = next(h for h in root.handlers if any(isinstance(f, RequestId) for f in h.filters))
    assert isinstance(console, logging.StreamHandler)
    stream = io.StringIO()
    previous_stream, previous_formatter = console.setStream(stream), console.formatter
    console.setFormatter(JsonFormatter())
    try:
        yield stream
    finally:
        console.setStream(previous_stream)
        console.setFormatter(previous_formatter)


def parsed(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- request id -------------------------------------------------------------------------


def test_a_safe_incoming_request_id_is_echoed(client: Client, db: None) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc_DEF"})
    assert response["X-Request-ID"] == "lb-1234.abc_DEF"


def test_a_request_without_an_id_gets_a_new_one(client: Client, db: None) -> None:
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


@pytest.mark.parametrize("incoming", ["a" * 65, "evil\\nid", "spaces are bad", "x;drop", ""])
def test_an_unsafe_request_id_is_replaced(client: Client, db: None, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_the_request_id_is_on_the_log_lines_of_its_request(
    client: Client, db: None, log_lines: io.StringIO
) -> None:
    # Django logs "Not Found" after the middleware has returned: it still has the id.
    client.get("/no-such-page", headers={"X-Request-ID": "req-42"})
    lines = [line for line in parsed(log_lines) if line["logger"] == "django.request"]
    assert lines and lines[0]["message"] == "Not Found: /no-such-page"
    assert lines[0]["request_id"] == "req-42"
    assert lines[0]["level"] == "WARNING"


def test_log_lines_outside_a_request_have_a_dash(client: Client, db: None, log_lines: io.StringIO) -> None:
    client.get("/healthz", headers={"X-Request-ID": "req-43"})
    logging.getLogger("aurio.test").warning("after the request")
    assert current_request_id.get() == "-"
    assert parsed(log_lines)[-1]["request_id"] == "-"


def test_log_lines_keep_tokens_redacted(client: Client, db: None, log_lines: io.StringIO) -> None:
    client.get("/r/abcdefghijklmnopqrstuvwx/nope")
    text = log_lines.getvalue()
    assert "abcdefghijklmnopqrstuvwx" not in text
    assert "/r/[token]" in text


# --- JSON formatter ------------------------------------------------------------------------


def test_json_formatter_writes_one_parseable_object_with_the_exception() -> None:
    try:
        raise ValueError("bad /r/abcdefghijklmnopqrstuvwx")
    except ValueError:
        record = logging.getLogger("aurio.x").makeRecord(
            "aurio.x", logging.ERROR, __file__, 1, "failed for %s", ("Ann",), sys.exc_info()
        )
    RequestId().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR"
    assert data["logger"] == "aurio.x"
    assert data["message"] == "failed for Ann"
    assert data["request_id"] == "-"
    assert data["time"].endswith("+00:00")
    assert "ValueError: bad /r/[token]" in data["exc_info"]
    assert "Traceback" in data["exc_info"]


def test_json_formatter_leaves_out_exc_info_when_there_is_none() -> None:
    record = logging.makeLogRecord(
        {"name": "aurio.x", "levelno": logging.INFO, "levelname": "INFO", "msg": "hi"}
    )
    assert "exc_info" not in json.loads(JsonFormatter().format(record))


@pytest.mark.parametrize(
    ("env", "formatter"),
    [
        ({}, "json"),
        ({"DEBUG": "true"}, "text"),
        ({"LOG_FORMAT": "text"}, "text"),
        ({"DEBUG": "true", "LOG_FORMAT": "json"}, "json"),
    ],
)
def test_log_format_defaults_to_json_unless_debug(
    tmp_path: Path, env: dict[str, str], formatter: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "LOG_FORMAT")}
    clean.update(env, AURIO_DATA_DIR=str(tmp_path), SECRET_KEY="x" * 50)
    code = "import aurio.settings as s; print(s.LOGGING['handlers']['console']['formatter'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == formatter, result.stderr


def test_gunicorn_access_log_ends_with_the_request_id() -> None:
    logger = RedactingGunicornLogger(Config())
    logger._access_log_enabled = True
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.access_log.addHandler(handler)
    try:
        response = SimpleNamespace(status="200 OK", sent=10, headers=[("X-Request-ID", "req-7")])
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/r/abcdefghijklmnopqrstuvwx",
            "PATH_INFO": "/r/abcdefghijklmnopqrstuvwx",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.0.0.1",
        }
        logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(seconds=1))
    finally:
        logger.access_log.removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith(" req-7")
    assert "abcdefghijklmnopqrstuvwx" not in line


# --- /healthz: the queue --------------------------------------------------------------------


def test_healthz_reports_the_queue(client: Client, db: None) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["queue"] == "ok"


def test_healthz_is_503_when_the_queue_fails(
    client: Client, db: None, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    def unreachable() -> None:
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(health, "check_queue", unreachable)
    response = client.get("/healthz", headers={"X-Request-ID": "hz-1"})
    assert response.status_code == 503
    body = response.json()
    del body["storageFreeBytes"]
    assert body == {
        "status": "unavailable",
        "database": "ok",
        "storage": "ok",
        "queue": "error",
        "worker": "ok",
    }
    [line] = [line for line in parsed(log_lines) if line["logger"] == "aurio.health"]
    assert line["request_id"] == "hz-1"
    assert "ConnectionError: Error 111" in line["exc_info"]


def test_the_database_queue_is_checked_with_a_query(db: None, django_assert_num_queries: object) -> None:
    with django_assert_num_queries(1):  # type: ignore[operator]
        health.check_queue()


def test_the_redis_queue_is_checked_with_a_ping(settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.tasks import task_backends

    from aurio.tasks_redis import RedisBackend

    settings.TASKS = {"default": {"BACKEND": "aurio.tasks_redis.RedisBackend"}}  # type: ignore[attr-defined]
    pings: list[bool] = []
    monkeypatch.setattr(RedisBackend, "connection", SimpleNamespace(ping=lambda: pings.append(True)))
    assert isinstance(task_backends["default"], RedisBackend)
    health.check_queue()
    assert pings == [True]


def test_a_backend_s_own_health_check_is_used(settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.tasks import task_backends
    from django.tasks.backends.dummy import DummyBackend

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # type: ignore[attr-defined]

    def down(self: DummyBackend) -> None:
        raise OSError("queue down")

    monkeypatch.setattr(DummyBackend, "check_health", down, raising=False)
    assert isinstance(task_backends["default"], DummyBackend)
    with pytest.raises(OSError, match="queue down"):
        health.check_queue()


# --- /metrics -------------------------------------------------------------------------------


@pytest.fixture
def some_rows(invite: Invite) -> None:
    for status, size in ((Status.READY, 1000), (Status.READY, 524_288_001), (Status.FAILED, 500)):
        Video.objects.create(
            invite=invite,
            file=f"videos/{status}-{size}.webm",
            content_type="video/webm",
            size=size,
            sha256="0" * 64,
            status=status,
            processing_run=1,
        )
    Upload.objects.create(invite=invite, length=1000, offset=400)
    Upload.objects.create(invite=invite, length=1000, offset=1000, failure="not a video")
    Invite.objects.filter(pk=invite.pk).update(submitted_at=timezone.now())


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_count_videos_uploads_and_invites(client: Client, some_rows: None) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.content.decode()
    assert "# TYPE aurio_videos gauge" in text
    values = samples(text)
    assert values['aurio_videos{status="ready"}'] == 2
    assert values['aurio_videos{status="failed"}'] == 1
    assert values['aurio_videos{status="uploaded"}'] == 0
    assert "aurio_video_bytes 524289501\n" in text  # every digit, no exponent
    assert values["aurio_video_processing_runs"] == 3
    assert values["aurio_processing_backlog_age_seconds"] == 0
    assert values["aurio_uploads_in_progress"] == 1
    assert values["aurio_uploads_in_progress_bytes"] == 400
    assert values["aurio_uploads_refused"] == 1
    assert values['aurio_invites{status="submitted"}'] == 1
    assert values['aurio_invites{status="open"}'] == 0


def test_metrics_show_how_long_the_oldest_waiting_video_has_waited(client: Client, invite: Invite) -> None:
    Video.objects.create(
        invite=invite,
        file="videos/waiting.webm",
        content_type="video/webm",
        size=10,
        sha256="0" * 64,
        created_at=timezone.now() - timedelta(minutes=10),
    )
    values = samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode())
    assert values['aurio_videos{status="uploaded"}'] == 1
    assert 590 < values["aurio_processing_backlog_age_seconds"] < 700


def test_metrics_on_an_empty_database(client: Client, db: None) -> None:
    values = samples(client.get("/metrics", REMOTE_ADDR="::1").content.decode())
    assert values['aurio_videos{status="ready"}'] == 0
    assert values["aurio_video_bytes"] == 0
    assert values['aurio_invites{status="revoked"}'] == 0


def test_metrics_refuse_other_addresses(client: Client, db: None) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"aurio_videos" not in response.content


def test_metrics_refuse_requests_through_a_proxy_by_address(client: Client, db: None) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 403


def test_metrics_allow_configured_networks(client: Client, db: None, settings: object) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]  # type: ignore[attr-defined]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_accept_the_bearer_token_from_anywhere(client: Client, db: None, settings: object) -> None:
    settings.METRICS_TOKEN = "scrape-secret"  # type: ignore[attr-defined]
    auth = {"Authorization": "Bearer scrape-secret"}
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers=auth).status_code == 200
    wrong = {"Authorization": "Bearer guess"}
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers=wrong).status_code == 403


def test_without_a_token_configured_no_bearer_is_accepted(client: Client, db: None, settings: object) -> None:
    settings.METRICS_TOKEN = ""  # type: ignore[attr-defined]
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers={"Authorization": "Bearer "})
    assert response.status_code == 403


def test_metrics_refuse_post(client: Client, db: None) -> None:
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405
