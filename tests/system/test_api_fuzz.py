"""Fuzz /api/v1 from its own OpenAPI document (schemathesis), through the WSGI app.

Every operation gets the schema's examples, schemathesis's coverage cases and a
bounded number of random inputs. Two requests in three carry a superuser's
bearer token (the third keeps the credentials it was generated with), and every
other case aims at real objects (an open invite's token, an upload, a stored
video) instead of random path parameters, so the handlers behind the lookups
are fuzzed too. The run passes only with zero server errors, and the responses
that the document describes must match it (body schema, content type, headers).

The number of requests sent is written to the terminal at the end of the module.

Not checked: status_code_conformance. The document lists only each operation's
success status, while the API also answers 401, 403, 404, 409, 410, 413, 415,
422 and 429 with `{"detail": ...}` bodies; see the report of the fuzz run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from aurio.wsgi import application
from invites.models import Invite
from invites.services import invite_create
from uploads.accept import video_accept_upload
from uploads.models import Upload

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CALLS: dict[str, int] = {}
_turn = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def report_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\napi fuzz: {sum(CALLS.values())} requests over {len(CALLS)} operations")


@pytest.fixture
def bearer(recruiter: User, token_for: Callable[[User], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(recruiter)}"}


@pytest.fixture
def real(invite: Invite, recorder_webm: Path) -> dict[str, str]:
    """Path parameters that exist: an open invite with an upload, and a submitted video."""
    upload = Upload.objects.create(invite=invite, length=10)
    video = video_accept_upload(
        invite=invite_create(email="fuzzed@example.com"),
        upload=SimpleUploadedFile("a.webm", recorder_webm.read_bytes(), "video/webm"),
    )
    return {"token": invite.token, "upload_id": str(upload.id), "video_id": str(video.id)}


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_test_connection")  # the fuzz calls the WSGI app directly
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_with_a_server_error(
    case: schemathesis.Case, bearer: dict[str, str], real: dict[str, str]
) -> None:
    turn = next(_turn)
    if case.path_parameters and turn % 2:
        for name in case.path_parameters.keys() & real.keys():
            case.path_parameters[name] = real[name]
    # Two cases in three as the recruiter; the third keeps whatever credentials it was generated with.
    headers = bearer if turn % 3 else {}
    CALLS[case.operation.label] = CALLS.get(case.operation.label, 0) + 1
    case.call_and_validate(headers=headers, checks=CHECKS)
