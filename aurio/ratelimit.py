"""Rate limits per client address, so invite links and API tokens can't be
guessed.

Counters live in Django's cache ("default": the database cache, or Redis), so
every web process on every machine shares them. Each counter is a sliding
window (`Window`): a key per address and fixed window, counted with ``incr``,
and the previous window's count weighed in by how much of it is still recent.

Candidate endpoints (``@rate_limited`` on Django views, ``@limited_api`` on
ninja operations) get two limits:

- unknown links: every 404 answer counts; after ``AURIO_RATE_LIMIT_BAD_TOKENS``
  in ``AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW`` seconds the address gets 429 on
  every candidate endpoint until the window ends (answering only unknown
  tokens with 429 would still tell a guesser when they hit a real one);
- every request: ``AURIO_RATE_LIMIT_REQUESTS`` a minute, or
  ``AURIO_RATE_LIMIT_TUS_REQUESTS`` for the tus endpoints, whose PATCH chunks
  are many per upload.

A request with a body also needs an upload slot in its process (aurio.slots).
Wrong API tokens count like unknown links, in a window of their own
(`bad_keys_retry_after`, `count_bad_key`, used by aurio.auth).

If the cache is unreachable the limits are skipped (and logged): a broken
Redis must not stop candidates from submitting.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from ninja.decorators import decorate_view

from aurio.clients import client_address
from aurio.slots import has_body, upload_slots

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]


def cache_incr(key: str, *, timeout: int | None) -> int:
    """Add one to a counter every process shares; a new one lives `timeout` seconds."""
    try:
        return cache.incr(key)
    except ValueError:
        # The first count: `add` loses no race with another process's `add`.
        return 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)


class Window:
    """A sliding-window counter: `name` for one address (or address+username).

    Hits are counted per fixed window, but a limit is checked against the last
    `seconds` as a whole: this window's hits plus the share of the previous
    window's that still falls inside them. So no burst across a window's
    boundary gets twice the limit through.
    """

    def __init__(self, name: str, who: str, seconds: int, now: float | None = None) -> None:
        now = time.time() if now is None else now
        start = int(now // seconds) * seconds
        self.key = f"rl:{name}:{who}:{start}"
        self.previous_key = f"rl:{name}:{who}:{start - seconds}"
        self.seconds = seconds
        self._left_of_window = start + seconds - now
        self._previous_weight = self._left_of_window / seconds

    def _estimate(self, current: int, previous: int) -> int:
        return current + int(previous * self._previous_weight)

    def count(self) -> int:
        values = cache.get_many([self.key, self.previous_key])
        return self._estimate(int(values.get(self.key, 0)), int(values.get(self.previous_key, 0)))

    def hit(self) -> int:
        """Count one more; returns the count over the last `seconds`."""
        # Kept for two windows: the next one weighs it in.
        current = cache_incr(self.key, timeout=2 * self.seconds + 60)
        return self._estimate(current, int(cache.get(self.previous_key, 0)))

    def forget(self) -> None:
        cache.delete_many([self.key, self.previous_key])

    def retry_after(self, limit: int) -> int:
        """Seconds until the count over the last `seconds` drops below `limit`
        again, if nothing more is counted meanwhile."""
        values = cache.get_many([self.key, self.previous_key])
        current = int(values.get(self.key, 0))
        previous = int(values.get(self.previous_key, 0))
        if current >= limit:
            # Wait for this window to end and then for enough of it to slide out.
            wait = self._left_of_window + self.seconds * (1 - (limit - 1) / current)
        elif previous:
            # The previous window's share has to shrink below what is left of the limit.
            wait = self._left_of_window - self.seconds * (limit - 1 - current) / previous
        else:
            wait = 1
        return max(1, int(wait) + 1)


def _too_many(request: HttpRequest, retry_after: int, html: bool) -> HttpResponse:
    detail = "Too many requests from your address. Please wait a few minutes and try again."
    if html:
        response = render(request, "ratelimited.html", {"minutes": -(-retry_after // 60)}, status=429)
    else:
        response = JsonResponse({"detail": detail}, status=429)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _refusal(request: HttpRequest, *, tus: bool) -> tuple[Window | None, int | None]:
    """The bad-token window to count 404s in, and a Retry-After when refused now."""
    who = client_address(request)
    bad = Window("bad", who, settings.AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW)
    if bad.count() >= settings.AURIO_RATE_LIMIT_BAD_TOKENS:
        return bad, bad.retry_after(settings.AURIO_RATE_LIMIT_BAD_TOKENS)
    limit = settings.AURIO_RATE_LIMIT_TUS_REQUESTS if tus else settings.AURIO_RATE_LIMIT_REQUESTS
    every = Window("tus" if tus else "req", who, 60)
    if every.hit() > limit:
        return bad, every.retry_after(limit)
    return bad, None


def rate_limited(*, html: bool = False, tus: bool = False) -> Callable[[View], View]:
    """Limit a candidate view per client address (see the module's docstring).
    `html`: answer 429 with a page rather than JSON."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                bad, retry_after = _refusal(request, tus=tus)
            except Exception:
                logger.warning("rate limit: cache unavailable, not limiting", exc_info=True)
                bad, retry_after = None, None
            if retry_after is not None:
                return _too_many(request, retry_after, html)
            if has_body(request):
                with upload_slots.take(str(kwargs.get("token", ""))) as refusal:
                    response = refusal or view(request, *args, **kwargs)
            else:
                response = view(request, *args, **kwargs)
            if response.status_code == 404 and bad is not None:
                try:
                    bad.hit()
                except Exception:
                    logger.warning("rate limit: cache unavailable, not counting", exc_info=True)
            return response

        return wrapped

    return decorator


# For django-ninja operations: `@limited_api` under the `@router.<method>(...)` line.
limited_api = decorate_view(rate_limited())


# --- API tokens ------------------------------------------------------------------
# Wrong bearer tokens count like unknown links, in a window of their own: an
# address that sends too many gets 429 from the API until the count slides down.


def _bad_key_window(request: HttpRequest) -> Window:
    return Window("badkey", client_address(request), settings.AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW)


def bad_keys_retry_after(request: HttpRequest) -> int | None:
    """Seconds this address must wait before its API tokens are checked again, or None."""
    try:
        window = _bad_key_window(request)
        if window.count() >= settings.AURIO_RATE_LIMIT_BAD_TOKENS:
            return window.retry_after(settings.AURIO_RATE_LIMIT_BAD_TOKENS)
    except Exception:
        logger.warning("rate limit: cache unavailable, not limiting", exc_info=True)
    return None


def count_bad_key(request: HttpRequest) -> None:
    try:
        _bad_key_window(request).hit()
    except Exception:
        logger.warning("rate limit: cache unavailable, not counting", exc_info=True)
