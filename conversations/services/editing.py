"""Editing and deleting a message: by its sender only, for everyone.

Each change takes the community's send lock and a new rev from the id
sequence (revs.py), so `sync` with `since_rev` finds it, and fans out a
`message.updated` to every socket of the participants after commit. A
deletion empties the body and removes the attachments and the pending
notifications in the same transaction: the text is gone, not hidden.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .. import events
from ..errors import EditWindowClosed, NotAllowed, NotFound
from ..models import Attachment, Community, Message, PendingNotification, User
from ..revs import revs_next
from ..router import Routed
from ..selectors.access import conversation_get_for_user
from ..selectors.conversations import reachable_participant_ids
from ..selectors.messages import (
    message_object,
    message_objects,
    participants_by_conversation,
)
from ..wire.frames import message_updated_frame
from ..wire.schema import MessageObject
from .attachments import attachment_files_delete
from .send.write import lock_community


def message_edit(
    *, user: User, community: Community, message_id: int, body: str
) -> MessageObject:
    """Change the body of one's own message, within the edit window."""
    with transaction.atomic():
        message = _own_message(user=user, community=community, message_id=message_id)
        if message.deleted:
            raise NotAllowed("This message was deleted.")
        window = timedelta(seconds=settings.MESSAGE_EDIT_WINDOW_SECONDS)
        if timezone.now() - message.sent_at > window:
            raise EditWindowClosed("This message can no longer be edited.")
        if message.body == body:
            return _object(message, community)  # nothing changed: no new rev
        message.body = body
        message.edited_at = timezone.now()
        message.rev = revs_next()[0]
        message.save(update_fields=["body", "edited_at", "rev"])
        return message_updated_announce(message, community)


def message_delete(
    *, user: User, community: Community, message_id: int
) -> MessageObject:
    """Delete one's own message for everyone, at any time (idempotent)."""
    with transaction.atomic():
        message = _own_message(user=user, community=community, message_id=message_id)
        if message.deleted:
            return _object(message, community)
        attachment_files_delete(message_erase(message))  # after commit
        return message_updated_announce(message, community)


def message_erase(message: Message) -> list[str]:
    """Empty a message in place: body, attachments and pending notifications
    gone, a new rev. Returns the stored file names to delete after commit.
    The caller holds the community's lock (and announces the change)."""
    return messages_erase([message])


def messages_erase(messages: list[Message]) -> list[str]:
    """`message_erase` for many messages at once (an account erasure), with
    one query of each kind for all of them; revs are handed out in the
    order of the list. The caller holds their communities' locks."""
    ids = [message.pk for message in messages]
    rows = list(
        Attachment.objects.filter(message_id__in=ids).values_list(
            "pk", "file", "thumbnail"
        )
    )
    if rows:
        Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    PendingNotification.objects.filter(message_id__in=ids).delete()
    emptied = {"body": "", "deleted": True, "attachment_count": 0}
    Message.objects.filter(pk__in=ids).update(**emptied)
    for message, rev in zip(messages, revs_next(len(messages)), strict=True):
        vars(message).update(emptied, rev=rev)
    # Only the rev differs per message: one prepared statement, many rows
    # (bulk_update's CASE costs the database rows x branches).
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Message._meta.db_table} SET rev = %s WHERE id = %s",  # noqa: S608
            [(message.rev, message.pk) for message in messages],
        )
    return [name for _, *names in rows for name in names if name]


def _own_message(*, user: User, community: Community, message_id: int) -> Message:
    """The message if the resident may see it (else NotFound, as for a
    missing one) and sent it (else NotAllowed), locked for the change."""
    message = (
        Message.objects.filter(pk=message_id, community=community)
        .only("conversation_id", "sender_id")
        .first()
    )
    try:
        if message is None:
            raise NotFound()
        conversation_get_for_user(
            user_id=user.pk,
            conversation_id=message.conversation_id,
            community_id=community.pk,
        )
    except NotFound:
        # Missing and someone else's: the very same answer.
        raise NotFound("No such message.") from None
    if message.sender_id != user.pk:
        raise NotAllowed("Only its sender can change a message.")
    lock_community(community.pk)
    # Read again under the lock: a concurrent change may have committed.
    return Message.objects.select_related("sender").get(pk=message_id)


def _object(message: Message, community: Community) -> MessageObject:
    return message_objects([message], community_slug=community.slug)[0]


def message_updated_announce(message: Message, community: Community) -> MessageObject:
    """The new state, sent to every socket of the participants on commit."""
    payload = _object(message, community)
    events.send_on_commit(
        _updated_event(payload),
        user_ids=_hearers(message.conversation_id),
        community_id=community.pk,
    )
    return payload


def tombstones_announce(messages: list[Message]) -> None:
    """`message.updated` for messages just erased by someone other than
    their sender's socket (an account erasure), in their order: one read of
    the participants per conversation, one fan-out after commit.
    `sender` and `community` must be loaded."""
    conversation_ids = {message.conversation_id for message in messages}
    participants = participants_by_conversation(conversation_ids)
    hearers = {cid: _hearers(cid) for cid in conversation_ids}
    fan_outs = []
    for message in messages:
        payload = message_object(
            message,
            participants=participants.get(message.conversation_id, []),
            community_slug=message.community.slug,
        )
        fan_outs.append(
            Routed(
                tuple(hearers[message.conversation_id]),
                message.community_id,
                _updated_event(payload),
            )
        )
    transaction.on_commit(partial(events.fan_out_sync, fan_outs))


def _updated_event(payload: MessageObject) -> dict[str, Any]:
    return {
        "type": "message.updated",
        "frame": message_updated_frame(payload),
        "id": payload["id"],
        "conversation": payload["conversation"],
        "rev": payload["rev"],
    }


def _hearers(conversation_id: int) -> list[int]:
    # Everyone who may see the conversation, blockers of the sender too:
    # a deletion must reach whoever holds the message.
    return reachable_participant_ids(conversation_id=conversation_id, about=None)
