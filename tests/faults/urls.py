"""A test-only URLconf: views that meet an unreachable database, or another error."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path


def database_refuses(request: HttpRequest) -> HttpResponse:
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


def connection_closed(request: HttpRequest) -> HttpResponse:
    raise InterfaceError("connection already closed")


def bug(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug, not an outage")


urlpatterns = [
    path("r/some-page", database_refuses),
    path("api/v1/something", database_refuses),
    path("api/v1/closed", connection_closed),
    path("r/bug", bug),
]
