from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import EmailStr, Field, field_validator

from audit.services import Actor
from aurio.auth import recruiter_auth, require_permission
from aurio.errors import RECRUITER_ERRORS, Error
from aurio.ratelimit import limited_api
from invites.models import Invite, InviteStatus
from invites.repository import invite_for_token, invites_with_videos
from invites.services import invite_create, invite_mark_opened, invite_start_take

router = Router(tags=["invites"])


class InviteIn(Schema):
    email: EmailStr
    name: str = Field("", max_length=200)
    expiresAt: datetime | None = None

    @field_validator("name")
    @classmethod
    def printable(cls, value: str) -> str:
        # PostgreSQL can't store a NUL byte at all; no name needs a control character.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("The name must not contain control characters (such as a NUL byte).")
        return value


class InviteOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    token: str
    link: str
    status: InviteStatus
    expiresAt: datetime
    createdAt: datetime
    openedAt: datetime | None
    submittedAt: datetime | None
    latestVideoId: uuid.UUID | None


class TokenCheckOut(Schema):
    ok: bool
    inviteId: uuid.UUID
    status: InviteStatus
    canSubmit: bool
    expiresAt: datetime
    takesUsed: int
    maxTakes: int


class TakeOut(Schema):
    take: int
    maxTakes: int
    takesLeft: int


def invite_out(invite: Invite) -> dict[str, object]:
    videos = list(invite.videos.all())
    return {
        "id": invite.id,
        "email": invite.email,
        "name": invite.name,
        "token": invite.token,
        "link": invite.link,
        "status": invite.status,
        "expiresAt": invite.expires_at,
        "createdAt": invite.created_at,
        "openedAt": invite.opened_at,
        "submittedAt": invite.submitted_at,
        "latestVideoId": videos[0].id if videos else None,
    }


@router.post("/invites", auth=recruiter_auth, response={201: InviteOut, **RECRUITER_ERRORS, 422: Error})
def create_invite(request: HttpRequest, payload: InviteIn) -> Status:
    """Create an invite; the response carries the candidate's link."""
    require_permission(request, "invites.add_invite")
    if payload.expiresAt is not None and payload.expiresAt.tzinfo is None:
        raise HttpError(422, "expiresAt: give a time zone, e.g. 2026-12-01T17:00:00Z.")
    if payload.expiresAt is not None and payload.expiresAt <= timezone.now():
        raise HttpError(422, "expiresAt: the deadline must be in the future.")
    try:
        # In UTC: databases refuse offsets past ±15:59 that ISO 8601 lets through (-19:05).
        expires_at = payload.expiresAt.astimezone(UTC) if payload.expiresAt else None
    except OverflowError:
        raise HttpError(422, "expiresAt: the deadline is past the end of the calendar.") from None
    invite = invite_create(
        email=payload.email, name=payload.name, expires_at=expires_at, actor=Actor.of_request(request)
    )
    return Status(201, invite_out(invites_with_videos().get(pk=invite.pk)))


@router.get("/invites", auth=recruiter_auth, response={200: list[InviteOut], **RECRUITER_ERRORS})
def list_invites(request: HttpRequest) -> list[dict[str, object]]:
    """Every invite, newest first."""
    require_permission(request, "invites.view_invite")
    return [invite_out(invite) for invite in invites_with_videos()]


@router.get("/invites/{token}", response={200: TokenCheckOut, 404: Error, 410: Error})
@limited_api
def check_invite(request: HttpRequest, token: str) -> dict[str, object]:
    """For the candidate's page: is this link usable? 404 unknown, 410 expired or revoked."""
    invite = invite_for_token(token)
    if invite is None:
        raise HttpError(404, "This link is not valid.")
    if invite.status == InviteStatus.REVOKED:
        raise HttpError(410, "This link has been withdrawn.")
    if invite.status == InviteStatus.EXPIRED:
        raise HttpError(410, "This link has expired.")
    invite_mark_opened(invite=invite)
    return {
        "ok": True,
        "inviteId": invite.id,
        "status": invite.status,
        "canSubmit": invite.is_usable,
        "expiresAt": invite.expires_at,
        "takesUsed": invite.takes,
        "maxTakes": settings.AURIO_MAX_ATTEMPTS,
    }


@router.post(
    "/invites/{token}/takes", response={201: TakeOut, 403: Error, 404: Error, 409: Error, 410: Error}
)
@limited_api
def start_take(request: HttpRequest, token: str) -> Status:
    """The candidate starts a recording (or picks a file): the server counts takes
    and refuses more than AURIO_MAX_ATTEMPTS."""
    invite = invite_for_token(token)
    if invite is None:
        raise HttpError(404, "This link is not valid.")
    invite.check_accepts_answer()
    take = invite_start_take(invite=invite)
    limit = settings.AURIO_MAX_ATTEMPTS
    if take is None:
        raise HttpError(
            403, f"You have used all {limit} take{'s' if limit != 1 else ''} for this invitation."
        )
    return Status(201, {"take": take, "maxTakes": limit, "takesLeft": limit - take})
