from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.html import format_html

from videos.models import Tag, Video
from videos.services import video_delete, video_set_tag


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = int(seconds + 0.5)
    return f"{whole // 60}:{whole % 60:02d}"


def _tag_action(tag: str) -> Any:
    @admin.action(description=f"Tag selected videos: {tag}", permissions=["change"])
    def action(modeladmin: VideoAdmin, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        for video in queryset:
            video_set_tag(video=video, tag=tag)
        modeladmin.message_user(request, f"Tagged {len(queryset)} video(s) {tag}.", messages.SUCCESS)

    action.__name__ = f"tag_{tag}"
    return action


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ("candidate", "watch", "tag", "status", "duration", "size_mb", "created_at")
    list_editable = ("tag",)
    list_filter = ("tag", "status", "created_at")
    search_fields = ("invite__email", "invite__name")
    date_hierarchy = "created_at"
    list_select_related = ("invite",)
    actions = [_tag_action(tag) for tag in Tag.values]
    fields = (
        "player",
        "tag",
        "candidate",
        "status",
        "failure_reason",
        "duration",
        "resolution",
        "codecs",
        "content_type",
        "size_mb",
        "original_name",
        "sha256",
        "created_at",
    )
    readonly_fields = tuple(f for f in fields if f != "tag")

    class Media:
        css = {"all": ("css/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # videos come from candidates

    def save_model(self, request: HttpRequest, obj: Video, form: Any, change: bool) -> None:
        video_set_tag(video=obj, tag=obj.tag)

    def delete_model(self, request: HttpRequest, obj: Video) -> None:
        video_delete(video=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        for video in queryset:
            video_delete(video=video)

    @admin.display(description="candidate", ordering="invite__email")
    def candidate(self, video: Video) -> str:
        return str(video.invite)

    @admin.display(description="video")
    def watch(self, video: Video) -> str:
        return format_html('<a href="{}">▶ Watch</a>', video.get_absolute_url())

    @admin.display(description="player")
    def player(self, video: Video) -> str:
        return render_to_string("videos/player.html", {"video": video})

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, video: Video) -> str:
        return format_duration(video.duration_seconds)

    @admin.display(description="size", ordering="size")
    def size_mb(self, video: Video) -> str:
        return f"{video.size / 1e6:.1f} MB"

    @admin.display(description="resolution")
    def resolution(self, video: Video) -> str:
        return f"{video.width}×{video.height}" if video.width else "—"

    @admin.display(description="codecs")
    def codecs(self, video: Video) -> str:
        return " / ".join(c for c in (video.video_codec, video.audio_codec) if c) or "—"
