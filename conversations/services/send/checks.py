"""Pure checks: facts and requests in, one plan per request out (no I/O).

The order of the checks is the contract's: a resend first (it is answered
whatever else changed), then the sender's membership, the conversation or
the recipients, the attachments, then blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import BadAttachment, Blocked, ChatError, Forbidden, NotFound
from .facts import Person, RecipientSet, SendFacts, recipient_sets
from .requests import SendRequest, SendResult


@dataclass(frozen=True, slots=True)
class Target:
    """Where one message of a send that passed every check goes."""

    community_id: int
    conversation_id: int | None  # None: the conversation is to be created
    key: str  # the participant key, for a conversation to create
    previous_id: int
    people: tuple[Person, ...]  # sorted by username
    copy: int = 0  # which separate copy


@dataclass(frozen=True, slots=True)
class Placement:
    """A send that passed every check: its message, or one per copy."""

    targets: tuple[Target, ...]
    attachment_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Repeat:
    """The same (sender, client_id) earlier in the batch: same answer."""

    first: int


Plan = SendResult | ChatError | Placement | Repeat


def check_sends(requests: list[SendRequest], facts: SendFacts) -> list[Plan]:
    """Decide each request of a batch from the facts."""
    plans: list[Plan] = []
    first_of: dict[tuple[int, str], int] = {}
    claimed: set[int] = set()
    for index, request in enumerate(requests):
        key = (request.sender_id, request.client_id)
        if key in facts.existing:
            plans.append(facts.existing[key])
        elif key in first_of:
            plans.append(Repeat(first_of[key]))
        else:
            first_of[key] = index
            plan = check_send(request, facts, claimed=claimed)
            if isinstance(plan, Placement):
                claimed.update(plan.attachment_ids)
            plans.append(plan)
    return plans


def check_send(
    request: SendRequest,
    facts: SendFacts,
    *,
    claimed: frozenset[int] | set[int] = frozenset(),
) -> ChatError | Placement:
    """Decide one new send (`claimed`: uploads taken earlier in the batch)."""
    if (request.sender_id, request.community_id) not in facts.active_senders:
        return Forbidden(
            "You are not an active member of this community.",
            client_id=request.client_id,
        )
    targets = (
        _by_recipients(request, facts)
        if request.to is not None
        else _by_conversation(request, facts)
    )
    if isinstance(targets, ChatError):
        return targets
    for upload_id in request.attachment_ids:
        upload = facts.uploads.get(upload_id)
        if (
            upload is None
            or upload_id in claimed
            or upload.uploader_id != request.sender_id
            or upload.community_id != request.community_id
        ):
            return BadAttachment(
                f"Attachment {upload_id} is not one of your unused uploads here.",
                client_id=request.client_id,
            )
    people = {person.id for target in targets for person in target.people}
    if any((uid, request.sender_id) in facts.blocks for uid in people):
        return Blocked(
            "A participant does not accept your messages.",
            client_id=request.client_id,
        )
    return Placement(targets, request.attachment_ids)


def _by_conversation(
    request: SendRequest, facts: SendFacts
) -> ChatError | tuple[Target, ...]:
    # Missing, in another community, or without the sender: the same answer.
    conversation = facts.conversations.get(request.conversation_id or 0)
    people = facts.participants.get(request.conversation_id or 0, [])
    if (
        conversation is None
        or conversation.community_id != request.community_id
        or all(person.id != request.sender_id for person in people)
    ):
        return NotFound(client_id=request.client_id)
    return (
        Target(
            community_id=conversation.community_id,
            conversation_id=conversation.id,
            key="",
            previous_id=conversation.last_message_id,
            people=tuple(people),
        ),
    )


def _by_recipients(
    request: SendRequest, facts: SendFacts
) -> ChatError | tuple[Target, ...]:
    sets = recipient_sets(request, facts)
    if isinstance(sets, ChatError):
        return sets
    return tuple(_target_of(group, facts, copy) for copy, group in enumerate(sets))


def _target_of(recipients: RecipientSet, facts: SendFacts, copy: int) -> Target:
    known = facts.by_key.get((recipients.community_id, recipients.key))
    return Target(
        community_id=recipients.community_id,
        conversation_id=known.id if known else None,
        key=recipients.key,
        previous_id=known.last_message_id if known else 0,
        people=recipients.people,
        copy=copy,
    )
