"""The invites' gauges for /metrics and `manage.py summary`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from aurio.metrics import Metric
from invites.models import Invite, InviteStatus


def invite_metrics() -> Iterable[Metric]:
    counts = dict(
        Invite.objects.with_status().order_by().values_list("current_status").annotate(n=Count("pk"))  # type: ignore[misc]
    )
    invites = Metric("aurio_invites", "Invites, by status.", title="Invites")
    for status in InviteStatus:
        invites.add(counts.get(status.value, 0), status=status.value)
    return [invites]
