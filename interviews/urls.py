from django.urls import path

from interviews import views

app_name = "interviews"

urlpatterns = [path("i/<str:interview_id>/logo", views.logo, name="logo")]
