from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from uploads.services import uploads_expire


class Command(BaseCommand):
    help = "Delete unfinished resumable uploads past their expiry, with their stored parts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only say what would be deleted.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        count, size = uploads_expire(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {count} expired upload(s), {size / 1e6:.1f} MB of stored parts.")
