"""Who is calling the recruiter API: a bearer token or a staff session, and
what that account may do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from aurio.models import ApiToken, hash_api_key
from aurio.ratelimit import bad_keys_retry_after, count_bad_key


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` from `manage.py issue_api_token`."""

    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser | None:
        retry_after = bad_keys_retry_after(request)
        if retry_after is not None:
            raise HttpError(
                429,
                f"Too many wrong API tokens from your address. Try again in {-(-retry_after // 60)} minutes.",
            )
        api_token = (
            ApiToken.objects.select_related("user").filter(key_hash=hash_api_key(token)).first()
            if token and len(token) <= 200
            else None
        )
        if api_token is None or not api_token.user.is_active:
            count_bad_key(request)
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        return api_token.user


class StaffSession(APIKeyCookie):
    """The admin's session cookie (with Django's CSRF check on writes)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # No session cookie: not this authenticator's business, so no CSRF
        # verdict either; the client gets a 401 rather than "CSRF failed".
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        return user if user.is_authenticated else None


recruiter_auth = [BearerToken(), StaffSession()]


def require_permission(request: HttpRequest, permission: str) -> None:
    """Recruiter endpoints are for active staff with the model permission."""
    user = request.user
    if not (user.is_active and user.is_staff):
        raise HttpError(403, "This account is not a staff account.")
    if not user.has_perm(permission):
        raise HttpError(403, f"This account lacks the permission {permission!r}.")
