from django.apps import AppConfig


class AurioConfig(AppConfig):
    name = "aurio"
    verbose_name = "API access"
    default_auto_field = "django.db.models.BigAutoField"
