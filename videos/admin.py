from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from audit import services as audit
from audit.admin import history_section
from audit.repository import can_view_audit, events_about
from audit.services import Actor
from videos import media
from videos.models import Status, Tag, Video
from videos.services import video_delete, video_reprocess, video_set_tag


def format_duration(seconds: float | None) -> str:
    return "—" if seconds is None else media.format_seconds(seconds)


def _tag_action(tag: str) -> Any:
    @admin.action(description=f"Tag selected videos: {tag}", permissions=["change"])
    def action(modeladmin: VideoAdmin, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        for video in queryset:
            video_set_tag(video=video, tag=tag, actor=Actor.of_request(request))
        modeladmin.message_user(request, f"Tagged {len(queryset)} video(s) {tag}.", messages.SUCCESS)

    action.__name__ = f"tag_{tag}"
    return action


def poster_thumbnail(video: Video) -> str:
    """The poster as a small link to the review page, or a placeholder until there is one."""
    if not video.poster_url:
        return format_html(
            '<a href="{}" class="aurio-thumb aurio-thumb-empty" title="No poster yet">▶</a>',
            video.get_absolute_url(),
        )
    return format_html(
        '<a href="{}" class="aurio-thumb"><img src="{}" alt="" loading="lazy" width="96" height="54"></a>',
        video.get_absolute_url(),
        video.poster_url,
    )


def status_badge(video: Video) -> str:
    badge = format_html('<span class="aurio-state aurio-state-{}">{}</span>', video.status, video.status)
    if video.status == Status.FAILED and video.failure_reason:
        return format_html('{}<div class="aurio-reason">{}</div>', badge, video.failure_reason)
    return badge


def suggestion_summary(video: Video) -> str:
    if not video.suggested_tag:
        return "—"
    return format_html(
        '<span class="aurio-tag aurio-tag-{}">{}</span><ul class="aurio-reasons">{}</ul>',
        video.suggested_tag,
        video.suggested_tag,
        format_html_join("", "<li>{}</li>", ((reason,) for reason in video.suggestion_reasons or [])),
    )


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = (
        "thumbnail",
        "candidate",
        "watch",
        "tag",
        "suggestion",
        "state",
        "duration",
        "size_mb",
        "created_at",
    )
    list_display_links = ("candidate",)  # the poster links to the review page
    list_editable = ("tag",)
    list_filter = ("tag", "suggested_tag", "status", "created_at")
    search_fields = ("invite__email", "invite__name")
    date_hierarchy = "created_at"
    list_select_related = ("invite",)
    actions = [*(_tag_action(tag) for tag in Tag.values), "accept_suggestions", "reprocess"]
    fields = (
        "player",
        "tag",
        "suggestion_with_button",
        "candidate",
        "state_with_button",
        "duration",
        "resolution",
        "codecs",
        "playback_rendition",
        "content_type",
        "size_mb",
        "original_name",
        "sha256",
        "created_at",
        "processed_at",
    )
    readonly_fields = tuple(f for f in fields if f != "tag")

    class Media:
        css = {"all": ("css/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # videos come from candidates

    def get_fields(self, request: HttpRequest, obj: Video | None = None) -> Any:
        fields = super().get_fields(request, obj)
        return (*fields, "history") if obj is not None and can_view_audit(request.user) else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Video | None = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "history")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        # The page plays the video: a view, once per few minutes (see audit.services.record_view).
        video = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and response.status_code == 200 and isinstance(video, Video):
            audit.record_view(actor=Actor.of_request(request), video=video)
        return response

    def response_change(self, request: HttpRequest, obj: Video) -> HttpResponse:
        # The change page's own buttons (see state_with_button, suggestion_with_button).
        if "_reprocess" in request.POST:
            self._reprocess(request, [obj])
            self.message_user(request, "Queued for processing again.", messages.SUCCESS)
            return HttpResponseRedirect(request.path)
        if "_accept_suggestion" in request.POST:
            self._accept(request, [obj])
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # "Accept" buttons in the list's suggestion column submit the list's own
        # form (so they carry its CSRF token), naming their video.
        chosen = request.POST.get("_accept_suggestion") if request.method == "POST" else None
        if chosen and self.has_change_permission(request):
            self._accept(request, list(self.get_queryset(request).filter(pk__in=[chosen])))
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)

    def _accept(self, request: HttpRequest, videos: list[Video]) -> None:
        accepted = 0
        for video in videos:
            if video.suggested_tag and video.suggested_tag != video.tag:
                video_set_tag(
                    video=video, tag=video.suggested_tag, actor=Actor.of_request(request), suggested=True
                )
                accepted += 1
        if accepted:
            self.message_user(
                request, f"Accepted the suggested tag for {accepted} video(s).", messages.SUCCESS
            )
        else:
            self.message_user(
                request, "Nothing to accept: no suggestion, or already tagged so.", messages.INFO
            )

    @admin.action(description="Accept suggested tags of selected videos", permissions=["change"])
    def accept_suggestions(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        self._accept(request, list(queryset))

    @admin.action(description="Reprocess selected videos", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        queued = self._reprocess(request, list(queryset))
        self.message_user(request, f"Queued {queued} video(s) for processing again.", messages.SUCCESS)

    def _reprocess(self, request: HttpRequest, videos: list[Video]) -> int:
        actor = Actor.of_request(request)
        return sum(video_reprocess(video=video, actor=actor) == "queued" for video in videos)

    def save_model(self, request: HttpRequest, obj: Video, form: Any, change: bool) -> None:
        video_set_tag(video=obj, tag=obj.tag, actor=Actor.of_request(request))

    def delete_model(self, request: HttpRequest, obj: Video) -> None:
        video_delete(video=obj, actor=Actor.of_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Video]) -> None:
        for video in queryset:
            video_delete(video=video, actor=Actor.of_request(request))

    @admin.display(description="candidate", ordering="invite__email")
    def candidate(self, video: Video) -> str:
        return str(video.invite)

    @admin.display(description="video")
    def watch(self, video: Video) -> str:
        return format_html('<a href="{}">▶ Watch</a>', video.get_absolute_url())

    @admin.display(description="poster")
    def thumbnail(self, video: Video) -> str:
        return poster_thumbnail(video)

    @admin.display(description="status", ordering="status")
    def state(self, video: Video) -> str:
        return status_badge(video)

    @admin.display(description="suggested", ordering="suggested_tag")
    def suggestion(self, video: Video) -> str:
        summary = suggestion_summary(video)
        if not video.suggested_tag or video.suggested_tag == video.tag:
            return summary
        return format_html(
            '{}<button type="submit" class="button aurio-accept" name="_accept_suggestion" value="{}">'
            "Accept</button>",
            summary,
            video.pk,
        )

    @admin.display(description="suggested tag")
    def suggestion_with_button(self, video: Video) -> str:
        summary = suggestion_summary(video)
        if not video.suggested_tag:
            return "None yet: made when processing finishes."
        if video.suggested_tag == video.tag:
            return summary
        return format_html(
            '{}<button type="submit" class="button" name="_accept_suggestion" value="1">'
            "Accept suggestion: {}</button>",
            summary,
            video.suggested_tag,
        )

    @admin.display(description="status")
    def state_with_button(self, video: Video) -> str:
        return format_html(
            '{} <button type="submit" class="button" name="_reprocess" value="1">Reprocess</button>',
            status_badge(video),
        )

    @admin.display(description="playback rendition")
    def playback_rendition(self, video: Video) -> str:
        if not video.playback or video.playback_size is None:
            return "— (the original plays until it is made)"
        size = f"{video.playback_width}×{video.playback_height}"
        return f"MP4 H.264/AAC, {size}, {video.playback_size / 1e6:.1f} MB"

    @admin.display(description="history (newest first)")
    def history(self, video: Video) -> str:
        return history_section(events_about(video.pk), object_id=video.pk)

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
