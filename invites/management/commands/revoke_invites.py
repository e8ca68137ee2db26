from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor
from invites.models import Invite
from invites.repository import invite_by_id
from invites.services import invite_revoke


class Command(BaseCommand):
    help = (
        "Withdraw invite links at once: the invites named by id, or every invite sent to --email. "
        "Revoked links show the candidate a page saying so; videos already submitted are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("invite_ids", nargs="*", metavar="INVITE_ID", help="Invites to revoke.")
        parser.add_argument("--email", help="Revoke every invite sent to this address.")
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be revoked.")

    def handle(
        self, *args: Any, invite_ids: list[str], email: str | None, dry_run: bool, **options: Any
    ) -> None:
        if bool(invite_ids) == bool(email):
            raise CommandError("Name invites by id, or give --email (one of them).")
        invites = _named(invite_ids) if invite_ids else _for_email(email or "")
        revoked = 0
        actor = Actor.command("revoke_invites")
        for invite in invites:
            if invite.is_revoked:
                self.stdout.write(f"{invite.pk} {invite.email}: already revoked")
                continue
            if not dry_run:
                invite_revoke(invite=invite, actor=actor)
            revoked += 1
            self.stdout.write(f"{invite.pk} {invite.email}: {'would revoke' if dry_run else 'revoked'}")
        self.stdout.write(f"{'Would revoke' if dry_run else 'Revoked'} {revoked} invite(s).")


def _named(raw_ids: list[str]) -> list[Invite]:
    found = []
    for raw in raw_ids:
        invite = invite_by_id(raw)
        if invite is None:
            raise CommandError(f"No invite with id {raw!r}; nothing was revoked.")
        found.append(invite)
    return found


def _for_email(email: str) -> list[Invite]:
    invites = list(Invite.objects.filter(email=email.strip().lower()).order_by("created_at"))
    if not invites:
        raise CommandError(f"No invite was sent to {email!r}; nothing was revoked.")
    return invites
