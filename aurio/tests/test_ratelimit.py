"""Rate limits per client address on the candidate endpoints (aurio/ratelimit.py).

The test settings raise every limit far above what the suite needs; these tests
put the real defaults back with `settings`, and each uses its own client
address, so counters never leak from one test to another (and the shared
cache is never cleared)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from aurio.ratelimit import Window
from invites.models import Invite
from invites.services import invite_revoke

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TUS = {"Tus-Resumable": "1.0.0"}
BAD = "x" * 32


@pytest.fixture
def defaults(settings) -> None:  # type: ignore[no-untyped-def]
    """The limits a deployment gets when it sets nothing."""
    settings.AURIO_RATE_LIMIT_BAD_TOKENS = 20
    settings.AURIO_RATE_LIMIT_REQUESTS = 600
    settings.AURIO_RATE_LIMIT_TUS_REQUESTS = 3000


def new_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
def visitor() -> Client:
    return Client(REMOTE_ADDR=new_address())


def check(client: Client, token: str):  # type: ignore[no-untyped-def]
    return client.get(reverse("api:check_invite", args=[token]))


def guess(client: Client, times: int) -> None:
    for _ in range(times):
        assert check(client, BAD).status_code == 404


def test_the_defaults_are_20_unknown_links_and_600_requests_a_minute(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AURIO_", "DJANGO_", "CACHE_URL", "REDIS"))
    }
    env.update(SECRET_KEY="x", AURIO_DATA_DIR=str(tmp_path))
    code = (
        "from aurio import settings as s; print(s.AURIO_RATE_LIMIT_BAD_TOKENS, s.AURIO_RATE_LIMIT_REQUESTS, "
        "s.AURIO_LOGIN_FAILURES, s.USE_X_FORWARDED_FOR, s.CACHES['default']['BACKEND'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["20", "600", "5", "False", "django.core.cache.backends.db.DatabaseCache"]


def test_redis_cache_when_cache_url_is_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS"))}
    env.update(SECRET_KEY="x", AURIO_DATA_DIR=str(tmp_path), CACHE_URL="redis://127.0.0.1:6379/5")
    code = "from aurio.settings import CACHES as c; print(c['default']['BACKEND'], c['default']['LOCATION'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://127.0.0.1:6379/5",
    ]


@pytest.mark.skipif(
    "DatabaseCache" not in django_settings.CACHES["default"]["BACKEND"], reason="not the database cache"
)
def test_migrate_creates_the_cache_table() -> None:
    assert "aurio_cache" in connection.introspection.table_names()
    cache.set("rl:probe", 1)
    assert cache.get("rl:probe") == 1


def test_unknown_links_are_refused_after_the_default_limit(
    defaults: None, visitor: Client, invite: Invite
) -> None:
    guess(visitor, 20)
    refused = check(visitor, BAD)
    assert refused.status_code == 429
    assert "Too many requests" in refused.json()["detail"]
    assert (
        1 <= int(refused["Retry-After"]) <= 1201
    )  # this window, then until the count slides below the limit
    # Now even a real link is refused: a different answer would tell a guesser they hit one.
    assert check(visitor, invite.token).status_code == 429


def test_the_limit_covers_every_candidate_endpoint(defaults: None, visitor: Client, invite: Invite) -> None:
    guess(visitor, 20)
    token = invite.token
    page = visitor.get(reverse("invites:record", args=[token]))
    assert page.status_code == 429
    assert "Please wait a moment" in page.content.decode()
    assert page["Content-Type"].startswith("text/html")
    assert "Retry-After" in page
    assert visitor.get(reverse("invites:done", args=[token])).status_code == 429
    assert visitor.post(reverse("api:start_take", args=[token])).status_code == 429
    assert visitor.post(reverse("api:upload_video", args=[token])).status_code == 429
    assert visitor.post(reverse("api:finish_upload", args=[token, BAD])).status_code == 429
    tus = visitor.post(reverse("uploads:uploads", args=[token]), headers={**TUS, "Upload-Length": "10"})
    assert tus.status_code == 429
    assert tus.json()["detail"]
    assert "Retry-After" in tus
    assert visitor.generic("PATCH", reverse("uploads:upload", args=[token, BAD]), b"").status_code == 429
    # Refused before the view: nothing was recorded.
    invite.refresh_from_db()
    assert not invite.answers.filter(takes__gt=0).exists()
    assert invite.opened_at is None
    assert not invite.uploads.exists()


def test_another_address_is_not_limited(defaults: None, visitor: Client, invite: Invite) -> None:
    guess(visitor, 20)
    assert check(visitor, invite.token).status_code == 429
    assert check(Client(REMOTE_ADDR=new_address()), invite.token).status_code == 200


def test_unknown_links_count_on_pages_and_tus_too(defaults: None, visitor: Client, invite: Invite) -> None:
    for _ in range(10):
        assert visitor.get(reverse("invites:record", args=[BAD])).status_code == 404
    for _ in range(5):
        head = visitor.head(reverse("uploads:upload", args=[invite.token, BAD]), headers=TUS)
        assert head.status_code == 404  # an unknown upload of a real invite counts as well
    for _ in range(5):
        assert visitor.post(reverse("api:finish_upload", args=[BAD, BAD])).status_code == 404
    assert check(visitor, invite.token).status_code == 429


def test_expired_or_revoked_links_do_not_count(defaults: None, visitor: Client, invite: Invite) -> None:
    invite_revoke(invite=invite)
    for _ in range(25):
        assert check(visitor, invite.token).status_code == 410
    assert check(visitor, BAD).status_code == 404


def test_every_address_has_a_cap_per_minute(settings, visitor: Client, invite: Invite) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_RATE_LIMIT_REQUESTS = 5
    for _ in range(5):
        assert check(visitor, invite.token).status_code == 200
    refused = visitor.get(reverse("invites:record", args=[invite.token]))
    assert refused.status_code == 429
    # At most the rest of this minute and then the time for its count to slide below the limit.
    assert 1 <= int(refused["Retry-After"]) <= 121


def test_tus_chunks_have_their_own_looser_cap(settings, visitor: Client, invite: Invite) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_RATE_LIMIT_REQUESTS = 2
    settings.AURIO_RATE_LIMIT_TUS_REQUESTS = 10
    url = reverse("uploads:uploads", args=[invite.token])
    for _ in range(10):
        assert visitor.options(url).status_code == 204
    assert visitor.options(url).status_code == 429
    # The page and API count apart from the chunks.
    assert check(visitor, invite.token).status_code == 200


def test_forwarded_for_is_ignored_by_default(defaults: None, visitor: Client, invite: Invite) -> None:
    for n in range(20):
        assert (
            visitor.get(
                reverse("api:check_invite", args=[BAD]), HTTP_X_FORWARDED_FOR=f"1.2.3.{n}"
            ).status_code
            == 404
        )
    other = visitor.get(reverse("api:check_invite", args=[invite.token]), HTTP_X_FORWARDED_FOR="9.9.9.9")
    assert other.status_code == 429


def test_forwarded_for_counts_per_client_when_enabled(settings, defaults: None, invite: Invite) -> None:  # type: ignore[no-untyped-def]
    settings.USE_X_FORWARDED_FOR = True
    proxy = Client(REMOTE_ADDR="192.0.2.1")
    first, second = new_address(), new_address()
    for _ in range(20):
        # What the client wrote itself (here a new made-up address every time) comes
        # first; the proxy appended the address it saw.
        response = proxy.get(
            reverse("api:check_invite", args=[BAD]), HTTP_X_FORWARDED_FOR=f"{new_address()}, {first}"
        )
        assert response.status_code == 404
    assert proxy.get(reverse("api:check_invite", args=[BAD]), HTTP_X_FORWARDED_FOR=first).status_code == 429
    assert (
        proxy.get(reverse("api:check_invite", args=[invite.token]), HTTP_X_FORWARDED_FOR=second).status_code
        == 200
    )


def test_a_broken_cache_does_not_stop_candidates(
    defaults: None, visitor: Client, invite: Invite, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "incr", broken)
    assert check(visitor, invite.token).status_code == 200
    assert check(visitor, BAD).status_code == 404


def test_staff_endpoints_are_not_limited_by_candidate_counters(
    defaults: None, invite: Invite, api: Client
) -> None:
    address = new_address()
    guesser = Client(REMOTE_ADDR=address)
    guess(guesser, 20)
    assert check(guesser, invite.token).status_code == 429
    assert api.get(reverse("api:list_invites"), REMOTE_ADDR=address).status_code == 200


# --- sliding windows -------------------------------------------------------------------------


def test_a_burst_across_a_window_boundary_does_not_get_twice_the_limit(db: None) -> None:
    """20 hits at the very end of one minute and 20 at the start of the next: the
    second burst is counted together with the first, as one minute's worth."""
    end_of_minute = 600 * 60 - 1.0
    for _ in range(20):
        Window("req", "192.0.2.9", 60, now=end_of_minute).hit()
    next_minute = Window("req", "192.0.2.9", 60, now=end_of_minute + 2)
    assert next_minute.count() >= 19  # the first burst still weighs nearly in full
    assert next_minute.hit() >= 20


def test_the_previous_window_fades_out_as_time_slides(db: None) -> None:
    for _ in range(30):
        Window("req", "192.0.2.10", 60, now=6000.0).hit()  # the window [6000, 6060)
    assert Window("req", "192.0.2.10", 60, now=6060.0 + 15).count() == 22  # 3/4 of the window left: 30 * 0.75
    assert Window("req", "192.0.2.10", 60, now=6060.0 + 45).count() == 7
    assert Window("req", "192.0.2.10", 60, now=6120.0 + 1).count() == 0  # two windows on: gone


def test_retry_after_is_when_the_count_drops_below_the_limit(db: None) -> None:
    for _ in range(10):
        Window("bad", "192.0.2.11", 600, now=1200.0).hit()
    blocked = Window("bad", "192.0.2.11", 600, now=1500.0)  # half the window left
    # Ten hits against a limit of 10: this window's remaining 300 s, then until 9 remain.
    assert blocked.retry_after(10) == int(300 + 600 * (1 - 9 / 10)) + 1
    later = Window("bad", "192.0.2.11", 600, now=1800.0 + 59)
    assert later.count() == 9
    assert later.retry_after(10) <= 2  # already below: only the rounding up is left
