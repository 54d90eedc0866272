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
    attachment_ids: tuple[int, ...] = ()
    # With `to` of 2 or more: one private copy per recipient, each in the
    # 1-to-1 conversation of the sender and that recipient.
    separate: bool = False

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
        attachment_ids: tuple[int, ...] = (),
        separate: bool = False,
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
            attachment_ids=attachment_ids,
            separate=separate,
        )


@dataclass(frozen=True, slots=True)
class SendResult:
    """Every message a send created (one, or one per separate copy)."""

    messages: list[MessageObject]
    created: bool
    # Id of each one's conversation's message before it (0 if none): lets
    # each socket deliver its conversation's messages in order.
    previous_ids: list[int]

    @property
    def message(self) -> MessageObject:
        return self.messages[0]

    @property
    def previous_id(self) -> int:
        return self.previous_ids[0]
