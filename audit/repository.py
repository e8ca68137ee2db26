"""Named reads of the audit trail."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from audit.models import AuditEvent

HISTORY_LENGTH = 20


def can_view_audit(user: User | AnonymousUser) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("audit.view_auditevent"))


def events_about(object_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """One invite's or video's events, newest first."""
    return AuditEvent.objects.filter(object_id=object_id).order_by("-at")


def events_of_invite(invite_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """An invite's events and its videos' (deleted ones too), newest first."""
    return AuditEvent.objects.filter(invite_ref=invite_id).order_by("-at")
