"""The server counts takes: a candidate may start AURIO_MAX_ATTEMPTS recordings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invites.models import Invite
from invites.services import invite_revoke
from tests.support.factories import first_answer

pytestmark = pytest.mark.django_db


def start(client: Client, token: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("api:start_take", args=[token]))


def test_takes_are_counted_up_to_the_limit(client: Client, invite: Invite, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AURIO_MAX_ATTEMPTS = 2
    first, second, third = (start(client, invite.token) for _ in range(3))
    assert first.status_code == second.status_code == 201
    assert first.json() == {"take": 1, "maxTakes": 2, "takesLeft": 1}
    assert second.json()["takesLeft"] == 0
    assert third.status_code == 403
    assert "all 2 takes" in third.json()["detail"]
    assert first_answer(invite).takes == 2


def test_token_check_reports_takes(client: Client, invite: Invite) -> None:
    start(client, invite.token)
    body = client.get(reverse("api:check_invite", args=[invite.token])).json()
    assert (body["takesUsed"], body["maxTakes"]) == (1, 3)


def test_record_page_tells_the_script_how_many_takes_are_left(client: Client, invite: Invite) -> None:
    start(client, invite.token)
    body = client.get(reverse("invites:record", args=[invite.token])).content.decode()
    assert 'data-takes-used="1"' in body
    assert 'data-max-takes="3"' in body


def test_unknown_link_cannot_start_a_take(client: Client, db: None) -> None:
    assert start(client, "y" * 32).status_code == 404


def test_revoked_or_expired_link_cannot_start_a_take(client: Client, invite: Invite) -> None:
    invite_revoke(invite=invite)
    assert start(client, invite.token).status_code == 410
    Invite.objects.filter(pk=invite.pk).update(revoked_at=None, expires_at=timezone.now() - timedelta(days=1))
    assert start(client, invite.token).status_code == 410
    assert first_answer(invite).takes == 0


def test_submitted_invite_cannot_start_a_take(client: Client, invite: Invite) -> None:
    Invite.objects.filter(pk=invite.pk).update(submitted_at=timezone.now())
    assert start(client, invite.token).status_code == 409
