"""The resident's own account history."""

from __future__ import annotations

from ..models import AccountEvent
from ..wire.frames import format_timestamp
from ..wire.resident import AccountEventObject

ACCOUNT_EVENTS_LIMIT = 200


def account_events_for_user(*, user_id: int) -> list[AccountEventObject]:
    """The resident's latest account events, newest first; nobody else's."""
    rows = AccountEvent.objects.filter(user_id=user_id).order_by("-created_at", "-pk")
    return [
        AccountEventObject(
            kind=row.kind,  # type: ignore[typeddict-item]
            actor=row.actor,
            detail=row.detail,
            created_at=format_timestamp(row.created_at),
        )
        for row in rows[:ACCOUNT_EVENTS_LIMIT]
    ]
