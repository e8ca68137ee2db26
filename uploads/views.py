"""The tus 1.0 protocol (core, creation, termination, expiration, checksum),
served by aurio itself for the candidate's page. https://tus.io/protocols/resumable-upload"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from aurio.errors import Refused
from aurio.ratelimit import rate_limited
from invites.models import Invite
from invites.repository import invite_for_token
from uploads import services
from uploads.models import Upload

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration,checksum"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() also accepts "²"


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


def _error(status: int, detail: str) -> HttpResponse:
    response = _tus(JsonResponse({"detail": detail}, status=status))
    if status == 412:
        response["Tus-Version"] = TUS_VERSION
    return response


def _capabilities() -> HttpResponse:
    response = HttpResponse(status=204)
    response["Tus-Resumable"] = TUS_VERSION
    response["Tus-Version"] = TUS_VERSION
    response["Tus-Extension"] = EXTENSIONS
    response["Tus-Max-Size"] = str(settings.AURIO_MAX_UPLOAD_BYTES)
    response["Tus-Checksum-Algorithm"] = ",".join(services.CHECKSUMS)
    return response


def _state(upload: Upload, status: int) -> HttpResponse:
    response = _tus(HttpResponse(status=status))
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.length)
    if upload.video_id is None:
        response["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return response


def _method(request: HttpRequest) -> str:
    """The method, honouring X-HTTP-Method-Override for clients behind proxies that drop PATCH."""
    override = request.headers.get("X-HTTP-Method-Override", "").upper()
    return (
        override
        if request.method == "POST" and override in ("PATCH", "DELETE", "HEAD")
        else request.method or ""
    )


def _whole_number(request: HttpRequest, header: str) -> int:
    value = request.headers.get(header, "")
    if not _WHOLE_NUMBER.fullmatch(value):
        raise Refused(400, f"{header} must be a whole number of bytes.")
    return int(value)


def _invite(token: str) -> Invite:
    invite = invite_for_token(token)
    if invite is None:
        raise Refused(404, "This link is not valid.")
    return invite


def _answers_refusals(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A refusal (`Refused`) from the view or a service, answered the tus way."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Refused as exc:
            return _error(exc.status, exc.detail)

    return wrapped


@rate_limited(tus=True)
@csrf_exempt
@_answers_refusals
def uploads(request: HttpRequest, token: str) -> HttpResponse:
    """The upload collection of one invite: OPTIONS and POST (creation)."""
    method = _method(request)
    if method == "OPTIONS":
        return _capabilities()
    if method != "POST":
        return _error(405, "Use POST to create an upload.")
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _error(412, f"This server speaks tus {TUS_VERSION}; send Tus-Resumable: {TUS_VERSION}.")
    invite = _invite(token)
    if "Upload-Defer-Length" in request.headers:
        raise Refused(400, "Deferred lengths are not supported; send Upload-Length.")
    upload = services.upload_create(
        invite=invite,
        length=_whole_number(request, "Upload-Length"),
        metadata=services.parse_metadata(request.headers.get("Upload-Metadata", "")),
    )
    response = _state(upload, 201)
    response["Location"] = reverse("uploads:upload", args=[token, upload.id])
    return response


@rate_limited(tus=True)
@csrf_exempt
@_answers_refusals
def upload(request: HttpRequest, token: str, upload_id: str) -> HttpResponse:
    """One upload: HEAD (where are we?), PATCH (append), DELETE (terminate)."""
    method = _method(request)
    if method == "OPTIONS":
        return _capabilities()
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _error(412, f"This server speaks tus {TUS_VERSION}; send Tus-Resumable: {TUS_VERSION}.")
    found = _upload(token, upload_id)
    if method in ("HEAD", "PATCH") and found.video_id is None:
        # A link withdrawn or expired mid-upload: HEAD says so too, or a client
        # resuming after a refused PATCH would ask and resume for ever.
        found.invite.check_accepts_answer()
    if method == "HEAD":
        return _state(found, 200)
    if method == "PATCH":
        return _patch(request, found)
    if method == "DELETE":
        services.upload_terminate(upload=found)
        return _tus(HttpResponse(status=204))
    return _error(405, "Use HEAD, PATCH or DELETE on an upload.")


def _upload(token: str, upload_id: str) -> Upload:
    invite = _invite(token)
    try:
        found = Upload.objects.select_related("invite").get(pk=uuid.UUID(upload_id), invite=invite)
    except (ValueError, Upload.DoesNotExist):
        raise Refused(404, "No such upload.") from None
    if found.is_expired:
        raise Refused(410, "This upload has expired; start the upload again.")
    return found


def _patch(request: HttpRequest, found: Upload) -> HttpResponse:
    if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
        # Django reads a body only up to Content-Length: a chunked one would be
        # taken as empty, and the client would send it again and again.
        raise Refused(411, "Send each chunk with a Content-Length, not Transfer-Encoding: chunked.")
    # An empty body needs no type: some clients send their last, empty chunk bare.
    if request.content_type != OFFSET_CONTENT_TYPE and request.META.get("CONTENT_LENGTH", "0") not in (
        "",
        "0",
    ):
        raise Refused(415, f"Send the bytes as Content-Type: {OFFSET_CONTENT_TYPE}.")
    offset = _whole_number(request, "Upload-Offset")
    declared = request.META.get("CONTENT_LENGTH", "")
    if _WHOLE_NUMBER.fullmatch(declared):
        services.check_chunk_length(found, offset, int(declared))
    checksum_header = request.headers.get("Upload-Checksum")
    checksum = services.Checksum.parse(checksum_header) if checksum_header else None
    updated = services.upload_append(upload=found, offset=offset, stream=request, checksum=checksum)
    return _state(updated, 204)
