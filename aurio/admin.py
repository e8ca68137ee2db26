from django.contrib import admin

from aurio.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "created_at", "last_used_at")
    list_select_related = ("user",)
    readonly_fields = ("prefix", "user", "created_at", "last_used_at")
    search_fields = ("user__username", "prefix")

    def has_add_permission(self, request: object) -> bool:
        return False  # tokens are shown once, by `manage.py issue_api_token`
