"""What a send asks for, and what it gives back: plain typed values."""

from __future__ import annotations

from dataclasses import dataclass

from ...events import Delivery
from ...models import Community, User
from ...wire.schema import MessageObject

__all__ = ["Delivery", "SendRequest", "SendResult"]


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to store: from a socket frame, an HTTP body or an email.

    Exactly one of `to` (usernames, sorted, without the sender) or
    `conversation_id`; the interfaces have already checked the field rules.
    """

    sender_id: int
    sender_username: str
    community_id: int
    community_slug: str
    client_id: str
    body: str
    to: tuple[str, ...] | None = None
    conversation_id: int | None = None

    @classmethod
    def of(
        cls,
        sender: User,
        community: Community,
        *,
        client_id: str,
        body: str,
        to: tuple[str, ...] | None = None,
        conversation_id: int | None = None,
    ) -> SendRequest:
        """A request from loaded rows (the interfaces have them at hand)."""
        return cls(
            sender_id=sender.pk,
            sender_username=sender.username,
            community_id=community.pk,
            community_slug=community.slug,
            client_id=client_id,
            body=body,
            to=to,
            conversation_id=conversation_id,
        )


@dataclass(frozen=True, slots=True)
class SendResult:
    message: MessageObject
    created: bool
    # Id of the conversation's message before this one (0 if none): lets each
    # socket deliver its conversation's messages in order.
    previous_id: int = 0
