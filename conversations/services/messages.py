"""Sending messages and marking them read."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.db import transaction

from .. import events
from ..errors import ChatError
from ..models import Community, Participant, User
from ..protocol import SendMessage
from ..selectors.access import conversation_get_for_user
from .sending import SendRequest, SendResult, message_send_many, participant_key

__all__ = [
    "ReadResult",
    "SendResult",
    "message_mark_read",
    "message_send",
    "participant_key",
]


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
    before: a resend over a new socket or over HTTP creates nothing. Raises
    the ChatError that explains a refusal.
    """
    outcomes, fan_outs = message_send_many(
        [SendRequest(sender, community, command, origin_channel)]
    )
    outcome = outcomes[0]
    if isinstance(outcome, ChatError):
        raise outcome
    # Outside an atomic block this runs at once (we have committed); inside
    # one, after the outer commit.
    transaction.on_commit(partial(events.fan_out_sync, fan_outs))
    return outcome


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
