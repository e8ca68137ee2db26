"""Who a request came from: the client's address, found behind trusted proxies
(`peer_address`), and as rate limits and the login lockout count it
(`client_address`)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def peer_address(request: HttpRequest) -> str:
    """The address the request came from: REMOTE_ADDR or, with USE_X_FORWARDED_FOR
    behind AURIO_TRUSTED_PROXIES proxies, the address the outermost of them saw.

    Each proxy appends the address it saw to X-Forwarded-For, so that one is the
    N-th entry from the right; everything to its left the client wrote itself
    and could make up (the first entry is the classic mistake)."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.USE_X_FORWARDED_FOR:
        entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if entries:
            address = entries[-min(settings.AURIO_TRUSTED_PROXIES, len(entries))]
    return address


def client_address(request: HttpRequest) -> str:
    """peer_address, as rate limits count it: IPv6 addresses count per /64, the
    block one subscriber usually holds."""
    address = peer_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip)
