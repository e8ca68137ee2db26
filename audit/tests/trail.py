"""Helpers for tests that check what the audit trail recorded."""

from __future__ import annotations

import json

from django.core import serializers
from django.db.models import Model

from audit.models import AuditEvent


def trail(obj: Model) -> list[tuple[str, str]]:
    """(action, actor label) of every event about `obj`, oldest first."""
    return list(
        AuditEvent.objects.filter(object_id=obj.pk).order_by("at").values_list("action", "actor_label")
    )


def last_event(obj: Model) -> AuditEvent:
    return AuditEvent.objects.filter(object_id=obj.pk).latest("at")


def assert_no_secrets(*secrets: str) -> None:
    """No event, in any field, holds any of these (invite tokens, API keys)."""
    dump = serializers.serialize("json", AuditEvent.objects.all())
    assert json.loads(dump), "the trail is empty: nothing was checked"
    for secret in secrets:
        assert secret and secret not in dump
