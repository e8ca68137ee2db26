"""Writing the audit trail. Callers pass who acted (an `Actor`) and what was touched.

`from audit import services as audit` reads well at the call site:
`audit.record(actor=actor, action=Action.REVOKED, target=invite)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from audit.actors import CANDIDATE, SYSTEM, Actor
from audit.models import Action, AuditEvent, ObjectType
from aurio.middleware import NO_REQUEST, current_request_id

__all__ = ["CANDIDATE", "SYSTEM", "Action", "Actor", "record", "record_view"]

# A player makes many Range requests; one "viewed" per actor and video in this window.
VIEW_WINDOW = timedelta(minutes=5)
_VIEW_IDS = uuid.UUID("5f0e7a52-41c7-4c55-9d5e-4b8f3b0a7d11")


def record(
    *,
    actor: Actor,
    action: Action,
    target: models.Model | str,
    detail: Mapping[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
) -> AuditEvent:
    """Write one event about `target`: an invite, a video, or a stored file's name.

    The object is described in text (type, id, label), never linked, so the
    event outlives it. Never pass secrets (invite tokens, API keys) in `detail`.
    """
    request_id = current_request_id.get()
    event = AuditEvent(
        id=event_id or uuid.uuid4(),
        at=timezone.now(),
        actor=actor.user,
        actor_label=actor.label[:200],
        action=action,
        client_address=actor.address,
        request_id="" if request_id == NO_REQUEST else request_id,
        detail=dict(detail or {}),
        **_describe(target),
    )
    event.save(force_insert=True)
    return event


def record_view(*, actor: Actor, video: models.Model) -> bool:
    """Record that `actor` watched `video`, at most once per VIEW_WINDOW; True if recorded.

    A recent "viewed" by the same actor means this is one more Range request of
    the same viewing. Requests racing past that check share one event id per
    window (derived from actor, video and time), so only one insert succeeds.
    """
    now = timezone.now()
    recent = AuditEvent.objects.filter(
        object_id=video.pk, at__gte=now - VIEW_WINDOW, action=Action.VIEWED, object_type=ObjectType.VIDEO
    )
    recent = recent.filter(actor=actor.user) if actor.user else recent.filter(actor_label=actor.label)
    if recent.exists():
        return False
    who = actor.user.pk if actor.user else actor.label
    window = int(now.timestamp() // VIEW_WINDOW.total_seconds())
    event_id = uuid.uuid5(_VIEW_IDS, f"{who}:{video.pk}:{window}")
    try:
        # A savepoint only so that PostgreSQL carries on after a refused
        # duplicate; the unique id is what makes this hold on every backend.
        with transaction.atomic():
            record(actor=actor, action=Action.VIEWED, target=video, event_id=event_id)
    except IntegrityError:
        return False
    return True


def _describe(target: models.Model | str) -> dict[str, Any]:
    if isinstance(target, str):
        return {"object_type": ObjectType.FILE, "object_label": target[:300]}
    object_type = ObjectType(str(target._meta.model_name))
    invite_ref = target.pk if object_type == ObjectType.INVITE else getattr(target, "invite_id", None)
    return {
        "object_type": object_type,
        "object_id": target.pk,
        "object_label": str(target)[:300],
        "invite_ref": invite_ref,
    }
