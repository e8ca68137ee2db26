"""The staff login lockout: after ``AURIO_LOGIN_FAILURES`` failed logins for one
username from one address within ``AURIO_LOGIN_WINDOW`` seconds, that username
is refused from that address for ``AURIO_LOGIN_LOCKOUT_SECONDS``, before its
password is even checked, so the admin's login can't be brute-forced.

Failures are counted in a sliding window in the shared cache (aurio.ratelimit)
by `count_login_failure`, and a successful login forgets them
(`forget_login_failures`); aurio's AppConfig connects both to Django's auth
signals. aurio.urls makes `LockoutAdminLoginForm` the admin's login form. If
the cache is unreachable nobody is locked out (and it is logged).
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest

from aurio.clients import client_address
from aurio.ratelimit import Window

logger = logging.getLogger(__name__)


def _login_window(username: str, address: str) -> Window:
    return Window("login", f"{address}:{username.strip().lower()[:150]}", settings.AURIO_LOGIN_WINDOW)


def _lock_key(username: str, address: str) -> str:
    return f"rl:login-lock:{address}:{username.strip().lower()[:150]}"


def login_locked(username: str, request: HttpRequest) -> bool:
    try:
        return cache.get(_lock_key(username, client_address(request))) is not None
    except Exception:
        logger.warning("login lockout: cache unavailable", exc_info=True)
        return False


def count_login_failure(sender: object, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    """Receives user_login_failed."""
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


def forget_login_failures(sender: object, request: Any = None, user: Any = None, **_: Any) -> None:
    """Receives user_logged_in."""
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
