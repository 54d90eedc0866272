"""The resident's account history: what staff, an operator or they did."""

from __future__ import annotations

from enum import StrEnum

from django.utils import timezone

from ..models import AccountEvent


class EventKind(StrEnum):
    EMAIL_CHANGED = "email_changed"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a kind, not a secret)
    MEMBERSHIP_ADDED = "membership_added"
    MEMBERSHIP_SUSPENDED = "membership_suspended"
    MEMBERSHIP_REACTIVATED = "membership_reactivated"
    MEMBERSHIP_REMOVED = "membership_removed"


def account_event_record(
    *, user_id: int, kind: EventKind, actor: str, detail: str = ""
) -> AccountEvent:
    """Write one event; `detail` never holds a secret or a full address."""
    return AccountEvent.objects.create(
        user_id=user_id,
        kind=kind.value,
        actor=actor[:160],
        detail=detail[:200],
        created_at=timezone.now(),
    )


def mask_email(address: str) -> str:
    """Enough of an address for its owner to recognise it, not for anyone
    else to learn it: jeanne.dupont@gmail.com -> j***@g***.com."""
    local, _, domain = address.partition("@")
    name, dot, suffix = domain.rpartition(".")
    if not name:
        name, dot, suffix = domain, "", ""
    return f"{local[:1]}***@{name[:1]}***{dot}{suffix}"
