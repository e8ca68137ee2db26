from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from audit import services as audit
from audit.services import Actor
from videos.models import Tag, Video
from videos.repository import can_view_videos, video_for_recruiter
from videos.services import video_set_tag


def _get_video(request: HttpRequest, video_id: str) -> Video:
    if not can_view_videos(request.user):
        raise Http404
    video = video_for_recruiter(request.user, video_id)
    if video is None:
        raise Http404("No such video.")
    return video


@staff_member_required
@require_GET
def detail(request: HttpRequest, video_id: str) -> HttpResponse:
    video = _get_video(request, video_id)
    audit.record_view(actor=Actor.of_request(request), video=video)
    can_tag = request.user.has_perm("videos.change_video")
    return render(request, "videos/detail.html", {"video": video, "tags": Tag.choices, "can_tag": can_tag})


@staff_member_required
@require_POST
def tag(request: HttpRequest, video_id: str) -> HttpResponse:
    video = _get_video(request, video_id)
    if not request.user.has_perm("videos.change_video"):
        raise Http404
    value = request.POST.get("tag", "")
    if value not in Tag.values:
        messages.error(request, f"Unknown tag {value!r}.")
    else:
        video_set_tag(video=video, tag=value, actor=Actor.of_request(request))
        messages.success(request, f"Tagged {value}.")
    return redirect("videos:detail", video.id)
