"""The values the pure checks decide from (read by `prefetch`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ...errors import BadRequest, ChatError, NotMember
from ...models import Attachment
from .requests import SendRequest, SendResult


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    username: str
    # An active account with an active membership in the conversation's
    # community: the only participants a message may reach.
    reachable: bool = True


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    id: int
    community_id: int
    last_message_id: int


@dataclass(frozen=True, slots=True)
class RecipientSet:
    """The participant set a `to` send names: the sender and the recipients."""

    community_id: int
    key: str
    people: tuple[Person, ...]  # sorted by username


@dataclass(slots=True)
class SendFacts:
    # (sender id, client id) already stored: the resend's answer.
    existing: dict[tuple[int, str], SendResult] = field(default_factory=dict)
    # (user id, community id) of senders with an active membership.
    active_senders: set[tuple[int, int]] = field(default_factory=set)
    # Conversations named by id, and their participants sorted by username.
    conversations: dict[int, ConversationFacts] = field(default_factory=dict)
    participants: dict[int, list[Person]] = field(default_factory=dict)
    # community id -> username -> user id, for the active members named in `to`.
    members: dict[int, dict[str, int]] = field(default_factory=dict)
    # (community id, participant key) -> the conversation of that set.
    by_key: dict[tuple[int, str], ConversationFacts] = field(default_factory=dict)
    # (blocker id, blocked id) among the senders and everyone they write to.
    blocks: set[tuple[int, int]] = field(default_factory=set)
    # Unused uploads among the attachment ids the requests name.
    uploads: dict[int, Attachment] = field(default_factory=dict)


def participant_key(user_ids: list[int] | tuple[int, ...]) -> str:
    """A fixed-length key for a participant set, whatever its size."""
    joined = ",".join(str(uid) for uid in sorted(set(user_ids)))
    return hashlib.sha256(joined.encode()).hexdigest()


def recipient_sets(
    request: SendRequest, facts: SendFacts
) -> list[RecipientSet] | ChatError:
    """The participant sets of a `to` send (one, or one per separate copy),
    or why it cannot have them."""
    names = request.to or ()
    if request.sender_username in names:
        return BadRequest(
            "'to' must not include yourself.", client_id=request.client_id
        )
    found = facts.members.get(request.community_id, {})
    missing = [name for name in names if name not in found]
    if missing:
        return NotMember(
            "Not an active member of this community: " + ", ".join(missing[:5]),
            client_id=request.client_id,
        )
    sender = Person(request.sender_id, request.sender_username)
    groups = [(name,) for name in names] if request.separate else [tuple(names)]
    return [
        _recipient_set(
            request.community_id, sender, [Person(found[n], n) for n in group]
        )
        for group in groups
    ]


def _recipient_set(
    community_id: int, sender: Person, recipients: list[Person]
) -> RecipientSet:
    people = sorted({sender, *recipients}, key=lambda person: person.username)
    key = participant_key([person.id for person in people])
    return RecipientSet(community_id, key, tuple(people))
