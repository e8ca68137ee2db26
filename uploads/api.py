from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from aurio.errors import Error, Refused
from aurio.ratelimit import limited_api
from invites.repository import invite_for_token
from uploads import accept, services
from uploads.models import Upload

router = Router(tags=["uploads"])

# Multipart bodies are read by the view itself, after the size check, so the
# schema is spelled out here.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


# What a submission may be refused with (uploads.accept, Invite.check_accepts_answer).
REFUSALS: dict[int, type[Schema]] = {code: Error for code in (404, 409, 410, 413, 415, 422, 503)}


class UploadOut(Schema):
    videoId: uuid.UUID


class FinishOut(Schema):
    videoId: uuid.UUID


@router.post(
    "/uploads/{token}/{upload_id}/finish",
    response={200: FinishOut, 201: FinishOut, **REFUSALS},
    url_name="finish_upload",
)
@limited_api
def finish_upload(request: HttpRequest, token: str, upload_id: str) -> Status:
    """Submit a complete resumable upload as the invite's video. Safe to repeat:
    a second call returns the same video (200)."""
    invite = invite_for_token(token)
    try:
        upload = Upload.objects.select_related("invite", "video").get(pk=uuid.UUID(upload_id), invite=invite)
    except (ValueError, Upload.DoesNotExist):
        raise HttpError(404, "No such upload.") from None
    already = upload.video is not None
    video = services.upload_finish(upload=upload)
    return Status(200 if already else 201, {"videoId": video.id})


@router.post(
    "/upload/{token}",
    response={201: UploadOut, 400: Error, **REFUSALS},
    openapi_extra=UPLOAD_BODY,
    url_name="upload_video",
    # The seed's name and tag for this operation, kept so generated clients keep working.
    operation_id="videos_api_upload_video",
    tags=["videos"],
)
@limited_api
def upload_video(request: HttpRequest, token: str) -> Status:
    """The candidate's submission: multipart field `file`, authorised by the invite token."""
    invite = invite_for_token(token)
    if invite is None:
        raise HttpError(404, "This link is not valid.")
    invite.check_accepts_answer()
    # Refuse an oversize body before reading a byte of it.
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not (declared.isascii() and declared.isdigit()):
        raise Refused(400, "Content-Length must be a whole number of bytes.")
    if int(declared) > settings.AURIO_MAX_UPLOAD_BYTES + 64 * 1024:
        accept.check_upload_size(int(declared))
    try:
        upload = request.FILES.get("file")
    except OSError as exc:  # no room to spool the body (Django's upload handler)
        raise Refused(503, "We couldn't store your video just now. Please try again in a minute.") from exc
    if upload is None:
        raise Refused(400, "Send the video as the multipart form field 'file'.")
    video = accept.video_accept_upload(invite=invite, upload=upload)
    return Status(201, {"videoId": video.id})
