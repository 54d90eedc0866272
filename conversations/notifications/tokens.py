"""Signed one-click unsubscribe tokens (RFC 8058): no cookie needed."""

from __future__ import annotations

from django.core import signing

_SALT = "conversations.unsubscribe"


def unsubscribe_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=_SALT, compress=False)


def unsubscribe_user_id(token: str) -> int | None:
    """The resident a token was made for, or None when forged or mangled."""
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
