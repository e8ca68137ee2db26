"""Writes to invites: each multi-step change in one place."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit import services as audit
from audit.services import CANDIDATE, SYSTEM, Action, Actor
from invites.models import Invite, default_expiry, hash_token, new_nonce, token_for_nonce, usable_now

# What staff may change on an invite after creating it.
EDITABLE = ("email", "name", "expires_at")


def invite_create(
    *,
    email: str,
    name: str = "",
    expires_at: datetime | None = None,
    created_by: User | AnonymousUser | None = None,
    actor: Actor | None = None,
) -> Invite:
    """`actor` is who the audit trail names; by default `created_by` (or "system")."""
    actor = actor or Actor.of_user(created_by)
    user = created_by if created_by is not None and created_by.is_authenticated else actor.user
    invite = Invite.objects.create(
        email=email.strip().lower(),
        name=name.strip(),
        expires_at=expires_at or default_expiry(),
        created_by=user,
    )
    audit.record(
        actor=actor,
        action=Action.CREATED,
        target=invite,
        detail={"expires_at": invite.expires_at.isoformat()},
    )
    return invite


def invite_update(*, invite: Invite, changes: dict[str, Any], actor: Actor = SYSTEM) -> None:
    """Change editable fields (see EDITABLE); the trail keeps each one's old and new value."""
    changes = dict(changes)
    if "email" in changes:
        changes["email"] = str(changes["email"]).strip().lower()
    before = {field: getattr(invite, field) for field in changes}
    for field, value in changes.items():
        setattr(invite, field, value)
    changed = [field for field in changes if before[field] != changes[field]]
    if not changed:
        return
    invite.save(update_fields=changed)
    audit.record(
        actor=actor,
        action=Action.EDITED,
        target=invite,
        detail={f: {"from": _plain(before[f]), "to": _plain(changes[f])} for f in changed},
    )


def invite_new_link(*, invite: Invite, actor: Actor = SYSTEM) -> None:
    """Replace the invite's link: the old one stops working at once."""
    invite.nonce = new_nonce()
    invite.token_hash = hash_token(token_for_nonce(invite.nonce))
    invite.save(update_fields=["nonce", "token_hash"])
    audit.record(actor=actor, action=Action.LINK_REISSUED, target=invite)


def invite_revoke(*, invite: Invite, actor: Actor = SYSTEM) -> None:
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action=Action.REVOKED, target=invite)


def invite_extend(*, invite: Invite, days: int, actor: Actor = SYSTEM) -> None:
    """Push the deadline to `days` from now (or from the current deadline, if later)."""
    before = invite.expires_at
    invite.expires_at = max(before, timezone.now()) + timedelta(days=days)
    invite.save(update_fields=["expires_at"])
    audit.record(
        actor=actor,
        action=Action.EXTENDED,
        target=invite,
        detail={"from": _plain(before), "to": _plain(invite.expires_at)},
    )


def invite_mark_opened(*, invite: Invite) -> None:
    """The candidate opened their link: recorded once, the first time."""
    if invite.opened_at is None:
        opened = Invite.objects.filter(pk=invite.pk, opened_at__isnull=True).update(opened_at=timezone.now())
        invite.refresh_from_db(fields=["opened_at"])
        if opened:
            audit.record(actor=CANDIDATE, action=Action.OPENED, target=invite)


def invite_start_take(*, invite: Invite) -> int | None:
    """Count a new recording; the take's number, or None when none are left."""
    started = Invite.objects.filter(pk=invite.pk, takes__lt=settings.AURIO_MAX_ATTEMPTS).update(
        takes=F("takes") + 1
    )
    invite.refresh_from_db(fields=["takes"])
    return invite.takes if started else None


def invite_claim_submission(
    *, invite: Invite, video_id: uuid.UUID, replacing: uuid.UUID | None = None
) -> bool:
    """Mark the invite submitted by the video `video_id`, in one conditional
    UPDATE. False if another submission got there first.

    The claim names the video before its row exists, so a request that dies
    between the two can be completed: a retry carrying the same video id (a
    resumable upload's finish) claims it again and writes the row. `replacing`:
    take over the unfinished claim of that other video id (one whose row never
    came; the caller checks that). No transaction, so it holds on backends
    without real transactions too.
    """
    now = timezone.now()
    fresh = usable_now()
    again = Q(submission_id=video_id)
    taken_over = Q(submission_id=replacing) if replacing else Q(pk__in=[])
    claimed = Invite.objects.filter(Q(pk=invite.pk) & (fresh | again | taken_over)).update(
        submitted_at=Coalesce(F("submitted_at"), Value(now)) if not replacing else Value(now),
        submission_id=video_id,
    )
    if claimed:
        invite.refresh_from_db(fields=["submitted_at", "submission_id"])
    return bool(claimed)


def invite_release_submission(*, invite: Invite, video_id: uuid.UUID) -> None:
    """Undo the claim of `video_id`, whose row could not be written, so the
    candidate can retry (another submission's claim is left alone)."""
    Invite.objects.filter(pk=invite.pk, submission_id=video_id).update(submitted_at=None, submission_id=None)
    invite.refresh_from_db(fields=["submitted_at", "submission_id"])


def _plain(value: object) -> object:
    """A value as the trail's JSON keeps it (dates as ISO 8601)."""
    return value.isoformat() if isinstance(value, datetime) else value
