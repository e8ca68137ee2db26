from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aurio.models import ApiToken


class Command(BaseCommand):
    help = "Issue a bearer token for the recruiter API. The token is the last line printed; it is shown once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(
                f"No user named {username!r}. Create one with `manage.py createsuperuser`."
            ) from None
        if not user.is_active or not user.is_staff:
            raise CommandError(f"{username!r} is not an active staff user; the API is for recruiters.")
        _, key = ApiToken.issue(user)
        self.stdout.write(f"Token for {username} (store it now; only its hash is kept):")
        self.stdout.write(key)
