from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Q

RECRUITERS = "Recruiters"
# What a recruiter does: invite, review, tag and delete videos, see uploads and the audit log.
RECRUITER_PERMISSIONS = [
    "invites.view_invite",
    "invites.add_invite",
    "invites.change_invite",
    "videos.view_video",
    "videos.change_video",
    "videos.delete_video",
    "uploads.view_upload",
    "audit.view_auditevent",
]


def ensure_recruiters_group() -> Group:
    """The "Recruiters" group with RECRUITER_PERMISSIONS (added, never taken away)."""
    group, _ = Group.objects.get_or_create(name=RECRUITERS)
    wanted = Q()
    for name in RECRUITER_PERMISSIONS:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.add(*Permission.objects.filter(wanted))
    return group


class Command(BaseCommand):
    help = (
        "Make sure the Recruiters group exists with its permissions (add staff accounts to it), and that "
        "a first recruiter (superuser) exists: from AURIO_ADMIN_USERNAME/AURIO_ADMIN_PASSWORD, "
        "or by asking on a terminal, or else print how to make one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_recruiters_group()
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
