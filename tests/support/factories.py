"""Rows made for tests without going through the services: a stored video
whatever its content, and a look at what is stored for it."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from interviews.models import Interview
from interviews.services import interview_create
from invites.models import Answer, Invite
from invites.services import answer_for
from videos.models import Status, Video, video_path


def store_video(invite: Invite, content: bytes, *, extension: str = "webm", **fields: object) -> Video:
    """A Video row whose original is `content`, stored as an upload would be,
    without the upload's checks: for processing files the upload would refuse."""
    fields.setdefault("status", Status.UPLOADED)
    video = Video(
        id=uuid.uuid4(),
        invite=invite,
        original_name=f"answer.{extension}",
        content_type=f"video/{extension}",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        **fields,
    )
    video.file.name = default_storage.save(video_path(video, f"original.{extension}"), ContentFile(content))
    video.save(force_insert=True)
    return video


def stored_names(video: Video) -> list[str]:
    """The files stored in a video's folder, sorted."""
    try:
        return sorted(default_storage.listdir(f"videos/{video.pk}")[1])
    except FileNotFoundError:
        return []


def make_interview(
    *, title: str = "Backend engineer", questions: list[dict[str, Any]] | None = None, **fields: Any
) -> Interview:
    """An interview through the service (as the admin and the API make them);
    by default three questions with the deployment's limits."""
    if questions is None:
        questions = [{"text": f"Question {n}?"} for n in (1, 2, 3)]
    return interview_create(title=title, questions=questions, **fields)


def first_answer(invite: Invite) -> Answer:
    """The invite's answer to its first question (the only one of the default interview)."""
    return answer_for(invite=invite, question=invite.interview.answered_questions().first())  # type: ignore[arg-type]
