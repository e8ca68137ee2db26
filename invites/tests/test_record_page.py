from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invites.models import Invite, hash_token, new_nonce, token_for_nonce
from invites.services import invite_revoke

pytestmark = pytest.mark.django_db


def test_candidate_page_shows_the_invite_and_where_to_upload(client: Client, invite: Invite) -> None:
    response = client.get(reverse("invites:record", args=[invite.token]))
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("uploads:uploads", args=[invite.token]) in body  # data-tus-url
    assert reverse("api:start_take", args=[invite.token]) in body
    assert reverse("invites:done", args=[invite.token]) in body
    assert "Cand" in body


def test_the_page_finishes_uploads_at_the_apis_url_whatever_the_token(client: Client, invite: Invite) -> None:
    # A token with "ID" in it (about one in 130) once cut the page's finish URL short there.
    nonce = next(n for n in iter(new_nonce, "") if "ID" in token_for_nonce(n))
    token = token_for_nonce(nonce)
    Invite.objects.filter(pk=invite.pk).update(nonce=nonce, token_hash=hash_token(token))
    response = client.get(reverse("invites:record", args=[token]))
    upload_id = "0b8e7c1e-2f6a-4a57-9a3c-5d1f0e9b7a21"
    page_url = response.context["finish_url_prefix"] + upload_id + "/finish"  # as record-upload.js builds it
    assert page_url == reverse("api:finish_upload", args=[token, upload_id])


def test_opening_the_page_marks_the_invite_opened(client: Client, invite: Invite) -> None:
    client.get(reverse("invites:record", args=[invite.token]))
    invite.refresh_from_db()
    assert invite.opened_at is not None


def test_candidate_page_has_no_inline_script(client: Client, invite: Invite) -> None:
    response = client.get(reverse("invites:record", args=[invite.token]))
    body = response.content.decode()
    assert "<script>" not in body
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_candidate_page_loads_its_parts_before_the_page_flow(client: Client, invite: Invite) -> None:
    body = client.get(reverse("invites:record", args=[invite.token])).content.decode()
    # Deferred scripts run in document order: record.js finds the others already there.
    parts = ["tus.min.js", "record-store.js", "record-upload.js", "record-devices.js", "js/record.js"]
    positions = [body.index(f'{part}" defer') for part in parts]
    assert positions == sorted(positions)


def test_unknown_link_gets_a_friendly_404(client: Client, db: None) -> None:
    response = client.get(reverse("invites:record", args=["not-a-real-token-at-all"]))
    assert response.status_code == 404
    assert "couldn't find this link" in response.content.decode()


def test_expired_link_says_so(client: Client, invite: Invite) -> None:
    invite.expires_at = timezone.now() - timedelta(minutes=1)
    invite.save()
    response = client.get(reverse("invites:record", args=[invite.token]))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    invite.refresh_from_db()
    assert invite.opened_at is None


def test_revoked_link_says_so(client: Client, invite: Invite) -> None:
    invite_revoke(invite=invite)
    response = client.get(reverse("invites:record", args=[invite.token]))
    assert response.status_code == 410
    assert "no longer active" in response.content.decode()


def test_submitted_link_shows_the_confirmation(client: Client, invite: Invite) -> None:
    Invite.objects.filter(pk=invite.pk).update(submitted_at=timezone.now())
    response = client.get(reverse("invites:record", args=[invite.token]))
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()


def test_done_page_before_submitting_points_back_to_the_recorder(client: Client, invite: Invite) -> None:
    response = client.get(reverse("invites:done", args=[invite.token]))
    assert response.status_code == 410
    assert reverse("invites:record", args=[invite.token]) in response.content.decode()


def test_done_page_for_unknown_link_is_404(client: Client, db: None) -> None:
    assert client.get(reverse("invites:done", args=["nope-nope-nope-nope"])).status_code == 404


def test_record_page_refuses_post(client: Client, invite: Invite) -> None:
    assert client.post(reverse("invites:record", args=[invite.token])).status_code == 405
