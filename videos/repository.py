"""Named reads of videos. Reads that carry permission live here."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from videos.models import Video


def can_view_videos(user: User | AnonymousUser) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("videos.view_video"))


def videos_for_recruiter(user: User | AnonymousUser) -> QuerySet[Video]:
    if not can_view_videos(user):
        return Video.objects.none()
    return Video.objects.select_related("invite")


def video_for_recruiter(user: User | AnonymousUser, video_id: uuid.UUID | str) -> Video | None:
    """The video, if it exists and this user may watch it."""
    try:
        video_id = uuid.UUID(str(video_id))
    except ValueError:
        return None
    return videos_for_recruiter(user).filter(pk=video_id).first()
