from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from audit.admin import history_section
from audit.repository import can_view_audit, events_of_invite
from audit.services import Actor
from invites.models import Invite, InviteStatus
from invites.repository import invites_with_videos
from invites.services import (
    EDITABLE,
    invite_create,
    invite_extend,
    invite_new_link,
    invite_revoke,
    invite_update,
)
from videos.admin import poster_thumbnail
from videos.models import Video
from videos.services import video_set_tag


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(InviteStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invite]) -> QuerySet[Invite]:
        if self.value() not in InviteStatus.values:
            return queryset
        return queryset.filter(pk__in=Invite.objects.in_status(self.value()))  # type: ignore[arg-type]


def copy_button(invite: Invite) -> str:
    return format_html(
        '<button type="button" class="button aurio-copy" data-link="{}" title="{}">Copy link</button>',
        invite.link,
        invite.link,
    )


class VideoInline(admin.TabularInline):
    model = Video
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("watch", "tag", "status", "duration", "size", "created_at")
    readonly_fields = ("watch", "status", "duration", "size", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="video")
    def watch(self, video: Video) -> str:
        return format_html('<a href="{}">▶ Watch</a>', video.get_absolute_url())

    @admin.display(description="duration")
    def duration(self, video: Video) -> str:
        from videos.admin import format_duration

        return format_duration(video.duration_seconds)


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "status_badge", "latest_video", "expires_at", "created_at", "copy_link")
    list_filter = (StatusFilter, "videos__tag", "created_at", "expires_at")
    search_fields = ("email", "name")
    date_hierarchy = "created_at"
    actions = ("revoke", "extend_7_days", "new_links")
    readonly_fields = (
        "candidate_link",
        "status_badge",
        "created_by",
        "created_at",
        "opened_at",
        "submitted_at",
        "revoked_at",
    )
    fieldsets = (
        (None, {"fields": ("email", "name", "expires_at")}),
        ("Link and progress", {"fields": readonly_fields}),
    )
    inlines = (VideoInline,)

    class Media:
        js = ("js/admin_copy.js",)
        css = {"all": ("css/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invite]:
        return invites_with_videos().select_related("created_by")

    def get_fieldsets(self, request: HttpRequest, obj: Invite | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": ("email", "name", "expires_at")}),)
        fieldsets = super().get_fieldsets(request, obj)
        if can_view_audit(request.user):
            fieldsets = (*fieldsets, ("History", {"fields": ("history",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Invite | None = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "history")

    def get_inlines(self, request: HttpRequest, obj: Invite | None) -> Any:
        return self.inlines if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Invite, form: Any, change: bool) -> None:
        actor = Actor.of_request(request)
        if change:
            # The form has already set the new values on `obj`; the service
            # writes them to the row it reads afresh, recording before and after.
            changes = {field: getattr(obj, field) for field in form.changed_data if field in EDITABLE}
            invite_update(invite=Invite.objects.get(pk=obj.pk), changes=changes, actor=actor)
            return
        created = invite_create(email=obj.email, name=obj.name, expires_at=obj.expires_at, actor=actor)
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The videos' tags go through the service, so the trail records each change."""
        if formset.model is not Video:
            super().save_formset(request, form, formset, change)
            return
        actor = Actor.of_request(request)
        # What formset.save() would have left for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for video_form in formset.forms:
            if "tag" in video_form.changed_data:
                video_set_tag(video=video_form.instance, tag=video_form.cleaned_data["tag"], actor=actor)
                formset.changed_objects.append((video_form.instance, ["tag"]))

    @admin.display(description="status")
    def status_badge(self, invite: Invite) -> str:
        return format_html(
            '<span class="aurio-status aurio-status-{}">{}</span>', invite.status, invite.status
        )

    @admin.display(description="latest video")
    def latest_video(self, invite: Invite) -> str:
        videos = invite.videos.all()  # prefetched, newest first
        if not videos:
            return "—"
        video = videos[0]
        return format_html(
            '{} <a href="{}">▶ Watch</a> <span class="aurio-tag aurio-tag-{}">{}</span>',
            poster_thumbnail(video),
            video.get_absolute_url(),
            video.tag,
            video.tag,
        )

    @admin.display(description="link")
    def copy_link(self, invite: Invite) -> str:
        return copy_button(invite)

    @admin.display(description="events (newest first)")
    def history(self, invite: Invite) -> str:
        return history_section(events_of_invite(invite.pk), invite_ref=invite.pk)

    @admin.display(description="candidate link")
    def candidate_link(self, invite: Invite) -> str:
        return format_html('<code class="aurio-link">{}</code> {}', invite.link, copy_button(invite))

    @admin.action(description="Revoke selected invites", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            invite_revoke(invite=invite, actor=Actor.of_request(request))
        self.message_user(request, f"Revoked {len(queryset)} invite(s).", messages.SUCCESS)

    @admin.action(description="Extend deadline by 7 days", permissions=["change"])
    def extend_7_days(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            invite_extend(invite=invite, days=7, actor=Actor.of_request(request))
        self.message_user(request, f"Extended {len(queryset)} invite(s) by 7 days.", messages.SUCCESS)

    @admin.action(description="Issue new links (the old ones stop working)", permissions=["change"])
    def new_links(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            invite_new_link(invite=invite, actor=Actor.of_request(request))
        self.message_user(
            request, f"Issued {len(queryset)} new link(s); send them to the candidates.", messages.SUCCESS
        )
