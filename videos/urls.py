from django.urls import path

from videos import question_media, views

app_name = "videos"

urlpatterns = [
    path("v/<str:video_id>", views.detail, name="detail"),
    path("v/<str:video_id>/tag", views.tag, name="tag"),
    path(
        "r/<str:token>/questions/<str:question_id>/video",
        question_media.question_video,
        name="question_video",
    ),
]
