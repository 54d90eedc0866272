"""Blocking: a resident refuses messages from another resident."""

from __future__ import annotations

from ..errors import BadRequest, NotFound
from ..models import Block, Membership, User


def block_add(*, blocker: User, username: str) -> None:
    """Block a resident who shares a community with the blocker (idempotent)."""
    blocked = _neighbour(blocker=blocker, username=username)
    if blocked.pk == blocker.pk:
        raise BadRequest("You cannot block yourself.")
    Block.objects.get_or_create(blocker=blocker, blocked=blocked)


def block_remove(*, blocker: User, username: str) -> None:
    """Unblock (idempotent: unknown names are a no-op)."""
    Block.objects.filter(blocker=blocker, blocked__username=username).delete()


def _neighbour(*, blocker: User, username: str) -> User:
    community_ids = Membership.objects.filter(user=blocker).values("community_id")
    user = User.objects.filter(
        username=username, memberships__community_id__in=community_ids
    ).first()
    if user is None:
        raise NotFound("No such resident.")
    return user
