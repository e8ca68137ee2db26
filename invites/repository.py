"""Named reads of invites, shared by views, admin, API and commands."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from invites.models import Invite, hash_token


def invite_for_token(token: str) -> Invite | None:
    """The invite a candidate's link points at, or None for an unknown token."""
    if not token or len(token) > 64:
        return None
    return Invite.objects.filter(token_hash=hash_token(token)).first()


def invites_with_videos() -> QuerySet[Invite]:
    """Invites with their videos, newest first, in a constant number of queries."""
    from videos.models import Video

    return Invite.objects.prefetch_related(Prefetch("videos", queryset=Video.objects.order_by("-created_at")))
