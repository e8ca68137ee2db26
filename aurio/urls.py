from django.contrib import admin
from django.urls import include, path

from aurio.api import api
from aurio.health import healthz

admin.site.site_header = "aurio"
admin.site.site_title = "aurio"
admin.site.index_title = "Screening"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/tus/", include("uploads.urls")),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("invites.urls")),
    path("", include("videos.urls")),
]
