"""Property-based tests (hypothesis): looking up a candidate's link never fails and
never finds an invite for a token it was not given."""

from __future__ import annotations

import secrets

import pytest
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
