"""Invitation and reminder emails: composed from templates/emails/, sent one
by one, each recorded on its invite (sent_at or reminded_at) and in the audit
trail. Shared by the admin's actions and `send_invites`."""

from __future__ import annotations

import smtplib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from audit import services as audit
from audit.services import Action, Actor
from invites.models import Invite

Kind = Literal["invite", "reminder"]
# The invite's column each kind of email stamps.
STAMP = {"invite": "sent_at", "reminder": "reminded_at"}


@dataclass
class Sending:
    """What a batch came to: sent in order, skipped with why, and the failure
    that stopped it (the invite and the error), if any."""

    sent: list[Invite] = field(default_factory=list)
    skipped: list[tuple[Invite, str]] = field(default_factory=list)
    failed: tuple[Invite, str] | None = None
    not_tried: list[Invite] = field(default_factory=list)

    def skipped_summary(self) -> str:
        """ "2 submitted, 1 link dead": how many were skipped, by reason."""
        counts = Counter(reason for _, reason in self.skipped)
        return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def skip_reason(invite: Invite) -> str | None:
    """Why this invite gets no email now, or None: only open and opened invites
    with a working link are emailed."""
    if not invite.is_usable:
        return str(invite.status)
    if not invite.link:
        return "link dead"
    return None


def send_emails(*, invites: Iterable[Invite], kind: Kind, actor: Actor, dry_run: bool = False) -> Sending:
    """Email each usable invite; the first failure of the mail backend stops the
    batch (the rest are `not_tried`). Each email sent is stamped on its invite
    at once, so a later failure leaves a true record of what went out."""
    result = Sending()
    pending = list(invites)
    while pending:
        invite = pending.pop(0)
        reason = skip_reason(invite)
        if reason is not None:
            result.skipped.append((invite, reason))
            continue
        if not dry_run:
            try:
                message(kind, invite).send()
            except (OSError, smtplib.SMTPException) as exc:
                result.failed = (invite, str(exc) or type(exc).__name__)
                result.not_tried = pending
                return result
            now = timezone.now()
            Invite.objects.filter(pk=invite.pk).update(**{STAMP[kind]: now})
            setattr(invite, STAMP[kind], now)
            audit.record(actor=actor, action=Action.EMAILED, target=invite, detail={"kind": kind})
        result.sent.append(invite)
    return result


def message(kind: Kind, invite: Invite) -> EmailMultiAlternatives:
    context = _context(invite)
    subject = " ".join(render_to_string(f"emails/{kind}_subject.txt", context).split())
    email = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"emails/{kind}_body.txt", context), to=[invite.email]
    )
    email.attach_alternative(render_to_string(f"emails/{kind}_body.html", context), "text/html")
    return email


def _context(invite: Invite) -> dict[str, object]:
    questions = list(invite.interview.answered_questions())
    longest = max((invite.answer_seconds(q) for q in questions), default=0)
    return {
        "invite": invite,
        "interview": invite.interview,
        "questions": len(questions),
        "answer_time": _duration(longest),
    }


def _duration(seconds: int) -> str:
    """ "2 minutes", "90 seconds": an answer's time in words."""
    if seconds and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"
