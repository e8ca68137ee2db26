"""The /api/v1 assembly: one NinjaAPI, the apps' routers (named by dotted
string, so aurio imports no app) and the error shape. Only aurio.urls imports it."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from pymongo.errors import ConnectionFailure

from aurio.errors import Refused
from aurio.middleware import DatabaseUnavailableMiddleware

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


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(
        str(part) for part in error.get("loc", ()) if part not in ("body", "payload", "query", "path")
    )
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    detail = "; ".join(_describe(e) for e in exc.errors) or "The request is not valid."
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=422)


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    return api.create_response(request, {"detail": exc.detail}, status=exc.status)


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


api.add_router("", "interviews.api.router")
api.add_router("", "invites.api.router")
api.add_router("", "videos.api.router")
api.add_router("", "uploads.api.router")
