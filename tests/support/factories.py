"""Rows made for tests without going through the services: a stored video
whatever its content, and a look at what is stored for it."""

from __future__ import annotations

import hashlib
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from invites.models import Invite
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
