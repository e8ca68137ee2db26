from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_login_failed


class AurioConfig(AppConfig):
    name = "aurio"
    verbose_name = "API access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here rather than by @receiver at import, so a failed login is counted
        # whether or not anything has imported aurio.lockout (the admin's URLs) yet.
        from aurio import checks  # noqa: F401  (registers the deploy checks)
        from aurio.lockout import count_login_failure, forget_login_failures

        user_login_failed.connect(count_login_failure, dispatch_uid="aurio.lockout.count_login_failure")
        user_logged_in.connect(forget_login_failures, dispatch_uid="aurio.lockout.forget_login_failures")
