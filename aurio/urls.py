from django.contrib import admin
from django.urls import include, path

from aurio.api import api
from aurio.health import healthz
from aurio.lockout import LockoutAdminLoginForm
from aurio.metrics import metrics

admin.site.site_header = "aurio"
admin.site.site_title = "aurio"
admin.site.index_title = "Screening"
# Refuses a username+address after too many failed logins (aurio/lockout.py).
admin.site.login_form = LockoutAdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/tus/", include("uploads.urls")),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("", include("interviews.urls")),
    path("", include("invites.urls")),
    path("", include("videos.urls")),
]
