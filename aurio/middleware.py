"""Request-wide concerns: a request id on every request, its response and every
log line written meanwhile; and a clear 503 when the database can't be reached."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.signals import request_finished
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
NO_REQUEST = "-"
# A proxy's or client's id is kept only when it can't forge log lines or headers.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

current_request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def request_id_for(incoming: str | None) -> str:
    """The incoming id when it is safe, else a new one."""
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_for(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Not reset on the way out: Django logs 4xx/5xx responses ("Not Found: ...")
        # after the middleware returns; the request_finished signal clears it instead.
        current_request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


# How long clients are asked to wait before trying again while the database is away.
DATABASE_RETRY_AFTER_SECONDS = 10
STORAGE_RETRY_AFTER_SECONDS = 30
DATABASE_UNAVAILABLE = (
    "aurio is briefly unavailable: it cannot reach its database. Nothing you already sent is lost; "
    "please try again in a moment."
)


def database_unreachable(exception: BaseException) -> bool:
    """Is this the database being down, rather than a query it refused?

    SQL backends say so with OperationalError or InterfaceError. The MongoDB
    backend wraps pymongo's ConnectionFailure (refused, timed out selecting a
    server, reconnecting) in a plain DatabaseError, or lets it through as is."""
    if isinstance(exception, OperationalError | InterfaceError):
        return True
    try:
        from pymongo.errors import ConnectionFailure
    except ImportError:  # pragma: no cover - pymongo comes with django-mongodb-backend
        return False
    return isinstance(exception, ConnectionFailure) or (
        isinstance(exception, DatabaseError) and isinstance(exception.__cause__, ConnectionFailure)
    )


class DatabaseUnavailableMiddleware:
    """503 with Retry-After, never a 500 with a traceback, when a view finds the
    database unreachable (down, restarting, refusing connections).

    Under /api/ the answer is JSON `{"detail": ...}` like every API error (the
    tus endpoints live there too, and their clients retry on 503); elsewhere a
    page in plain words. Each such request is logged once, with its request id;
    errors of any other kind are left to Django as before.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code == 503 and not response.has_header("Retry-After"):
            # Every "try again" (storage full or unreachable, too busy) says when.
            response["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return self.answer(request, exception)

    @staticmethod
    def answer(request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The 503 for a database error, or None for any other exception."""
        if not database_unreachable(exception):
            return None
        log.error(
            "database unavailable: %s %s answered 503 (%s: %s)",
            request.method,
            request.path,
            type(exception).__name__,
            str(exception).strip(),
        )
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
        else:
            context = {"retry_after": DATABASE_RETRY_AFTER_SECONDS}
            response = render(request, "unavailable.html", context, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        # Logged above, with the cause: Django's "Service Unavailable: <path>" line would repeat it.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response


def _forget_request_id(**kwargs: Any) -> None:
    current_request_id.set(NO_REQUEST)


request_finished.connect(_forget_request_id, dispatch_uid="aurio.middleware.forget_request_id")
