"""Reads of messages, always scoped to one resident's conversations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from django.db.models import QuerySet

from ..models import Attachment, Message, Participant
from ..wire import frames
from ..wire.limits import PAGE_LIMIT, SYNC_BATCH_MAX_BYTES
from ..wire.schema import AttachmentObject, MessageObject
from .access import conversation_get_for_user


def participants_by_conversation(
    conversation_ids: Iterable[int],
) -> dict[int, list[str]]:
    """Sorted participant usernames of each conversation, in one query."""
    result: dict[int, list[str]] = defaultdict(list)
    rows = Participant.objects.filter(
        conversation_id__in=set(conversation_ids)
    ).values_list("conversation_id", "user__username")
    for conversation_id, username in rows:
        result[conversation_id].append(username)
    for names in result.values():
        names.sort()
    return dict(result)


def message_object(
    message: Message,
    *,
    participants: list[str],
    community_slug: str,
    attachments: list[AttachmentObject] | None = None,
) -> MessageObject:
    """The contract's message object. `message.sender` must be loaded."""
    return frames.message_object(
        id=message.pk,
        conversation=message.conversation_id,
        community=community_slug,
        sender=message.sender.username,
        participants=participants,
        body=message.body,
        sent_at=message.sent_at,
        client_id=message.client_id,
        rev=message.rev,
        edited_at=message.edited_at,
        deleted=message.deleted,
        attachments=attachments,
    )


def attachments_by_message(
    message_ids: Iterable[int],
) -> dict[int, list[AttachmentObject]]:
    """The attachment objects of these messages, in upload order (one query)."""
    result: dict[int, list[AttachmentObject]] = defaultdict(list)
    ids = set(message_ids)
    if not ids:
        return {}
    for row in Attachment.objects.filter(message_id__in=ids).order_by("pk"):
        result[row.message_id or 0].append(attachment_object(row))
    return dict(result)


def attachment_object(row: Attachment) -> AttachmentObject:
    return frames.attachment_object(
        id=row.pk,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail),
    )


def message_objects(
    messages: list[Message], *, community_slug: str | None = None
) -> list[MessageObject]:
    """Serialize messages with one extra query for all their participants
    (and one for attachments, only when some of them have any)."""
    participants = participants_by_conversation(m.conversation_id for m in messages)
    attachments = attachments_by_message(
        m.pk for m in messages if m.attachment_count and not m.deleted
    )
    return [
        message_object(
            m,
            participants=participants.get(m.conversation_id, []),
            community_slug=community_slug or m.community.slug,
            attachments=attachments.get(m.pk),
        )
        for m in messages
    ]


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One `sync.batch`: new messages by id, and (with `since_rev`) the
    changes to older ones by rev; `more` covers both."""

    messages: list[MessageObject]
    changed: list[MessageObject] | None
    more: bool


def sync_page(
    *,
    user_id: int,
    community_id: int,
    community_slug: str,
    after: int,
    since_rev: int | None = None,
    limit: int = PAGE_LIMIT,
) -> SyncPage:
    """What a resident missed in a community: messages with id > after and,
    with since_rev, the messages with id <= after whose rev > since_rev (in
    their current state, ascending by rev); at most `limit` in all."""
    changed: list[MessageObject] | None = None
    more_changed = False
    if since_rev is not None:
        rows = list(
            _visible(user_id, community_id)
            .filter(rev__gt=since_rev, id__lte=after)
            .order_by("rev")[: limit + 1]
        )
        more_changed = len(rows) > limit
        changed = message_objects(rows[:limit], community_slug=community_slug)
        limit -= len(changed)
    messages, more = messages_after(
        user_id=user_id,
        community_id=community_id,
        community_slug=community_slug,
        after=after,
        limit=limit,
    )
    # 200 long messages of 4-byte characters would exceed what daphne sends
    # in one frame (1 MiB): the batch would fail and the client never catch
    # up. Cut it by size instead; `more` tells the client to ask again.
    budget = SYNC_BATCH_MAX_BYTES
    if changed:
        changed, cut = _cut(changed, budget)
        more_changed = more_changed or cut
        budget -= sum(_size(m) for m in changed)
        if cut:
            return SyncPage([], changed, True)
    messages, cut = _cut(messages, budget, keep_one=not changed)
    return SyncPage(messages, changed, more or more_changed or cut)


def messages_after(
    *,
    user_id: int,
    community_id: int,
    community_slug: str,
    after: int,
    limit: int = PAGE_LIMIT,
) -> tuple[list[MessageObject], bool]:
    """Messages of the resident's conversations in a community with id > after,
    ascending, at most `limit` (and at most SYNC_BATCH_MAX_BYTES of JSON); and
    whether more remain."""
    if limit <= 0:
        exists = _visible(user_id, community_id).filter(id__gt=after).exists()
        return [], exists
    rows = list(
        _visible(user_id, community_id).filter(id__gt=after).order_by("id")[: limit + 1]
    )
    more = len(rows) > limit
    messages, cut = _cut(message_objects(rows[:limit], community_slug=community_slug))
    return messages, more or cut


def _visible(user_id: int, community_id: int) -> QuerySet[Message]:
    """The messages of the resident's conversations in a community."""
    conversation_ids = Participant.objects.filter(
        user_id=user_id, conversation__community_id=community_id
    ).values("conversation_id")
    return Message.objects.select_related("sender").filter(
        community_id=community_id, conversation_id__in=conversation_ids
    )


def _size(message: MessageObject) -> int:
    return len(orjson.dumps(message))


def _cut(
    messages: list[MessageObject],
    budget: int = SYNC_BATCH_MAX_BYTES,
    *,
    keep_one: bool = True,
) -> tuple[list[MessageObject], bool]:
    """The longest prefix within `budget` bytes of JSON (always one message
    when `keep_one`, so that a client always moves forward); whether it cut."""
    size = 0
    for index, message in enumerate(messages):
        size += _size(message)
        if size > budget and (index > 0 or not keep_one):
            return messages[:index], True
    return messages, False


def messages_in_conversation_after(
    *, conversation_id: int, community_slug: str, after: int, up_to: int
) -> list[MessageObject]:
    """A gap in one conversation, ascending (for in-order live delivery).

    The caller has already checked access to the conversation.
    """
    rows = list(
        Message.objects.select_related("sender")
        .filter(conversation_id=conversation_id, id__gt=after, id__lte=up_to)
        .order_by("id")[:PAGE_LIMIT]
    )
    return message_objects(rows, community_slug=community_slug)


def messages_before(
    *, user_id: int, conversation_id: int, before: int | None, limit: int
) -> list[MessageObject]:
    """A page of a conversation's history, newest first."""
    conversation = conversation_get_for_user(
        user_id=user_id, conversation_id=conversation_id
    )
    queryset = Message.objects.select_related("sender").filter(
        conversation_id=conversation.pk
    )
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[:limit])
    return message_objects(rows, community_slug=conversation.community.slug)
