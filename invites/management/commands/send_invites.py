from __future__ import annotations

import smtplib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.loader import render_to_string
from django.utils import timezone

from audit import services as audit
from audit.services import Action, Actor
from invites.models import Invite, InviteStatus
from invites.repository import invite_by_id


class Command(BaseCommand):
    help = (
        "Email candidates their private link: the invites named by id, or with --all-open every invite "
        "not yet opened, submitted, revoked or expired. With --reminders, instead remind every open or "
        "opened invite whose deadline falls within --before-hours (48 by default). Emails go through "
        "EMAIL_BACKEND (the console by default). aurio keeps no record of what was sent, so running "
        "--all-open twice emails the same candidates twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("invite_ids", nargs="*", metavar="INVITE_ID", help="Invites to email.")
        parser.add_argument("--all-open", action="store_true", help="Email every invite still open.")
        parser.add_argument("--reminders", action="store_true", help="Remind invites whose deadline is near.")
        parser.add_argument(
            "--before-hours",
            type=int,
            default=48,
            metavar="HOURS",
            help="With --reminders: deadlines within this many hours from now (default 48).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list who would be emailed.")

    def handle(
        self,
        *args: Any,
        invite_ids: list[str],
        all_open: bool,
        reminders: bool,
        before_hours: int,
        dry_run: bool,
        **options: Any,
    ) -> None:
        if sum([bool(invite_ids), all_open, reminders]) != 1:
            raise CommandError("Name invites, or give --all-open, or give --reminders (one of them).")
        if before_hours < 1:
            raise CommandError("--before-hours must be at least 1.")
        kind = "reminder" if reminders else "invite"
        if reminders:
            invites = _nearly_expired(timedelta(hours=before_hours))
        elif all_open:
            invites = list(Invite.objects.in_status(InviteStatus.OPEN).order_by("created_at"))
        else:
            invites = _named(invite_ids)
        sent = 0
        actor = Actor.command("send_invites")
        for invite in invites:
            if not invite.link:
                self.stderr.write(f"{invite.pk} {invite.email}: skipped, its link is dead (issue a new one)")
                continue
            if not dry_run:
                try:
                    _message(kind, invite).send()
                except (OSError, smtplib.SMTPException) as exc:
                    raise CommandError(
                        f"Could not send to {invite.email}: {exc}. {sent} email(s) went out before it. "
                        "Check EMAIL_BACKEND and EMAIL_HOST (see .env.example)."
                    ) from exc
                audit.record(actor=actor, action=Action.EMAILED, target=invite, detail={"kind": kind})
            sent += 1
            self.stdout.write(f"{invite.pk} {invite.email}: {'would send' if dry_run else 'sent'} {kind}")
        self.stdout.write(f"{'Would send' if dry_run else 'Sent'} {sent} {kind} email(s).")


def _nearly_expired(window: timedelta) -> list[Invite]:
    soon = timezone.now() + window
    return list(Invite.objects.usable().filter(expires_at__lte=soon).order_by("created_at"))


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


def _message(kind: str, invite: Invite) -> EmailMultiAlternatives:
    context = {"invite": invite, "max_minutes": max(1, settings.AURIO_MAX_DURATION_SECONDS // 60)}
    subject = " ".join(render_to_string(f"emails/{kind}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{kind}_body.txt", context),
        to=[invite.email],
    )
    message.attach_alternative(render_to_string(f"emails/{kind}_body.html", context), "text/html")
    return message
