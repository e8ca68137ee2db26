"""Property-based tests (hypothesis): looking up a candidate's link never fails and
never finds an invite for a token it was not given."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from invites.models import Invite
from invites.repository import invite_for_token

# What a URL path segment can carry once Django has decoded it, plus token-shaped strings.
tokens = st.one_of(
    st.text(max_size=80),
    st.text(st.characters(codec="ascii"), max_size=80),
    st.binary(min_size=1, max_size=48).map(lambda b: secrets.token_urlsafe(len(b))),
)


@pytest.mark.django_db
@given(token=tokens)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(token="")
@example(token="\x00")
@example(token="x" * 64)
@example(token="x" * 65)
def test_random_tokens_find_nothing_and_never_raise(invite: Invite, token: str) -> None:
    assert invite_for_token(token) is None


@pytest.mark.django_db
@given(suffix=st.text(min_size=1, max_size=8), cut=st.integers(1, 31))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_near_misses_of_a_real_token_find_nothing(invite: Invite, suffix: str, cut: int) -> None:
    real = invite.token
    assert invite_for_token(real) == invite
    for near in (real + suffix, real[:cut], real[:cut] + suffix + real[cut + 1 :]):
        if near != real:
            assert invite_for_token(near) is None


# An invite's dates relative to now: unset, in the past or in the future.
moments = st.sampled_from([None, -3600, 3600])


@pytest.mark.django_db
@given(revoked=moments, submitted=moments, opened=moments, expires=st.sampled_from([-60, 60]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_status_of_one_row_and_of_many_agree(
    invite: Invite, revoked: int | None, submitted: int | None, opened: int | None, expires: int
) -> None:
    """Invite.status (one row) and the QuerySet's rule (many rows: the admin
    filter, /metrics, send_invites) give every combination the same status."""
    now = timezone.now()

    def at(offset: int | None) -> datetime | None:
        return None if offset is None else now + timedelta(seconds=offset)

    Invite.objects.filter(pk=invite.pk).update(
        revoked_at=at(revoked), submitted_at=at(submitted), opened_at=at(opened), expires_at=at(expires)
    )
    invite.refresh_from_db()
    row = Invite.objects.with_status().get(pk=invite.pk)
    assert row.current_status == invite.status  # type: ignore[attr-defined]
    assert list(Invite.objects.in_status(invite.status)) == [invite]
    assert Invite.objects.usable().filter(pk=invite.pk).exists() == invite.is_usable
