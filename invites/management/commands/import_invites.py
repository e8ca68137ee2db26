from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import Actor
from invites.services import invite_create


class Command(BaseCommand):
    help = (
        "Create invites from a CSV file with a header row: email (required), name and expires_at "
        "(optional; an ISO 8601 date and time with its zone, e.g. 2026-12-01T17:00:00+00:00, or empty "
        "for the default deadline). Good rows are created and bad ones reported with their line; "
        "the command exits with status 1 if any row failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row; create nothing.")
        parser.add_argument("--days", type=int, help="Deadline in days from now for rows without expires_at.")

    def handle(self, *args: Any, file: Path, dry_run: bool, days: int | None, **options: Any) -> None:
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text.") from exc
        reader = csv.DictReader(text.splitlines())
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if "email" not in columns:
            raise CommandError(f"{file} has no 'email' column (found: {', '.join(columns) or 'nothing'}).")
        reader.fieldnames = columns
        default_expiry = timezone.now() + timedelta(days=days) if days else None

        actor = Actor.command("import_invites")
        seen: dict[str, int] = {}
        done = failed = 0
        try:
            rows = list(reader)
        except csv.Error as exc:
            raise CommandError(f"{file} is not valid CSV: {exc}") from exc
        for number, row in enumerate(rows, start=2):
            email = (row.get("email") or "").strip().lower()
            try:
                expires_at = _check_row(email, row, seen) or default_expiry
            except ValueError as exc:
                failed += 1
                self.stdout.write(f"line {number}: {email or '-'}: error: {exc}")
                continue
            seen[email] = number
            if not dry_run:
                invite_create(email=email, name=(row.get("name") or ""), expires_at=expires_at, actor=actor)
            done += 1
            self.stdout.write(f"line {number}: {email}: {'would create' if dry_run else 'created'}")
        verb = "Would create" if dry_run else "Created"
        self.stdout.write(f"{verb} {done} invite(s); {failed} row(s) failed.")
        if failed:
            raise CommandError(f"{failed} row(s) failed; see the lines above.", returncode=1)


def _check_row(email: str, row: dict[str, str | None], seen: dict[str, int]) -> datetime | None:
    """The row's deadline, if it gives one; ValueError with the reason if the row is unusable."""
    if None in row:
        raise ValueError("more fields than the header has")
    if not email:
        raise ValueError("email is empty")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValueError(f"not a valid email address: {email!r}") from exc
    if email in seen:
        raise ValueError(f"duplicate of line {seen[email]}")
    if len((row.get("name") or "").strip()) > 200:
        raise ValueError("name is longer than 200 characters")
    if any(ord(c) < 32 or ord(c) == 127 for field in ("email", "name") for c in (row.get(field) or "")):
        raise ValueError("control characters (such as a NUL byte) in the email or name")
    raw = (row.get("expires_at") or "").strip()
    if not raw:
        return None
    try:
        expires_at = parse_datetime(raw)
    except ValueError:
        expires_at = None
    if expires_at is None:
        raise ValueError(f"expires_at {raw!r} is not an ISO date and time")
    if timezone.is_naive(expires_at):
        raise ValueError(f"expires_at {raw!r} has no time zone")
    if expires_at <= timezone.now():
        raise ValueError(f"expires_at {raw!r} is in the past")
    return expires_at
