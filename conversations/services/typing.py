"""Typing indicators: not stored; the service chooses who hears of them."""

from __future__ import annotations

from ..selectors.access import conversation_get_for_user
from ..selectors.conversations import reachable_participant_ids


def typing_recipients(
    *, user_id: int, community_id: int, conversation_id: int
) -> list[int]:
    """The other participants who may see this resident typing there: active
    members who do not block them. NotFound for a conversation not theirs."""
    conversation_get_for_user(
        user_id=user_id, conversation_id=conversation_id, community_id=community_id
    )
    return [
        uid
        for uid in reachable_participant_ids(
            conversation_id=conversation_id, about=user_id
        )
        if uid != user_id
    ]
