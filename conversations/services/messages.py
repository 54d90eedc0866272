"""Sending messages and marking them read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import events
from ..errors import BadRequest, Blocked, Forbidden, NotMember
from ..models import (
    Block,
    Community,
    Conversation,
    Membership,
    Message,
    Participant,
    User,
)
from ..notifications.schedule import notifications_schedule
from ..protocol import SendMessage
from ..selectors.access import conversation_get_for_user, membership_is_active
from ..selectors.messages import message_object

# Namespace of our PostgreSQL advisory locks (two-int form: namespace, key).
_SEND_LOCK_NAMESPACE = 0x4348


@dataclass(frozen=True, slots=True)
class SendResult:
    message: events.MessageObject
    created: bool
    # Id of the conversation's message before this one (0 if none): lets each
    # socket deliver its conversation's messages in order.
    previous_id: int = 0


@dataclass(frozen=True, slots=True)
class ReadResult:
    conversation_id: int
    up_to: int
    changed: bool


def message_send(
    *,
    sender: User,
    community: Community,
    command: SendMessage,
    origin_channel: str | None = None,
) -> SendResult:
    """Store a message once per (sender, client_id), then deliver it.

    Returns the existing message, `created=False`, when the client_id was used
    before: a resend over a new socket or over HTTP creates nothing.
    """
    existing = _message_by_client_id(sender, command.client_id)
    if existing is not None:
        return SendResult(existing, created=False)
    try:
        return _message_create(
            sender=sender,
            community=community,
            command=command,
            origin_channel=origin_channel,
        )
    except IntegrityError:
        # A concurrent send of the same client_id (in another community, so it
        # did not queue behind our lock) won the unique constraint.
        existing = _message_by_client_id(sender, command.client_id)
        if existing is None:
            raise
        return SendResult(existing, created=False)


def _message_create(
    *,
    sender: User,
    community: Community,
    command: SendMessage,
    origin_channel: str | None,
) -> SendResult:
    with transaction.atomic():
        _lock_community_for_send(community.pk)
        # Checked again under the lock: concurrent resends queue here.
        existing = _message_by_client_id(sender, command.client_id)
        if existing is not None:
            return SendResult(existing, created=False)
        if not membership_is_active(user_id=sender.pk, community_id=community.pk):
            raise Forbidden(
                "You are not an active member of this community.",
                client_id=command.client_id,
            )
        if command.to is not None:
            conversation = _conversation_for_recipients(
                sender=sender,
                community=community,
                usernames=command.to,
                client_id=command.client_id,
            )
        else:
            conversation = conversation_get_for_user(
                user_id=sender.pk,
                conversation_id=command.conversation or 0,
                community_id=community.pk,
            )
        participants = list(
            Participant.objects.filter(conversation=conversation)
            .order_by("user__username")
            .values_list("user_id", "user__username")
        )
        if Block.objects.filter(
            blocker_id__in=[uid for uid, _ in participants], blocked=sender
        ).exists():
            raise Blocked(
                "A participant does not accept your messages.",
                client_id=command.client_id,
            )
        previous_id = conversation.last_message_id or 0
        message = Message.objects.create(
            conversation=conversation,
            community=community,
            sender=sender,
            client_id=command.client_id,
            body=command.body,
            sent_at=timezone.now(),
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_message=message)
        notifications_schedule(
            message=message,
            recipient_ids=[uid for uid, _ in participants if uid != sender.pk],
            community_id=community.pk,
        )
        payload = message_object(
            message,
            participants=[name for _, name in participants],
            community_slug=community.slug,
        )
        events.send_on_commit(
            {
                "type": "message.new",
                "message": payload,
                "previous_id": previous_id,
                "origin": origin_channel or "",
            },
            user_ids=[uid for uid, _ in participants],
            community_id=community.pk,
        )
    return SendResult(payload, created=True, previous_id=previous_id)


def _message_by_client_id(sender: User, client_id: str) -> events.MessageObject | None:
    message = (
        Message.objects.select_related("community", "sender")
        .filter(sender=sender, client_id=client_id)
        .first()
    )
    if message is None:
        return None
    participants = sorted(
        Participant.objects.filter(conversation_id=message.conversation_id).values_list(
            "user__username", flat=True
        )
    )
    return message_object(
        message, participants=participants, community_slug=message.community.slug
    )


def _conversation_for_recipients(
    *, sender: User, community: Community, usernames: tuple[str, ...], client_id: str
) -> Conversation:
    """The conversation of exactly {sender} + recipients, created on first use."""
    if sender.username in usernames:
        raise BadRequest("'to' must not include yourself.", client_id=client_id)
    found = dict(
        User.objects.filter(
            username__in=usernames,
            is_active=True,
            memberships__community=community,
            memberships__status=Membership.Status.ACTIVE,
        ).values_list("username", "id")
    )
    missing = [name for name in usernames if name not in found]
    if missing:
        raise NotMember(
            "Not an active member of this community: " + ", ".join(missing[:5]),
            client_id=client_id,
        )
    user_ids = sorted({sender.pk, *found.values()})
    key = participant_key(user_ids)
    conversation, created = Conversation.objects.get_or_create(
        community=community, participant_key=key
    )
    if created:
        Participant.objects.bulk_create(
            Participant(conversation=conversation, user_id=uid) for uid in user_ids
        )
    return conversation


def participant_key(user_ids: list[int]) -> str:
    """A fixed-length key for a participant set, whatever its size."""
    joined = ",".join(str(uid) for uid in sorted(set(user_ids)))
    return hashlib.sha256(joined.encode()).hexdigest()


def _lock_community_for_send(community_id: int) -> None:
    """Serialize message inserts per community so ids are committed in order.

    `sync` pages by id: if id 12 could commit after id 13 was delivered, a
    client resuming after 13 would never see 12. On SQLite the IMMEDIATE
    transaction already holds the database write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [_SEND_LOCK_NAMESPACE, community_id % (2**31)],
            )


def message_mark_read(
    *, user: User, community: Community, conversation_id: int, up_to: int
) -> ReadResult:
    """Move the resident's read mark forward and tell the participants."""
    with transaction.atomic():
        conversation = conversation_get_for_user(
            user_id=user.pk, conversation_id=conversation_id, community_id=community.pk
        )
        # A mark past the newest message would hide messages not yet sent.
        mark = min(up_to, conversation.last_message_id or 0)
        changed = bool(
            Participant.objects.filter(
                conversation=conversation, user=user, last_read_id__lt=mark
            ).update(last_read_id=mark)
        )
        if changed:
            participant_ids = Participant.objects.filter(
                conversation=conversation
            ).values_list("user_id", flat=True)
            events.send_on_commit(
                {
                    "type": "receipt",
                    "conversation": conversation.pk,
                    "user": user.username,
                    "up_to": mark,
                },
                user_ids=list(participant_ids),
                community_id=community.pk,
            )
    return ReadResult(conversation.pk, mark, changed)
