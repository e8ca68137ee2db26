from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from audit.models import AuditEvent, ObjectType
from audit.repository import HISTORY_LENGTH

CHANGE_PAGES = {
    ObjectType.INTERVIEW: "admin:interviews_interview_change",
    ObjectType.INVITE: "admin:invites_invite_change",
    ObjectType.VIDEO: "admin:videos_video_change",
}


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log: read-only for everyone, superusers included."""

    list_display = ("at", "actor_label", "action", "object_type", "object_link", "summary", "client_address")
    list_filter = ("action", "actor", "object_type", "at")
    search_fields = ("object_label", "actor_label")
    list_per_page = 100
    # The exact count of a filtered list is one query; the unfiltered total is another, not worth it.
    show_full_result_count = False
    fields = (
        "at",
        "actor_label",
        "actor",
        "client_address",
        "request_id",
        "action",
        "object_type",
        "object_link",
        "object_id",
        "invite_ref",
        "summary",
        "detail",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="object", ordering="object_label")
    def object_link(self, event: AuditEvent) -> str:
        page = CHANGE_PAGES.get(event.object_type)  # type: ignore[call-overload]
        if page is None or event.object_id is None:
            return event.object_label
        return format_html('<a href="{}">{}</a>', reverse(page, args=[event.object_id]), event.object_label)

    @admin.display(description="change")
    def summary(self, event: AuditEvent) -> str:
        return event.summary


def history_section(events: QuerySet[AuditEvent], **filters: uuid.UUID) -> str:
    """An object's latest events as a small table, with a link to all of them in the audit log."""
    more = (
        reverse("admin:audit_auditevent_changelist") + "?" + "&".join(f"{k}={v}" for k, v in filters.items())
    )
    return render_to_string(
        "admin/audit/history.html", {"events": list(events[:HISTORY_LENGTH]), "more_url": more}
    )
