from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Field, Q

RECRUITERS = "Recruiters"
# What a recruiter does: build interviews, invite, adjust an invite's answers (extra takes, reset
# takes), review, tag and delete videos, see uploads and the audit log.
RECRUITER_PERMISSIONS = [
    "interviews.view_interview",
    "interviews.add_interview",
    "interviews.change_interview",
    "interviews.delete_interview",
    "interviews.view_question",
    "interviews.add_question",
    "interviews.change_question",
    "interviews.delete_question",
    "invites.view_answer",
    "invites.change_answer",
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
            email = os.environ.get("AURIO_ADMIN_EMAIL", "")
            problems = password_problems(password, User(username=username, email=email))
            if problems:
                raise CommandError(
                    f"AURIO_ADMIN_PASSWORD is too weak, so no recruiter was made: {' '.join(problems)}"
                )
            User.objects.create_superuser(username, email, password)
            self.stdout.write(
                self.style.SUCCESS(f"aurio: created recruiter {username!r}; log in at {admin_url}")
            )
        elif sys.stdin.isatty():
            self.stdout.write("aurio: no recruiter account yet — let's make the first one.")
            self.ask_for_recruiter()
            self.stdout.write(f"aurio: log in at {admin_url}")
        else:
            self.stdout.write(
                self.style.WARNING(
                    "aurio: no recruiter account yet. Make one with\n"
                    "  .venv/bin/python manage.py ensure_recruiter   (on a terminal)\n"
                    f"then log in at {admin_url}"
                )
            )

    def ask_for_recruiter(self, tries: int = 3) -> None:
        """Ask for a username, email and password on the terminal; a weak password is asked again,
        never accepted (createsuperuser would offer to bypass the checks)."""
        User = get_user_model()
        username_field = User._meta.get_field(User.USERNAME_FIELD)
        assert isinstance(username_field, Field)
        username = ""
        while not username:
            username = input("Username: ").strip()
            try:
                username_field.clean(username, None)
            except ValidationError as exc:
                self.stderr.write(" ".join(exc.messages))
                username = ""
            else:
                if User._default_manager.filter(**{User.USERNAME_FIELD: username}).exists():
                    self.stderr.write("That username is taken.")
                    username = ""
        email = input("Email address (optional): ").strip()
        for _ in range(tries):
            password = getpass.getpass("Password (12 characters at least): ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The two passwords differ; try again.")
                continue
            problems = password_problems(password, User(username=username, email=email))
            if problems:
                self.stderr.write("\n".join(problems))
                continue
            User.objects.create_superuser(username, email, password)
            self.stdout.write(self.style.SUCCESS(f"aurio: created recruiter {username!r}"))
            return
        raise CommandError("No recruiter was made: the password was refused three times.")


def password_problems(password: str, user: Any) -> list[str]:
    """Why AUTH_PASSWORD_VALIDATORS refuse `password` for `user` (empty: it is fine)."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return list(exc.messages)
    return []
