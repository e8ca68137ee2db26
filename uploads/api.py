from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from aurio.errors import Error
from aurio.ratelimit import limited_api
from invites.repository import invite_for_token
from uploads import services
from uploads.models import Upload
from videos.services import UploadRefused

router = Router(tags=["uploads"])


class FinishOut(Schema):
    videoId: uuid.UUID


@router.post(
    "/uploads/{token}/{upload_id}/finish",
    response={
        200: FinishOut,
        201: FinishOut,
        404: Error,
        409: Error,
        410: Error,
        413: Error,
        415: Error,
        422: Error,
        503: Error,
    },
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
    try:
        video = services.upload_finish(upload=upload)
    except services.TusError as exc:
        raise HttpError(exc.status, exc.detail) from exc
    except UploadRefused as exc:
        raise HttpError(exc.status, exc.detail) from exc
    return Status(200 if already else 201, {"videoId": video.id})
