"""Throttles counted in the database, so that every server process shares
them: failed logins per username and per client address, password-reset
emails per address.

Keys are stored as an HMAC keyed by SECRET_KEY, never raw: a plain sha256 of
an IPv4 address or a username is reversed by trying them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..models import Throttle


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str
    attempts: int
    window: timedelta


LOGIN_PER_USERNAME = Limit("login-username", 5, timedelta(minutes=15))
LOGIN_PER_ADDRESS = Limit("login-address", 50, timedelta(minutes=15))
RESET_PER_EMAIL = Limit("reset-email", 3, timedelta(hours=1))
# Rows older than the longest window count for nothing.
LONGEST_WINDOW = timedelta(hours=1)


def key_hash(scope: str, key: str) -> str:
    return salted_hmac(
        "conversations.throttle", f"{scope}\0{key}", algorithm="sha256"
    ).hexdigest()


def throttle_exceeded(*, limit: Limit, key: str) -> bool:
    """Whether `key` already used up its attempts within the window."""
    since = timezone.now() - limit.window
    count = Throttle.objects.filter(
        scope=limit.scope, key_hash=key_hash(limit.scope, key), created_at__gte=since
    ).count()
    return count >= limit.attempts


def throttle_record(*, limit: Limit, key: str) -> None:
    Throttle.objects.create(
        scope=limit.scope,
        key_hash=key_hash(limit.scope, key),
        created_at=timezone.now(),
    )


def throttle_take(*, limit: Limit, key: str) -> bool:
    """Count one attempt if the window has room; False when it has none."""
    with transaction.atomic():
        if throttle_exceeded(limit=limit, key=key):
            return False
        throttle_record(limit=limit, key=key)
    return True


def login_refused(*, username: str, address: str) -> bool:
    """Too many failed logins for this username or from this address."""
    return throttle_exceeded(
        limit=LOGIN_PER_USERNAME, key=username_key(username)
    ) or throttle_exceeded(limit=LOGIN_PER_ADDRESS, key=address)


def login_failed(*, username: str, address: str) -> None:
    with transaction.atomic():
        throttle_record(limit=LOGIN_PER_USERNAME, key=username_key(username))
        throttle_record(limit=LOGIN_PER_ADDRESS, key=address)


def username_key(username: str) -> str:
    """ALICE and alice count together: one resident, however typed."""
    return username.strip().casefold()


def throttles_forget_old() -> int:
    """Periodic: delete rows past every window, in batches."""
    cutoff = timezone.now() - LONGEST_WINDOW
    deleted = 0
    while True:
        ids = list(
            Throttle.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :1000
            ]
        )
        if not ids:
            return deleted
        deleted += Throttle.objects.filter(pk__in=ids).delete()[0]
