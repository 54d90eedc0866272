"""Which push endpoints may be stored (push.py `endpoint_refusal`, over
safe_http): public addresses only, including through the IPv6 forms that
lead to an IPv4 address (mapped, NAT64, 6to4) or elsewhere (Teredo)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from conversations.notifications.push import endpoint_refusal

PUBLIC_ONLY = "The endpoint must be on a public address."

# 169.254.169.254 (cloud metadata) and 10.0.0.1 in every disguise.
REFUSED = [
    "169.254.169.254",
    "10.0.0.1",
    "127.0.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104 (an address to refuse, not to bind)
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::a9fe:a9fe",  # IPv4-compatible (deprecated)
    "::10.0.0.1",
    "64:ff9b::a9fe:a9fe",  # NAT64, well-known prefix
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::808:808",  # NAT64, local-use prefix: the operator's mapping
    "2002:a9fe:a9fe::",  # 6to4
    "2002:a00:1::1",
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
]

ALLOWED = [
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8: how an IPv6-only host reaches it
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


def url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/push/abc"


@pytest.fixture(autouse=True)
def public_only(settings: Any) -> None:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False


@pytest.mark.parametrize("address", REFUSED)
def test_private_addresses_are_refused_in_any_form(address: str) -> None:
    """An endpoint on a private, loopback, link-local, multicast or reserved
    address is refused, also written as an IPv6 form that leads there."""
    assert endpoint_refusal(url(address)) == PUBLIC_ONLY


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed_in_any_form(address: str) -> None:
    """A public address is accepted, also through NAT64, 6to4 or mapping."""
    assert endpoint_refusal(url(address)) is None


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every address a name resolves to is checked: one private address is
    enough to refuse it (the connection could go there)."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        assert host == "push.example.test"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert endpoint_refusal("https://push.example.test/x") == PUBLIC_ONLY
