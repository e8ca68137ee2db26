"""`manage.py purge_audit`: a retention period for the trail (it names candidates)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import services as audit
from audit.models import Action, AuditEvent
from invites.models import Invite

pytestmark = pytest.mark.django_db


def event_aged(invite: Invite, days: int) -> AuditEvent:
    event = audit.record(actor=audit.SYSTEM, action=Action.EMAILED, target=invite)
    AuditEvent.objects.filter(pk=event.pk).update(at=timezone.now() - timedelta(days=days))
    return event


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_audit", *args, stdout=out)
    return out.getvalue()


def test_events_past_the_retention_period_are_deleted_and_recent_ones_kept(invite: Invite) -> None:
    old, recent = event_aged(invite, 400), event_aged(invite, 10)
    assert "Deleted 1 audit event(s)" in purge("--older-than-days", "365")
    assert list(AuditEvent.objects.filter(pk__in=[old.pk, recent.pk])) == [recent]


def test_a_dry_run_deletes_nothing(invite: Invite) -> None:
    old = event_aged(invite, 400)
    assert "Would delete 1 audit event(s)" in purge("--older-than-days", "365", "--dry-run")
    assert AuditEvent.objects.filter(pk=old.pk).exists()


@pytest.mark.parametrize("days", ["0", "-3"])
def test_a_retention_below_one_day_is_refused(invite: Invite, days: str) -> None:
    event_aged(invite, 400)
    with pytest.raises(CommandError, match="at least 1"):
        purge("--older-than-days", days)
    assert AuditEvent.objects.exists()
