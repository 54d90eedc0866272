"""Reply and bounce addresses of the reply domain: made and read back."""

from __future__ import annotations

import pytest

from conversations.mail.addresses import (
    MailAddress,
    address_of,
    new_token,
    parse_address,
)

DOMAIN = "reply.voisins.example.test"


def test_an_address_reads_back_as_its_kind_and_token() -> None:
    token = new_token()
    assert parse_address(address_of("reply", token, DOMAIN), DOMAIN) == MailAddress(
        "reply", token
    )
    assert parse_address(f"<bounce+{token}@{DOMAIN}>", DOMAIN) == MailAddress(
        "bounce", token
    )


def test_tokens_are_long_random_and_survive_a_change_of_case() -> None:
    """160 random bits in lowercase base32: an MTA that upper-cases the
    local part still reaches the same token."""
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 32 and t == t.lower() for t in tokens)
    token = tokens.pop()
    upper = f"REPLY+{token.upper()}@{DOMAIN.upper()}"
    assert parse_address(upper, DOMAIN) == MailAddress("reply", token)


@pytest.mark.parametrize(
    "address",
    [
        "reply+{t}@other.example.test",
        "reply+{t}@sub.reply.voisins.example.test",
        "postmaster@reply.voisins.example.test",
        "other+{t}@reply.voisins.example.test",
        "reply+{t}x@reply.voisins.example.test",
        "reply+{short}@reply.voisins.example.test",
        "reply+{t}",
        "",
    ],
)
def test_other_addresses_are_not_ours(address: str) -> None:
    token = new_token()
    assert parse_address(address.format(t=token, short=token[:20]), DOMAIN) is None
