"""Named reads of invites, shared by views, admin, API and commands."""

from __future__ import annotations

import hmac
import uuid

from django.db.models import QuerySet

from invites.models import Invite, hash_token, token_for_nonce


def invite_for_token(token: str) -> Invite | None:
    """The invite a candidate's link points at, or None for an unknown token.

    The token must also still derive from the invite's nonce under the current
    INVITE_TOKEN_KEY, so rotating the key kills every link already sent.
    """
    if not token or len(token) > 64:
        return None
    invite = Invite.objects.filter(token_hash=hash_token(token)).first()
    if invite is None or not hmac.compare_digest(token_for_nonce(invite.nonce), token):
        return None
    return invite


def invites_with_videos() -> QuerySet[Invite]:
    """Invites with their videos (newest first, the videos' own order), in a
    constant number of queries."""
    return Invite.objects.prefetch_related("videos")


def invite_by_id(raw: str) -> Invite | None:
    """The invite with this id, or None for an unknown or malformed one (ops commands)."""
    try:
        return Invite.objects.filter(pk=uuid.UUID(raw)).first()
    except ValueError:
        return None
