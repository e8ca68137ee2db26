from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure a first recruiter (superuser) exists: from AURIO_ADMIN_USERNAME/AURIO_ADMIN_PASSWORD, "
        "or by asking on a terminal, or else print how to make one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        admin_url = f"{settings.SITE_URL}/admin/"
        if User.objects.filter(is_superuser=True, is_active=True).exists():
            self.stdout.write(f"aurio: log in at {admin_url}")
            return
        username = os.environ.get("AURIO_ADMIN_USERNAME")
        password = os.environ.get("AURIO_ADMIN_PASSWORD")
        if username and password:
            User.objects.create_superuser(username, os.environ.get("AURIO_ADMIN_EMAIL", ""), password)
            self.stdout.write(
                self.style.SUCCESS(f"aurio: created recruiter {username!r}; log in at {admin_url}")
            )
        elif sys.stdin.isatty():
            self.stdout.write("aurio: no recruiter account yet — let's make the first one.")
            call_command("createsuperuser")
            self.stdout.write(f"aurio: log in at {admin_url}")
        else:
            self.stdout.write(
                self.style.WARNING(
                    "aurio: no recruiter account yet. Make one with\n"
                    "  .venv/bin/python manage.py createsuperuser\n"
                    f"then log in at {admin_url}"
                )
            )
