from django.urls import path

from uploads import views

app_name = "uploads"

urlpatterns = [
    path("<str:token>/", views.uploads, name="uploads"),
    path("<str:token>/<str:upload_id>", views.upload, name="upload"),
]
