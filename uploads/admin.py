from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from uploads.models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Read-only: resumable uploads in flight, for ops."""

    list_display = ("invite", "progress", "filename", "created_at", "expires_at", "video", "failure")
    list_select_related = ("invite", "video")
    list_filter = ("created_at",)
    search_fields = ("invite__email",)
    readonly_fields = [f.name for f in Upload._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="received")
    def progress(self, upload: Upload) -> str:
        return f"{upload.offset / 1e6:.1f} / {upload.length / 1e6:.1f} MB"
