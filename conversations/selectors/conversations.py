"""Reads of conversation lists, communities and members."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

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
from .messages import attachments_by_message, message_object


def community_list_for_user(*, user_id: int) -> list[CommunityObject]:
    """The resident's active communities, with their unread messages there."""
    rows = (
        Community.objects.filter(
            memberships__user_id=user_id,
            memberships__status=Membership.Status.ACTIVE,
        )
        .order_by("name")
        .values("pk", "slug", "name")
    )
    unread = dict(
        # One join: the resident's participant row of each message's
        # conversation, compared with the message id.
        Message.objects.filter(
            conversation__participants__user_id=user_id,
            id__gt=F("conversation__participants__last_read_id"),
            deleted=False,
        )
        .exclude(sender_id=user_id)
        .order_by()
        .values("community_id")
        .annotate(n=Count("id"))
        .values_list("community_id", "n")
    )
    return [
        {"slug": r["slug"], "name": r["name"], "unread": unread.get(r["pk"], 0)}
        for r in rows
    ]


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
    *, user_id: int, community: Community, only: int | None = None
) -> list[ConversationObject]:
    """The resident's conversations in a community, most recent first, with
    unread counts, everyone's read marks and whether the resident muted it
    (`only`: just that conversation, already access-checked)."""
    mine = Participant.objects.filter(conversation_id=OuterRef("pk"), user_id=user_id)
    unread = (
        Message.objects.filter(conversation_id=OuterRef("pk"), deleted=False)
        .exclude(sender_id=user_id)
        .filter(id__gt=OuterRef("read_mark"))
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    rows = Conversation.objects.filter(
        community=community, participants__user_id=user_id
    )
    if only is not None:
        rows = rows.filter(pk=only)
    conversations = list(
        rows.select_related("last_message__sender")
        .annotate(read_mark=Subquery(mine.values("last_read_id")[:1]))
        .annotate(muted=Subquery(mine.values("muted")[:1]))
        .annotate(unread=Subquery(unread))
        .order_by("-last_message_id", "-id")
    )
    marks = read_marks_by_conversation(c.pk for c in conversations)
    attachments = attachments_by_message(
        c.last_message.pk
        for c in conversations
        if c.last_message is not None
        and c.last_message.attachment_count
        and not c.last_message.deleted
    )
    return [
        {
            "id": conversation.pk,
            "participants": sorted(marks.get(conversation.pk, {})),
            "last_message": (
                message_object(
                    conversation.last_message,
                    participants=sorted(marks.get(conversation.pk, {})),
                    community_slug=community.slug,
                    attachments=attachments.get(conversation.last_message.pk),
                )
                if conversation.last_message is not None
                else None
            ),
            "unread": conversation.unread or 0,
            "muted": bool(conversation.muted),
            "read_marks": marks.get(conversation.pk, {}),
        }
        for conversation in conversations
    ]


def read_marks_by_conversation(
    conversation_ids: Iterable[int],
) -> dict[int, dict[str, int]]:
    """Each participant's read mark by username, per conversation (one query)."""
    result: dict[int, dict[str, int]] = defaultdict(dict)
    for conversation_id, username, mark in Participant.objects.filter(
        conversation_id__in=set(conversation_ids)
    ).values_list("conversation_id", "user__username", "last_read_id"):
        result[conversation_id][username] = mark
    return dict(result)


def reachable_participant_ids(*, conversation_id: int, about: int | None) -> list[int]:
    """Participants who may still hear of the conversation (an active account
    and an active membership in its community); with `about`, not those who
    block that resident, whose action they would hear of (always included)."""
    active_member = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        community_id=OuterRef("conversation__community_id"),
        status=Membership.Status.ACTIVE,
    )
    rows = Participant.objects.filter(conversation_id=conversation_id).filter(
        Exists(active_member), user__is_active=True
    )
    if about is not None:
        blocks = Block.objects.filter(blocker_id=OuterRef("user_id"), blocked_id=about)
        rows = rows.filter(Q(user_id=about) | ~Exists(blocks))
    return list(rows.values_list("user_id", flat=True))
