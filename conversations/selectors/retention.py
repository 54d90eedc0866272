"""Reads of retention periods, for the privacy page."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Community, Membership


@dataclass(frozen=True, slots=True)
class CommunityRetention:
    name: str
    days: int | None  # None: messages are kept until deleted


def community_retention_for_user(*, user_id: int) -> list[CommunityRetention]:
    """The resident's active communities and how long each keeps messages."""
    rows = (
        Community.objects.filter(
            memberships__user_id=user_id,
            memberships__status=Membership.Status.ACTIVE,
        )
        .order_by("name")
        .values_list("name", "retention_days")
    )
    return [CommunityRetention(name=name, days=days or None) for name, days in rows]
