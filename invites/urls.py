from django.urls import path

from invites import views

app_name = "invites"

urlpatterns = [
    path("r/<str:token>", views.record, name="record"),
    path("r/<str:token>/done", views.done, name="done"),
]
