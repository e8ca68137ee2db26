from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.services import Actor
from interviews.models import Interview
from invites.candidate_lists import ListError, read_csv
from invites.services import invite_create


class Command(BaseCommand):
    help = (
        "Create invites from a CSV file with a header row: email (required), name and expires_at "
        "(optional; an ISO 8601 date and time with its zone, e.g. 2026-12-01T17:00:00+00:00, or empty "
        "for the default deadline). Good rows are created and bad ones reported with their line; "
        "the command exits with status 1 if any row failed. The admin's Invite candidates page reads "
        "the same format."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row; create nothing.")
        parser.add_argument("--days", type=int, help="Deadline in days from now for rows without expires_at.")
        parser.add_argument(
            "--interview",
            metavar="ID",
            help="The interview the invites belong to (default: the default one).",
        )

    def handle(
        self, *args: Any, file: Path, dry_run: bool, days: int | None, interview: str | None, **options: Any
    ) -> None:
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        chosen = _interview(interview) if interview else None
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text.") from exc
        try:
            rows = read_csv(text)
        except ListError as exc:
            raise CommandError(f"{file} {exc}.") from exc
        default_expiry = timezone.now() + timedelta(days=days) if days else None

        actor = Actor.command("import_invites")
        report = [(bad.line, f"line {bad.line}: {bad.email or '-'}: error: {bad.reason}") for bad in rows.bad]
        for row in rows.good:
            if not dry_run:
                invite_create(
                    email=row.email,
                    name=row.name,
                    expires_at=row.expires_at or default_expiry,
                    interview=chosen,
                    actor=actor,
                )
            report.append(
                (row.line, f"line {row.line}: {row.email}: {'would create' if dry_run else 'created'}")
            )
        for _, line in sorted(report):
            self.stdout.write(line)
        verb = "Would create" if dry_run else "Created"
        self.stdout.write(f"{verb} {len(rows.good)} invite(s); {len(rows.bad)} row(s) failed.")
        if rows.bad:
            raise CommandError(f"{len(rows.bad)} row(s) failed; see the lines above.", returncode=1)


def _interview(raw: str) -> Interview:
    try:
        found = Interview.objects.filter(pk=uuid.UUID(raw)).first()
    except ValueError:
        found = None
    if found is None:
        raise CommandError(f"No interview with id {raw!r}; nothing was created.")
    return found
