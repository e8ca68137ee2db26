"""Writes to invites: each multi-step change in one place."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F
from django.utils import timezone

from invites.models import Invite, default_expiry, hash_token, new_nonce, token_for_nonce


def invite_create(
    *,
    email: str,
    name: str = "",
    expires_at: datetime | None = None,
    created_by: User | AnonymousUser | None = None,
) -> Invite:
    user = created_by if created_by is not None and created_by.is_authenticated else None
    return Invite.objects.create(
        email=email.strip().lower(),
        name=name.strip(),
        expires_at=expires_at or default_expiry(),
        created_by=user,
    )


def invite_new_link(*, invite: Invite) -> None:
    """Replace the invite's link: the old one stops working at once."""
    invite.nonce = new_nonce()
    invite.token_hash = hash_token(token_for_nonce(invite.nonce))
    invite.save(update_fields=["nonce", "token_hash"])


def invite_revoke(*, invite: Invite) -> None:
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])


def invite_extend(*, invite: Invite, days: int) -> None:
    """Push the deadline to `days` from now (or from the current deadline, if later)."""
    base = max(invite.expires_at, timezone.now())
    invite.expires_at = base + timedelta(days=days)
    invite.save(update_fields=["expires_at"])


def invite_mark_opened(*, invite: Invite) -> None:
    if invite.opened_at is None:
        Invite.objects.filter(pk=invite.pk, opened_at__isnull=True).update(opened_at=timezone.now())
        invite.refresh_from_db(fields=["opened_at"])


def invite_start_take(*, invite: Invite) -> int | None:
    """Count a new recording; the take's number, or None when none are left."""
    started = Invite.objects.filter(pk=invite.pk, takes__lt=settings.AURIO_MAX_ATTEMPTS).update(
        takes=F("takes") + 1
    )
    invite.refresh_from_db(fields=["takes"])
    return invite.takes if started else None


def invite_claim_submission(*, invite: Invite) -> bool:
    """Mark the invite submitted, once. False if another request got there first.

    A conditional UPDATE rather than a transaction, so it holds on backends
    without real transactions too.
    """
    now = timezone.now()
    claimed = Invite.objects.filter(
        pk=invite.pk, submitted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(submitted_at=now)
    if claimed:
        invite.submitted_at = now
    return bool(claimed)


def invite_release_submission(*, invite: Invite) -> None:
    """Undo a claim whose video could not be recorded, so the candidate can retry."""
    Invite.objects.filter(pk=invite.pk).update(submitted_at=None)
    invite.submitted_at = None
