from django.urls import path

from videos import views

app_name = "videos"

urlpatterns = [
    path("v/<str:video_id>", views.detail, name="detail"),
    path("v/<str:video_id>/tag", views.tag, name="tag"),
]
