from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Delete audit events older than N days. They name candidates (email addresses), so a "
        "retention policy for personal data covers them too. The deletion itself is not recorded "
        "in the trail: say it in your operations log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days", type=int, required=True, metavar="N", help="Retention period in days."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args: Any, older_than_days: int, dry_run: bool, **options: Any) -> None:
        if older_than_days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=older_than_days)
        old = AuditEvent.objects.filter(at__lt=cutoff)
        if dry_run:
            self.stdout.write(
                f"Would delete {old.count()} audit event(s) older than {cutoff:%Y-%m-%d %H:%M %Z}."
            )
            return
        deleted, _ = old.delete()
        self.stdout.write(f"Deleted {deleted} audit event(s) older than {cutoff:%Y-%m-%d %H:%M %Z}.")
