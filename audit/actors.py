"""Who did something, as the audit trail names them."""

from __future__ import annotations

import getpass
import ipaddress
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest

from aurio.clients import peer_address
from aurio.models import ApiToken, hash_api_key


@dataclass(frozen=True)
class Actor:
    """A staff account (through the admin, a page or the API), a command, the
    candidate or the system. `address` is the client's, for staff and API actions."""

    label: str
    user: User | None = None
    address: str | None = None

    @classmethod
    def of_user(cls, user: User | AnonymousUser | None) -> Actor:
        if user is None or not user.is_authenticated:
            return SYSTEM
        return cls(label=user.get_username(), user=user)

    @classmethod
    def of_request(cls, request: HttpRequest) -> Actor:
        """The signed-in user, labelled with the API token's prefix when a token
        authenticated the request. Remembered on the request."""
        known: Actor | None = getattr(request, "_audit_actor", None)
        if known is not None:
            return known
        user = request.user
        if not user.is_authenticated:
            actor = cls(label="anonymous", address=_address(request))
        else:
            label = user.get_username()
            prefix = _token_prefix(request, user)
            if prefix:
                label = f"{label} (API token {prefix}…)"
            actor = cls(label=label, user=user, address=_address(request))
        request._audit_actor = actor  # type: ignore[attr-defined]
        return actor

    @classmethod
    def command(cls, name: str) -> Actor:
        """An operator's `manage.py` command, with the operating-system account that ran it."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a bare container)
            return cls(label=f"manage.py {name}")
        return cls(label=f"manage.py {name} (as {who})")


SYSTEM = Actor(label="system")
CANDIDATE = Actor(label="candidate")


def _token_prefix(request: HttpRequest, user: User) -> str:
    """The prefix of the user's API token in `Authorization: Bearer`, if that is one (never the key)."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key or len(key) > 200:
        return ""
    found = ApiToken.objects.filter(key_hash=hash_api_key(key.strip()), user=user)
    return found.values_list("prefix", flat=True).first() or ""


def _address(request: HttpRequest) -> str | None:
    """The client's address (as aurio.clients.peer_address finds it behind trusted proxies)."""
    try:
        return str(ipaddress.ip_address(peer_address(request)))
    except ValueError:
        return None
