"""Marking messages read."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .. import events
from ..models import Community, Participant, User
from ..selectors.access import conversation_get_for_user
from ..selectors.conversations import reachable_participant_ids
from ..wire.frames import receipt_frame


@dataclass(frozen=True, slots=True)
class ReadResult:
    conversation_id: int
    up_to: int
    changed: bool


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
            # Suspended or removed participants learn nothing more.
            events.send_on_commit(
                dict(receipt_frame(conversation.pk, user.username, mark)),
                user_ids=reachable_participant_ids(
                    conversation_id=conversation.pk, about=user.pk
                ),
                community_id=community.pk,
            )
    return ReadResult(conversation.pk, mark, changed)
