"""The one access check for client-supplied ids and community scopes."""

from __future__ import annotations

from datetime import datetime

from ..errors import NotFound
from ..models import Community, Conversation, Membership, Revocation


def membership_get_active(*, user_id: int, community_slug: str) -> Membership | None:
    """The resident's active membership in the community, or None."""
    return (
        Membership.objects.select_related("community")
        .filter(
            user_id=user_id,
            community__slug=community_slug,
            status=Membership.Status.ACTIVE,
        )
        .first()
    )


def membership_is_active(*, user_id: int, community_id: int) -> bool:
    return Membership.objects.filter(
        user_id=user_id, community_id=community_id, status=Membership.Status.ACTIVE
    ).exists()


def community_first_for_user(*, user_id: int) -> Community | None:
    """The resident's oldest active community (where a link lands by default)."""
    membership = (
        Membership.objects.select_related("community")
        .filter(user_id=user_id, status=Membership.Status.ACTIVE)
        .order_by("created_at", "pk")
        .first()
    )
    return membership.community if membership else None


def landing_community_slug(*, user_id: int, wanted: str) -> str | None:
    """The community to open after signing in through a link: the one the
    link names if the resident is an active member there, else their first."""
    if wanted and membership_get_active(user_id=user_id, community_slug=wanted):
        return wanted
    community = community_first_for_user(user_id=user_id)
    return community.slug if community else None


def community_get_for_user(*, user_id: int, community_slug: str) -> Community:
    """The community if the resident is an active member; else NotFound."""
    membership = membership_get_active(user_id=user_id, community_slug=community_slug)
    if membership is None:
        raise NotFound("No such community.")
    return membership.community


def conversation_get_for_user(
    *, user_id: int, conversation_id: int, community_id: int | None = None
) -> Conversation:
    """The conversation if the resident takes part in it and is an active member
    of its community (and, when given, it lies in `community_id`).

    Missing and foreign ids raise the very same NotFound.
    """
    queryset = Conversation.objects.select_related("community").filter(
        pk=conversation_id,
        participants__user_id=user_id,
        community__memberships__user_id=user_id,
        community__memberships__status=Membership.Status.ACTIVE,
    )
    if community_id is not None:
        queryset = queryset.filter(community_id=community_id)
    conversation = queryset.first()
    if conversation is None:
        raise NotFound()
    return conversation


def revocations_since(*, since: datetime) -> list[Revocation]:
    """Access changes recorded at or after `since`, oldest first."""
    return list(
        Revocation.objects.filter(created_at__gte=since).order_by("created_at")[:5000]
    )
