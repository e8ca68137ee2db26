from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from audit.services import Actor
from invites.emails import Kind, send_emails
from invites.models import Invite, InviteStatus
from invites.repository import invite_by_id


class Command(BaseCommand):
    help = (
        "Email candidates their private link: the invites named by id, or with --all-open every invite "
        "not yet opened, submitted, revoked or expired that has not been emailed its invitation yet. With "
        "--reminders, instead remind every open or opened invite whose deadline falls within --before-hours "
        "(48 by default) and that was not reminded within that many hours. --again includes invites already "
        "emailed. Each email sets the invite's sent_at (or reminded_at) and is an 'emailed' event in the "
        "audit trail. Emails go through EMAIL_BACKEND."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("invite_ids", nargs="*", metavar="INVITE_ID", help="Invites to email.")
        parser.add_argument(
            "--all-open", action="store_true", help="Email every invite still open and not emailed yet."
        )
        parser.add_argument("--reminders", action="store_true", help="Remind invites whose deadline is near.")
        parser.add_argument(
            "--before-hours",
            type=int,
            default=48,
            metavar="HOURS",
            help="With --reminders: deadlines within this many hours from now (default 48).",
        )
        parser.add_argument(
            "--again",
            action="store_true",
            help="With --all-open or --reminders: also invites already emailed (or recently reminded).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list who would be emailed.")

    def handle(
        self,
        *args: Any,
        invite_ids: list[str],
        all_open: bool,
        reminders: bool,
        before_hours: int,
        again: bool,
        dry_run: bool,
        **options: Any,
    ) -> None:
        if sum([bool(invite_ids), all_open, reminders]) != 1:
            raise CommandError("Name invites, or give --all-open, or give --reminders (one of them).")
        if before_hours < 1:
            raise CommandError("--before-hours must be at least 1.")
        kind: Kind = "reminder" if reminders else "invite"
        if reminders:
            invites = _nearly_expired(timedelta(hours=before_hours), again=again)
        elif all_open:
            invites = _all_open(again=again)
        else:
            invites = _named(invite_ids)
        result = send_emails(invites=invites, kind=kind, actor=Actor.command("send_invites"), dry_run=dry_run)
        for invite in result.sent:
            self.stdout.write(f"{invite.pk} {invite.email}: {'would send' if dry_run else 'sent'} {kind}")
        for invite, reason in result.skipped:
            why = "its link is dead (issue a new one)" if reason == "link dead" else f"it is {reason}"
            self.stderr.write(f"{invite.pk} {invite.email}: skipped, {why}")
        if result.failed is not None:
            invite, error = result.failed
            raise CommandError(
                f"Could not send to {invite.email}: {error}. {len(result.sent)} email(s) went out before it "
                f"(recorded), {len(result.not_tried)} not tried. Check EMAIL_BACKEND and EMAIL_HOST "
                "(see .env.example)."
            )
        self.stdout.write(f"{'Would send' if dry_run else 'Sent'} {len(result.sent)} {kind} email(s).")


def _all_open(*, again: bool) -> list[Invite]:
    invites = Invite.objects.in_status(InviteStatus.OPEN)
    if not again:
        invites = invites.filter(sent_at__isnull=True)
    return list(invites.select_related("interview").order_by("created_at"))


def _nearly_expired(window: timedelta, *, again: bool) -> list[Invite]:
    now = timezone.now()
    invites = Invite.objects.usable().filter(expires_at__lte=now + window)
    if not again:
        # One reminder per deadline: a daily run with a two-day window reminds once.
        invites = invites.filter(Q(reminded_at__isnull=True) | Q(reminded_at__lt=now - window))
    return list(invites.select_related("interview").order_by("created_at"))


def _named(raw_ids: list[str]) -> list[Invite]:
    found = []
    for raw in raw_ids:
        invite = invite_by_id(raw)
        if invite is None:
            raise CommandError(f"No invite with id {raw!r}; nothing was sent.")
        if not invite.is_usable:
            raise CommandError(f"Invite {raw} is {invite.status}; nothing was sent.")
        found.append(invite)
    return found
