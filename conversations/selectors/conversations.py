"""Reads of conversation lists, communities and members."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from ..models import (
    Block,
    Community,
    Conversation,
    Membership,
    Message,
    Participant,
    User,
)
from ..wire.schema import CommunityObject, ConversationObject, MemberObject
from .messages import message_object, participants_by_conversation


def community_list_for_user(*, user_id: int) -> list[CommunityObject]:
    rows = (
        Community.objects.filter(
            memberships__user_id=user_id,
            memberships__status=Membership.Status.ACTIVE,
        )
        .order_by("name")
        .values("slug", "name")
    )
    return [{"slug": r["slug"], "name": r["name"]} for r in rows]


def member_list(
    *, community: Community, query: str = "", limit: int = 50
) -> list[MemberObject]:
    """Active members, optionally filtered by username or display name."""
    users: QuerySet[User] = User.objects.filter(
        memberships__community=community,
        memberships__status=Membership.Status.ACTIVE,
        is_active=True,
    )
    query = query.strip()
    if query:
        users = users.filter(
            Q(username__icontains=query) | Q(display_name__icontains=query)
        )
    rows = users.order_by("display_name", "username").values(
        "username", "display_name"
    )[:limit]
    return [
        {"username": r["username"], "display_name": r["display_name"] or r["username"]}
        for r in rows
    ]


def conversation_list_for_user(
    *, user_id: int, community: Community
) -> list[ConversationObject]:
    """The resident's conversations in a community, most recent first."""
    read_mark = Participant.objects.filter(
        conversation_id=OuterRef("pk"), user_id=user_id
    ).values("last_read_id")[:1]
    unread = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .exclude(sender_id=user_id)
        .filter(id__gt=OuterRef("read_mark"))
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    conversations = list(
        Conversation.objects.filter(community=community, participants__user_id=user_id)
        .select_related("last_message__sender")
        .annotate(read_mark=Subquery(read_mark))
        .annotate(unread=Subquery(unread))
        .order_by("-last_message_id", "-id")
    )
    participants = participants_by_conversation(c.pk for c in conversations)
    result: list[ConversationObject] = []
    for conversation in conversations:
        names = participants.get(conversation.pk, [])
        last = conversation.last_message
        result.append(
            {
                "id": conversation.pk,
                "participants": names,
                "last_message": (
                    message_object(
                        last, participants=names, community_slug=community.slug
                    )
                    if last is not None
                    else None
                ),
                "unread": conversation.unread or 0,
            }
        )
    return result


def reachable_participant_ids(*, conversation_id: int, about: int) -> list[int]:
    """Participants who may still hear of the conversation (an active account
    and an active membership in its community) and who do not block `about`,
    the resident whose action they would hear of (always included)."""
    active_member = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        community_id=OuterRef("conversation__community_id"),
        status=Membership.Status.ACTIVE,
    )
    blocks = Block.objects.filter(blocker_id=OuterRef("user_id"), blocked_id=about)
    return list(
        Participant.objects.filter(conversation_id=conversation_id)
        .filter(Exists(active_member), user__is_active=True)
        .filter(Q(user_id=about) | ~Exists(blocks))
        .values_list("user_id", flat=True)
    )
