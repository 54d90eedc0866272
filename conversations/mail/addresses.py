"""The addresses of the reply domain: reply+<token>@ and bounce+<token>@.

Tokens are 32 characters of lowercase base32 (160 random bits): mail
systems may change the case of a local part, and base32 survives that.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 20
_LOCAL_PART = re.compile(r"^(reply|bounce)\+([a-z2-7]{32})$")


@dataclass(frozen=True, slots=True)
class MailAddress:
    kind: str  # MailToken.Kind: "reply" or "bounce"
    token: str


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().lower()


def address_of(kind: str, token: str, domain: str) -> str:
    return f"{kind}+{token}@{domain}"


def parse_address(address: str, domain: str) -> MailAddress | None:
    """The kind and token of an address of `domain`, or None for any other
    address (another domain, another local part, a malformed token)."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or not domain or host.lower() != domain:
        return None
    match = _LOCAL_PART.match(local.lower())
    if match is None:
        return None
    return MailAddress(kind=match.group(1), token=match.group(2))
