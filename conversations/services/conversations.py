"""A resident's own settings of a conversation."""

from __future__ import annotations

from ..models import Participant, User
from ..selectors.access import conversation_get_for_user
from ..selectors.conversations import conversation_list_for_user
from ..wire.schema import ConversationObject, ConversationPatch
from ..wire.validate import validated


def conversation_update(
    *, user: User, conversation_id: int, changes: object
) -> ConversationObject:
    """Mute or unmute a conversation for this resident only: no email or
    push for it, nothing changes for the other participants."""
    patch = validated(ConversationPatch, changes)
    conversation = conversation_get_for_user(
        user_id=user.pk, conversation_id=conversation_id
    )
    Participant.objects.filter(conversation=conversation, user=user).update(
        muted=patch["muted"]
    )
    (summary,) = conversation_list_for_user(
        user_id=user.pk, community=conversation.community, only=conversation.pk
    )
    return summary
