"""The client's address, for throttling.

Behind a proxy REMOTE_ADDR is the proxy. X-Forwarded-For is believed only as
far as TRUSTED_PROXY_COUNT says: each trusted proxy appends the address it
saw, so the client is the entry that many places from the right; anything to
its left was written by the client and proves nothing. (daphne's
--proxy-headers takes the leftmost entry as REMOTE_ADDR: not usable here.)
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address to count attempts against: one IPv4 address, or the /64
    of an IPv6 address (one subscriber usually holds a whole /64)."""
    address = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        entries = [entry.strip() for entry in forwarded if entry.strip()]
        if len(entries) >= trusted:
            address = entries[-trusted]
    return network_key(address)


def network_key(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
