from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import serializers
from django.test import override_settings
from django.utils import timezone

from invites.models import Invite, InviteStatus, hash_token, token_for_nonce
from invites.repository import invite_for_token
from invites.services import invite_create, invite_extend, invite_new_link, invite_revoke

pytestmark = pytest.mark.django_db


def test_token_carries_at_least_128_bits_and_is_url_safe(invite: Invite) -> None:
    token = invite.token
    assert len(token) * 6 >= 128
    assert all(c.isalnum() or c in "-_" for c in token)


def test_tokens_differ_between_invites() -> None:
    tokens = {invite_create(email=f"c{i}@example.com").token for i in range(20)}
    assert len(tokens) == 20


def test_database_dump_does_not_reveal_the_link(invite: Invite) -> None:
    dump = serializers.serialize("json", Invite.objects.all())
    assert invite.token not in dump
    # What is stored cannot be turned back into a link without the key.
    fields = json.loads(dump)[0]["fields"]
    assert fields["token_hash"] == hash_token(invite.token)


def test_token_depends_on_the_server_key(invite: Invite) -> None:
    token = invite.token
    with override_settings(INVITE_TOKEN_KEY="another-key"):
        assert token_for_nonce(invite.nonce) != token
        # Every link already sent dies with the old key, and none can be shown…
        assert invite_for_token(token) is None
        assert Invite.objects.get(pk=invite.pk).link == ""
        # …until a recruiter issues a new one.
        invite_new_link(invite=invite)
        assert invite_for_token(invite.token) == invite


def test_link_can_be_shown_again_and_still_finds_the_invite(invite: Invite) -> None:
    again = Invite.objects.get(pk=invite.pk)
    assert again.link.endswith(f"/r/{invite.token}")
    assert invite_for_token(again.token) == invite


def test_unknown_or_absurd_tokens_find_nothing(invite: Invite) -> None:
    assert invite_for_token("") is None
    assert invite_for_token("x" * 5000) is None
    assert invite_for_token(invite.token[:-1]) is None


def test_status_follows_the_invite_through_its_life(invite: Invite) -> None:
    assert invite.status == InviteStatus.OPEN
    invite.opened_at = timezone.now()
    assert invite.status == InviteStatus.OPENED
    invite.submitted_at = timezone.now()
    assert invite.status == InviteStatus.SUBMITTED
    invite.revoked_at = timezone.now()
    assert invite.status == InviteStatus.REVOKED


def test_invite_past_its_deadline_is_expired(invite: Invite) -> None:
    invite.expires_at = timezone.now() - timedelta(seconds=1)
    assert invite.status == InviteStatus.EXPIRED
    assert not invite.is_usable


def test_create_normalises_email_and_sets_default_deadline() -> None:
    invite = invite_create(email="  Someone@Example.COM ", name=" Sam ")
    assert invite.email == "someone@example.com"
    assert invite.name == "Sam"
    assert timedelta(days=13) < invite.expires_at - timezone.now() <= timedelta(days=14)


def test_revoke_is_idempotent(invite: Invite) -> None:
    invite_revoke(invite=invite)
    first = invite.revoked_at
    invite_revoke(invite=invite)
    invite.refresh_from_db()
    assert invite.revoked_at == first


def test_extend_revives_an_expired_invite_from_now(invite: Invite) -> None:
    invite.expires_at = timezone.now() - timedelta(days=3)
    invite.save()
    invite_extend(invite=invite, days=7)
    invite.refresh_from_db()
    assert invite.status == InviteStatus.OPEN
    assert timedelta(days=6) < invite.expires_at - timezone.now() <= timedelta(days=7)


def test_extend_adds_to_a_later_deadline(invite: Invite) -> None:
    deadline = invite.expires_at
    invite_extend(invite=invite, days=7)
    invite.refresh_from_db()
    assert invite.expires_at == deadline + timedelta(days=7)
