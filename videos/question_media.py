"""A recruiter's question video, for the candidate whose link asks it:
authorised by the invite token, served with Range like any stored video."""

from __future__ import annotations

import hashlib
import uuid

from django.http import Http404, HttpRequest, HttpResponseBase
from django.views.decorators.http import require_safe

from interviews.models import Question, question_video_type
from invites.models import InviteStatus
from invites.repository import invite_for_token
from videos.streaming import MissingFile, Stored, stream_stored


@require_safe
def question_video(request: HttpRequest, token: str, question_id: str) -> HttpResponseBase:
    invite = invite_for_token(token)
    if invite is None or invite.status in (InviteStatus.EXPIRED, InviteStatus.REVOKED):
        raise Http404("This link is not valid.")
    try:
        question = invite.interview.questions.get(pk=uuid.UUID(question_id))
    except (ValueError, Question.DoesNotExist):
        raise Http404("This interview has no such question.") from None
    if not question.video:
        raise Http404("This question has no video.")
    try:
        stored = _stored(question)
        response = stream_stored(request, stored)
    except (FileNotFoundError, MissingFile):
        raise Http404("This question's video is missing.") from None
    response["Referrer-Policy"] = "no-referrer"  # the URL holds the candidate's token
    return response


def _stored(question: Question) -> Stored:
    file = question.video
    storage, name = file.storage, file.name or ""
    with storage.open(name, "rb") as f:
        content_type = question_video_type(f.read(64)) or "application/octet-stream"
    size = storage.size(name)
    modified = int(storage.get_modified_time(name).timestamp())
    return Stored(
        file=file,
        size=size,
        content_type=content_type,
        etag='"' + hashlib.sha256(f"{name}:{size}:{modified}".encode()).hexdigest()[:40] + '"',
        last_modified=modified,
        filename="question" + {"video/webm": ".webm", "video/quicktime": ".mov"}.get(content_type, ".mp4"),
        video_id=question.pk,
    )
