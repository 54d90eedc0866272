"""Signed one-click unsubscribe tokens (RFC 8058): no cookie needed.

A token works for TOKEN_LIFETIME after the email that carries it was
composed: every email gets a fresh one, so only an old email's link
expires, and its page sends the resident to the app's settings instead.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.core import signing

_SALT = "conversations.unsubscribe"
TOKEN_LIFETIME = timedelta(days=60)


class TokenState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


def unsubscribe_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=_SALT, compress=False)


def unsubscribe_token_read(token: str) -> tuple[TokenState, int | None]:
    """Whether a token is valid, and for whom (only when it is)."""
    try:
        value = signing.loads(token, salt=_SALT, max_age=TOKEN_LIFETIME)
    except signing.SignatureExpired:
        return TokenState.EXPIRED, None
    except signing.BadSignature:
        return TokenState.INVALID, None
    if not isinstance(value, int) or isinstance(value, bool):
        return TokenState.INVALID, None
    return TokenState.VALID, value


def unsubscribe_user_id(token: str) -> int | None:
    """The resident a valid token was made for; None when forged, mangled
    or expired."""
    state, user_id = unsubscribe_token_read(token)
    return user_id if state == TokenState.VALID else None
