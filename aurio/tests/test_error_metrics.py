"""/metrics counts error answers (408, 429, 5xx) across processes, in the shared cache."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from aurio import metrics
from invites.models import Invite

pytestmark = pytest.mark.django_db


def errors(client: Client) -> dict[str, int]:
    text = client.get("/metrics").content.decode()
    return {
        status: int(value)
        for status, value in re.findall(r'^aurio_http_errors_total\{status="(\w+)"\} (\d+)$', text, re.M)
    }


def test_nothing_counted_yet(client: Client) -> None:
    counts = errors(client)
    assert set(counts) == {"408", "429", "500", "502", "503", "504", "5xx"}
    assert set(counts.values()) == {0}
    assert "# TYPE aurio_http_errors_total counter" in client.get("/metrics").content.decode()


def test_a_crash_is_counted_as_500(client: Client, invite: Invite, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(token: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("invites.views.invite_for_token", crash)
    client.raise_request_exception = False
    assert client.get(f"/r/{invite.token}").status_code == 500
    assert client.get(f"/r/{invite.token}").status_code == 500
    assert errors(client)["500"] == 2


def test_held_back_requests_are_counted_as_429(client: Client, invite: Invite, settings: Settings) -> None:
    settings.AURIO_RATE_LIMIT_REQUESTS = 1
    client.get(f"/r/{invite.token}")
    assert client.get(f"/r/{invite.token}").status_code == 429
    counts = errors(client)
    assert counts["429"] == 1
    assert counts["500"] == 0


def test_success_and_ordinary_refusals_are_not_counted(client: Client, invite: Invite) -> None:
    assert client.get(f"/r/{invite.token}").status_code == 200
    assert client.get("/r/not-a-real-token").status_code == 404
    assert set(errors(client).values()) == {0}


def test_an_unusual_5xx_lands_in_its_own_bucket() -> None:
    metrics.count_error("5xx")
    metrics.count_error("5xx")
    assert cache.get("metrics:http:5xx") == 2


def test_a_counter_never_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.count_error("503")
    metrics.count_error("503")
    later = timezone.now() + timedelta(days=10)  # past any default expiry
    monkeypatch.setattr("django.core.cache.backends.db.tz_now", lambda: later)  # the cache table's clock
    assert cache.get("metrics:http:503") == 2


def test_a_broken_cache_loses_the_count_but_not_the_answer(
    client: Client, invite: Invite, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "incr", broken)
    monkeypatch.setattr(cache, "add", broken)
    metrics.count_error("503")  # logs, doesn't raise
    monkeypatch.setattr(cache, "get_many", broken)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"aurio_http_errors_total" not in response.content
    assert b"aurio_videos" in response.content
