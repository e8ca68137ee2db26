from __future__ import annotations

import uuid
from datetime import datetime

from django.http import HttpRequest, HttpResponseBase
from ninja import Router, Schema
from ninja.errors import HttpError

from audit import services as audit
from audit.services import Actor
from aurio.auth import recruiter_auth, require_permission
from aurio.errors import RECRUITER_ERRORS, Error
from videos import services
from videos.models import Status as VideoStatus
from videos.models import Tag, Video
from videos.repository import video_for_recruiter, videos_for_recruiter
from videos.streaming import MissingFile, Stored, original_of, playback_of, poster_of, stream_stored

router = Router(tags=["videos"])


class RenditionOut(Schema):
    kind: str
    url: str
    contentType: str
    width: int | None
    height: int | None
    size: int


class VideoOut(Schema):
    id: uuid.UUID
    inviteId: uuid.UUID
    questionId: uuid.UUID
    email: str
    originalName: str
    tag: Tag
    status: VideoStatus
    failureReason: str
    durationSeconds: float | None
    width: int | None
    height: int | None
    contentType: str
    size: int
    createdAt: datetime
    streamUrl: str
    posterUrl: str | None
    playbackUrl: str
    renditions: list[RenditionOut]
    suggestedTag: Tag | None
    suggestionReasons: list[str]
    processedAt: datetime | None
    pageUrl: str


class TagIn(Schema):
    tag: Tag


def video_out(video: Video) -> dict[str, object]:
    return {
        "id": video.id,
        "inviteId": video.invite_id,
        "questionId": video.question_id,
        "email": video.invite.email,
        "originalName": video.original_name,
        "tag": video.tag,
        "status": video.status,
        "failureReason": video.failure_reason,
        "durationSeconds": video.duration_seconds,
        "width": video.width,
        "height": video.height,
        "contentType": video.content_type,
        "size": video.size,
        "createdAt": video.created_at,
        "streamUrl": video.stream_url,
        "posterUrl": video.poster_url,
        "playbackUrl": video.playback_url,
        "renditions": _renditions(video),
        "suggestedTag": video.suggested_tag or None,
        "suggestionReasons": list(video.suggestion_reasons or []),
        "processedAt": video.processed_at,
        "pageUrl": video.get_absolute_url(),
    }


def _renditions(video: Video) -> list[dict[str, object]]:
    """The original, and the MP4 made for every browser once processing is done."""
    found: list[dict[str, object]] = [
        {
            "kind": "original",
            "url": video.stream_url,
            "contentType": video.content_type,
            "width": video.width,
            "height": video.height,
            "size": video.size,
        }
    ]
    if video.playback and video.playback_size is not None:
        found.append(
            {
                "kind": "playback",
                "url": video.playback_url,
                "contentType": "video/mp4",
                "width": video.playback_width,
                "height": video.playback_height,
                "size": video.playback_size,
            }
        )
    return found


def _video_or_404(request: HttpRequest, video_id: str) -> Video:
    video = video_for_recruiter(request.user, video_id)
    if video is None:
        raise HttpError(404, "No such video.")
    return video


@router.get("/videos", auth=recruiter_auth, response={200: list[VideoOut], **RECRUITER_ERRORS, 404: Error})
def list_videos(request: HttpRequest, inviteId: str | None = None) -> list[dict[str, object]]:
    """Videos, newest first; `inviteId` narrows to one invite's answers, in
    the order of its interview's questions."""
    require_permission(request, "videos.view_video")
    videos = videos_for_recruiter(request.user)
    if inviteId is not None:
        try:
            videos = videos.filter(invite_id=uuid.UUID(inviteId))
        except ValueError:
            raise HttpError(404, "No such invite.") from None
        videos = videos.order_by("question__position", "question_id", "created_at")
    return [video_out(video) for video in videos]


@router.get(
    "/videos/{video_id}", auth=recruiter_auth, response={200: VideoOut, **RECRUITER_ERRORS, 404: Error}
)
def get_video(request: HttpRequest, video_id: str) -> dict[str, object]:
    require_permission(request, "videos.view_video")
    return video_out(_video_or_404(request, video_id))


def _serve(request: HttpRequest, stored: Stored | None, not_yet: str) -> HttpResponseBase:
    """One of a video's files with Range support; 404 with `not_yet` if it doesn't exist yet."""
    if stored is None:
        raise HttpError(404, not_yet)
    try:
        return stream_stored(request, stored)
    except MissingFile as exc:
        raise HttpError(404, str(exc)) from exc


def _play(request: HttpRequest, video: Video, stored: Stored | None, not_yet: str) -> HttpResponseBase:
    """`_serve` for the recording itself: a GET that gets bytes (or the S3 redirect) is a view."""
    response = _serve(request, stored, not_yet)
    if request.method == "GET" and response.status_code < 400:
        audit.record_view(actor=Actor.of_request(request), video=video)
    return response


@router.api_operation(
    ["GET", "HEAD"], "/videos/{video_id}/stream", auth=recruiter_auth, url_name="stream_video"
)
def stream_video(request: HttpRequest, video_id: str) -> HttpResponseBase:
    """The video's bytes, with HTTP Range (206/416), HEAD, ETag and If-Range."""
    require_permission(request, "videos.view_video")
    video = _video_or_404(request, video_id)
    return _play(request, video, original_of(video), "")


@router.api_operation(
    ["GET", "HEAD"], "/videos/{video_id}/playback", auth=recruiter_auth, url_name="playback_video"
)
def playback_video(request: HttpRequest, video_id: str) -> HttpResponseBase:
    """The MP4 rendition (H.264/AAC) with HTTP Range; 404 until processing has made it."""
    require_permission(request, "videos.view_video")
    video = _video_or_404(request, video_id)
    return _play(
        request, video, playback_of(video), "This video has no MP4 rendition yet; play streamUrl meanwhile."
    )


@router.api_operation(
    ["GET", "HEAD"], "/videos/{video_id}/poster", auth=recruiter_auth, url_name="video_poster"
)
def video_poster(request: HttpRequest, video_id: str) -> HttpResponseBase:
    """The poster still (JPEG); 404 until processing has made it."""
    require_permission(request, "videos.view_video")
    return _serve(request, poster_of(_video_or_404(request, video_id)), "This video has no poster yet.")


@router.post(
    "/videos/{video_id}/tag",
    auth=recruiter_auth,
    response={200: VideoOut, **RECRUITER_ERRORS, 404: Error, 422: Error},
)
def tag_video(request: HttpRequest, video_id: str, payload: TagIn) -> dict[str, object]:
    """Set the video's tag: pending, review, advance or pass."""
    require_permission(request, "videos.change_video")
    video = _video_or_404(request, video_id)
    return video_out(services.video_set_tag(video=video, tag=payload.tag, actor=Actor.of_request(request)))
