"""The client's address, as audit records it and rate limits count it (aurio/clients.py)."""

from __future__ import annotations

from django.test import RequestFactory

from aurio.clients import client_address, peer_address


def test_behind_two_proxies_the_client_is_the_second_entry_from_the_right(settings) -> None:  # type: ignore[no-untyped-def]
    settings.USE_X_FORWARDED_FOR = True
    settings.AURIO_TRUSTED_PROXIES = 2
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4, 10.0.0.1"
    )
    assert client_address(request) == "198.51.100.4"
    short = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert client_address(short) == "198.51.100.4"


def test_ipv6_addresses_count_per_64(settings) -> None:  # type: ignore[no-untyped-def]
    settings.USE_X_FORWARDED_FOR = False
    one = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    two = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:bbbb::2")
    other = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:3::1")
    assert client_address(one) == client_address(two) == "2001:db8:1:2::/64"
    assert client_address(other) != client_address(one)
    assert client_address(RequestFactory().get("/", REMOTE_ADDR="203.0.113.7")) == "203.0.113.7"


def test_forwarded_for_is_ignored_unless_enabled(settings) -> None:  # type: ignore[no-untyped-def]
    settings.USE_X_FORWARDED_FOR = False
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert peer_address(request) == client_address(request) == "10.0.0.2"


def test_the_peer_address_keeps_the_whole_ipv6_address(settings) -> None:  # type: ignore[no-untyped-def]
    """The audit trail records the address itself; only rate limits count per /64."""
    settings.USE_X_FORWARDED_FOR = False
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    assert peer_address(request) == "2001:db8:1:2:aaaa::1"


def test_an_address_that_is_not_one_is_cut_short_or_unknown(settings) -> None:  # type: ignore[no-untyped-def]
    settings.USE_X_FORWARDED_FOR = True
    made_up = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="x" * 100)
    assert client_address(made_up) == "x" * 64
    assert client_address(RequestFactory().get("/", REMOTE_ADDR="")) == "unknown"
