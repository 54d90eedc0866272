"""Pure checks: facts and requests in, one plan per request out (no I/O).

The order of the checks is the contract's: a resend first (it is answered
whatever else changed), then the sender's membership, the conversation or
the recipients, then blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import Blocked, ChatError, Forbidden, NotFound
from .facts import Person, RecipientSet, SendFacts, recipient_set
from .requests import SendRequest, SendResult


@dataclass(frozen=True, slots=True)
class Target:
    """A send that passed every check: where its message goes."""

    community_id: int
    conversation_id: int | None  # None: the conversation is to be created
    key: str  # the participant key, for a conversation to create
    previous_id: int
    people: tuple[Person, ...]  # sorted by username


@dataclass(frozen=True, slots=True)
class Repeat:
    """The same (sender, client_id) earlier in the batch: same answer."""

    first: int


Plan = SendResult | ChatError | Target | Repeat


def check_sends(requests: list[SendRequest], facts: SendFacts) -> list[Plan]:
    """Decide each request of a batch from the facts."""
    plans: list[Plan] = []
    first_of: dict[tuple[int, str], int] = {}
    for index, request in enumerate(requests):
        key = (request.sender_id, request.client_id)
        if key in facts.existing:
            plans.append(facts.existing[key])
        elif key in first_of:
            plans.append(Repeat(first_of[key]))
        else:
            first_of[key] = index
            plans.append(check_send(request, facts))
    return plans


def check_send(request: SendRequest, facts: SendFacts) -> ChatError | Target:
    """Decide one new send."""
    if (request.sender_id, request.community_id) not in facts.active_senders:
        return Forbidden(
            "You are not an active member of this community.",
            client_id=request.client_id,
        )
    target = (
        _by_recipients(request, facts)
        if request.to is not None
        else _by_conversation(request, facts)
    )
    if isinstance(target, ChatError):
        return target
    if any((person.id, request.sender_id) in facts.blocks for person in target.people):
        return Blocked(
            "A participant does not accept your messages.",
            client_id=request.client_id,
        )
    return target


def _by_conversation(request: SendRequest, facts: SendFacts) -> ChatError | Target:
    # Missing, in another community, or without the sender: the same answer.
    conversation = facts.conversations.get(request.conversation_id or 0)
    people = facts.participants.get(request.conversation_id or 0, [])
    if (
        conversation is None
        or conversation.community_id != request.community_id
        or all(person.id != request.sender_id for person in people)
    ):
        return NotFound(client_id=request.client_id)
    return Target(
        community_id=conversation.community_id,
        conversation_id=conversation.id,
        key="",
        previous_id=conversation.last_message_id,
        people=tuple(people),
    )


def _by_recipients(request: SendRequest, facts: SendFacts) -> ChatError | Target:
    recipients = recipient_set(request, facts)
    if isinstance(recipients, ChatError):
        return recipients
    return _target_of(recipients, facts)


def _target_of(recipients: RecipientSet, facts: SendFacts) -> Target:
    known = facts.by_key.get((recipients.community_id, recipients.key))
    return Target(
        community_id=recipients.community_id,
        conversation_id=known.id if known else None,
        key=recipients.key,
        previous_id=known.last_message_id if known else 0,
        people=recipients.people,
    )
