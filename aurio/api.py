"""The /api/v1 wiring: one NinjaAPI, its authentication and its error shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer
from pymongo.errors import ConnectionFailure

from aurio.middleware import DatabaseUnavailableMiddleware
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


class Error(Schema):
    detail: str


# What every recruiter endpoint may answer besides its success (documented in the schema).
RECRUITER_ERRORS: dict[int, type[Schema]] = {401: Error, 403: Error, 429: Error}

api = NinjaAPI(
    title="aurio API",
    version="1",
    description=(
        "Recruiter endpoints take `Authorization: Bearer <token>` (from "
        "`python manage.py issue_api_token <username>`) or a staff session. "
        "Candidate endpoints are authorised by the invite token in the path. "
        'Errors are `{"detail": "..."}`.'
    ),
    urls_namespace="api",
    docs_url="/docs",
)


def require_permission(request: HttpRequest, permission: str) -> None:
    """Recruiter endpoints are for active staff with the model permission."""
    user = request.user
    if not (user.is_active and user.is_staff):
        raise HttpError(403, "This account is not a staff account.")
    if not user.has_perm(permission):
        raise HttpError(403, f"This account lacks the permission {permission!r}.")


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(
        str(part) for part in error.get("loc", ()) if part not in ("body", "payload", "query", "path")
    )
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = "; ".join(_describe(e) for e in exc.errors) or "The request is not valid."
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=422)


@api.exception_handler(DatabaseError)
@api.exception_handler(ConnectionFailure)
def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    # django-ninja catches a view's exceptions before any middleware sees them:
    # give the same answer as aurio.middleware.DatabaseUnavailableMiddleware.
    response = DatabaseUnavailableMiddleware.answer(request, exc)
    if response is None:
        raise exc  # a query the database refused: a bug, Django's 500
    return response


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request, {"detail": "Authentication required: send a bearer token or log in as staff."}, status=401
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


api.add_router("", "invites.api.router")
api.add_router("", "videos.api.router")
api.add_router("", "uploads.api.router")
