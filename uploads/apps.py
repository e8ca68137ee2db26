from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "resumable uploads"
    default_auto_field = "django.db.models.BigAutoField"
