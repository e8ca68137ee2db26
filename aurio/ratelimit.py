"""Rate limits per client address, so invite links can't be guessed and the
staff login can't be brute-forced.

Counters live in Django's cache ("default": the database cache, or Redis), so
every web process on every machine shares them. Each counter is a sliding
window: a key per address and fixed window, counted with ``incr``, and the
previous window's count weighed in by how much of it is still recent.

Candidate endpoints (``@rate_limited`` on Django views, ``@limited_api`` on
ninja operations) get two limits:

- unknown links: every 404 answer counts; after ``AURIO_RATE_LIMIT_BAD_TOKENS``
  in ``AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW`` seconds the address gets 429 on
  every candidate endpoint until the window ends (answering only unknown
  tokens with 429 would still tell a guesser when they hit a real one);
- every request: ``AURIO_RATE_LIMIT_REQUESTS`` a minute, or
  ``AURIO_RATE_LIMIT_TUS_REQUESTS`` for the tus endpoints, whose PATCH chunks
  are many per upload.

If the cache is unreachable the limits are skipped (and logged): a broken
Redis must not stop candidates from submitting.

Requests that carry a body (upload chunks, files) also need a slot in their
web process (`UploadSlots`): at most ``AURIO_MAX_UPLOADS_PER_PROCESS`` at once,
and ``AURIO_MAX_UPLOADS_PER_LINK`` for one invite link, so slow uploads can't
take every thread. The slots are counted in memory, not in the cache: a
process that dies takes its slots with it, and nothing is left to expire.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from ninja.decorators import decorate_view

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]


def peer_address(request: HttpRequest) -> str:
    """The address the request came from: REMOTE_ADDR or, with USE_X_FORWARDED_FOR
    behind AURIO_TRUSTED_PROXIES proxies, the address the outermost of them saw.

    Each proxy appends the address it saw to X-Forwarded-For, so that one is the
    N-th entry from the right; everything to its left the client wrote itself
    and could make up (the first entry is the classic mistake)."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.USE_X_FORWARDED_FOR:
        entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if entries:
            address = entries[-min(settings.AURIO_TRUSTED_PROXIES, len(entries))]
    return address


def client_address(request: HttpRequest) -> str:
    """peer_address, as rate limits count it: IPv6 addresses count per /64, the
    block one subscriber usually holds."""
    address = peer_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip)


def cache_incr(key: str, *, timeout: int | None) -> int:
    """Add one to a counter every process shares; a new one lives `timeout` seconds."""
    try:
        return cache.incr(key)
    except ValueError:
        # The first count: `add` loses no race with another process's `add`.
        return 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)


class _Window:
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


def _refusal(request: HttpRequest, *, tus: bool) -> tuple[_Window | None, int | None]:
    """The bad-token window to count 404s in, and a Retry-After when refused now."""
    who = client_address(request)
    bad = _Window("bad", who, settings.AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW)
    if bad.count() >= settings.AURIO_RATE_LIMIT_BAD_TOKENS:
        return bad, bad.retry_after(settings.AURIO_RATE_LIMIT_BAD_TOKENS)
    limit = settings.AURIO_RATE_LIMIT_TUS_REQUESTS if tus else settings.AURIO_RATE_LIMIT_REQUESTS
    every = _Window("tus" if tus else "req", who, 60)
    if every.hit() > limit:
        return bad, every.retry_after(limit)
    return bad, None


class UploadSlots:
    """Request bodies being read at once in this process, in all and per link."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_link: Counter[str] = Counter()
        self._total = 0

    @contextlib.contextmanager
    def take(self, link: str) -> Iterator[HttpResponse | None]:
        """Yields None with a slot held, or the refusal to answer with."""
        with self._lock:
            if self._total >= settings.AURIO_MAX_UPLOADS_PER_PROCESS:
                refusal: HttpResponse | None = _busy(
                    503, "aurio is busy receiving other uploads. Your upload will go on in a moment."
                )
            elif self._by_link[link] >= settings.AURIO_MAX_UPLOADS_PER_LINK:
                refusal = _busy(
                    429, "Another upload for this link is still under way. Yours will go on in a moment."
                )
            else:
                refusal = None
                self._total += 1
                self._by_link[link] += 1
        try:
            yield refusal
        finally:
            if refusal is None:
                with self._lock:
                    self._total -= 1
                    self._by_link[link] -= 1
                    if not self._by_link[link]:
                        del self._by_link[link]

    @property
    def busy(self) -> int:
        return self._total


upload_slots = UploadSlots()


def _busy(status: int, detail: str) -> HttpResponse:
    response = JsonResponse({"detail": detail}, status=status)
    response["Retry-After"] = "5"
    response["Cache-Control"] = "no-store"
    return response


def _has_body(request: HttpRequest) -> bool:
    length = request.META.get("CONTENT_LENGTH") or "0"
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or (length.isascii() and length.isdigit() and int(length) > 0)


def _link(kwargs: dict[str, Any]) -> str:
    """The invite link a request is for, as a digest (never the token itself)."""
    return hashlib.sha256(str(kwargs.get("token", "")).encode()).hexdigest()


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
            if _has_body(request):
                with upload_slots.take(_link(kwargs)) as refusal:
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


def _bad_key_window(request: HttpRequest) -> _Window:
    return _Window("badkey", client_address(request), settings.AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW)


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


# --- Staff login lockout -------------------------------------------------------


def _login_window(username: str, address: str) -> _Window:
    return _Window("login", f"{address}:{username.strip().lower()[:150]}", settings.AURIO_LOGIN_WINDOW)


def _lock_key(username: str, address: str) -> str:
    return f"rl:login-lock:{address}:{username.strip().lower()[:150]}"


def login_locked(username: str, request: HttpRequest) -> bool:
    try:
        return cache.get(_lock_key(username, client_address(request))) is not None
    except Exception:
        logger.warning("login lockout: cache unavailable", exc_info=True)
        return False


@receiver(user_login_failed, dispatch_uid="aurio.ratelimit.count_login_failure")
def count_login_failure(sender: object, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    username = credentials.get("username")
    if request is None or not isinstance(username, str):
        return
    address = client_address(request)
    try:
        if _login_window(username, address).hit() >= settings.AURIO_LOGIN_FAILURES:
            cache.set(_lock_key(username, address), 1, timeout=settings.AURIO_LOGIN_LOCKOUT_SECONDS)
            logger.warning("login lockout: too many failed logins for a username from one address")
    except Exception:
        logger.warning("login lockout: cache unavailable", exc_info=True)


@receiver(user_logged_in, dispatch_uid="aurio.ratelimit.forget_login_failures")
def forget_login_failures(sender: object, request: Any = None, user: Any = None, **_: Any) -> None:
    if request is None or user is None:
        return
    try:
        _login_window(user.get_username(), client_address(request)).forget()
    except Exception:
        logger.warning("login lockout: cache unavailable", exc_info=True)


class LockoutAdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, refusing a username+address that failed too often,
    before the password is even checked."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.request is not None and login_locked(username, self.request):
            minutes = -(-settings.AURIO_LOGIN_LOCKOUT_SECONDS // 60)
            raise forms.ValidationError(
                f"Too many failed attempts to log in as this user from your address. "
                f"Login is blocked for up to {minutes} minutes; try again later.",
                code="locked",
            )
        return super().clean()
