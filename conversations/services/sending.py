"""Group commit: store many sends in one transaction, with a fixed number of
queries for the whole batch rather than a dozen per message.

Under load the socket layer hands a batch of concurrent sends to
`message_send_many` (one thread hop, one BEGIN/COMMIT); a single send is a
batch of one. Each request gets its own result or its own ChatError, checked
in the same order as before: idempotency, the sender's membership, the
conversation or recipients, blocks.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import events
from ..errors import BadRequest, Blocked, ChatError, Forbidden, NotFound, NotMember
from ..events import FanOut
from ..models import (
    Block,
    Community,
    Conversation,
    Membership,
    Message,
    Participant,
    User,
)
from ..notifications.schedule import active_recipients, notifications_schedule_many
from ..protocol import SendMessage
from ..selectors.messages import message_object, message_objects

# Namespace of our PostgreSQL advisory locks (two-int form: namespace, key).
_SEND_LOCK_NAMESPACE = 0x4348


@dataclass(frozen=True, slots=True)
class SendRequest:
    sender: User
    community: Community
    command: SendMessage
    origin_channel: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    message: events.MessageObject
    created: bool
    # Id of the conversation's message before this one (0 if none): lets each
    # socket deliver its conversation's messages in order.
    previous_id: int = 0


@dataclass(slots=True)
class _Batch:
    requests: list[SendRequest]
    results: list[SendResult | ChatError | None]
    fan_outs: list[FanOut] = field(default_factory=list)


def message_send_many(
    requests: list[SendRequest], *, attempts: int = 3
) -> tuple[list[SendResult | ChatError], list[FanOut]]:
    """Store the sends in one transaction; return per-request outcomes and the
    live events to fan out once the caller knows the transaction committed."""
    batch = _Batch(requests, [None] * len(requests))
    try:
        with transaction.atomic():
            _store(batch)
    except IntegrityError:
        # A concurrent batch won a unique constraint: the same client_id (a
        # resend racing its original) or the same new conversation. Its rows
        # are committed now, so trying again finds them.
        if attempts <= 1:
            raise
        if len(requests) == 1:
            return message_send_many(requests, attempts=attempts - 1)
        # One bad apple must not fail its neighbours: retry one by one.
        outcomes: list[SendResult | ChatError] = []
        fan_outs: list[FanOut] = []
        for request in requests:
            result, more = message_send_many([request], attempts=attempts - 1)
            outcomes += result
            fan_outs += more
        return outcomes, fan_outs
    outcomes = [r for r in batch.results if r is not None]
    assert len(outcomes) == len(requests)  # noqa: S101 (every request answered)
    return outcomes, batch.fan_outs


def _store(batch: _Batch) -> None:
    # The checks run before the per-community lock (PostgreSQL), which then
    # only covers id allocation, the inserts and the commit. A concurrent
    # batch cannot make them wrong in a way that matters: a resend racing its
    # original, or a conversation created twice, meets a unique constraint and
    # the batch is retried one send at a time (message_send_many). On SQLite
    # the IMMEDIATE transaction has held the write lock since BEGIN anyway.
    requests = batch.requests
    pending = _answer_resends(batch)
    pending = _check_senders(batch, pending)
    conversations = _resolve_conversations(batch, pending)
    pending = [i for i in pending if batch.results[i] is None]
    if not pending:
        return
    participants = _participants({conversations[i][0] for i in pending})
    pending = _check_blocks(batch, pending, conversations, participants)
    if not pending:
        return
    active = active_recipients(
        (requests[i].community.pk, uid)
        for i in pending
        for uid, _ in participants[conversations[i][0]]
    )
    for community_id in sorted({requests[i].community.pk for i in pending}):
        _lock_community_for_send(community_id)
    if connection.vendor == "postgresql":
        # Read again under the lock: the previous message may be newer now.
        latest = dict(
            Conversation.objects.filter(
                pk__in={conversations[i][0] for i in pending}
            ).values_list("pk", "last_message_id")
        )
        for index in pending:
            conversation_id = conversations[index][0]
            conversations[index] = (conversation_id, latest[conversation_id] or 0)
    _insert(batch, pending, conversations, participants, active)


def _answer_resends(batch: _Batch) -> list[int]:
    """Requests whose (sender, client_id) was already stored get that message;
    a repeat inside the batch gets the first one's. Returns the others."""
    keys = [(r.sender.pk, r.command.client_id) for r in batch.requests]
    existing = _existing_results(keys)
    seen: dict[tuple[int, str], int] = {}
    pending: list[int] = []
    for index, key in enumerate(keys):
        if key in existing:
            batch.results[index] = existing[key]
        elif key in seen:
            continue  # answered after the first one is stored, in _insert
        else:
            seen[key] = index
            pending.append(index)
    return pending


def _existing_results(keys: list[tuple[int, str]]) -> dict[tuple[int, str], SendResult]:
    if not keys:
        return {}
    wanted = set(keys)
    rows = [
        m
        for m in Message.objects.select_related("sender", "community").filter(
            sender_id__in={k[0] for k in keys}, client_id__in={k[1] for k in keys}
        )
        if (m.sender_id, m.client_id) in wanted
    ]
    return {
        (m.sender_id, m.client_id): SendResult(payload, created=False)
        for m, payload in zip(rows, message_objects(rows), strict=True)
    }


def _check_senders(batch: _Batch, pending: list[int]) -> list[int]:
    requests = batch.requests
    active = set(
        Membership.objects.filter(
            user_id__in={requests[i].sender.pk for i in pending},
            community_id__in={requests[i].community.pk for i in pending},
            status=Membership.Status.ACTIVE,
        ).values_list("user_id", "community_id")
    )
    kept = []
    for index in pending:
        request = requests[index]
        if (request.sender.pk, request.community.pk) in active:
            kept.append(index)
        else:
            batch.results[index] = Forbidden(
                "You are not an active member of this community.",
                client_id=request.command.client_id,
            )
    return kept


def _resolve_conversations(
    batch: _Batch, pending: list[int]
) -> dict[int, tuple[int, int]]:
    """(conversation id, previous message id) for each request that has one;
    requests without get their NotFound / NotMember / BadRequest."""
    requests = batch.requests
    resolved: dict[int, tuple[int, int]] = {}
    by_id = [i for i in pending if requests[i].command.to is None]
    if by_id:
        wanted = {requests[i].command.conversation or 0 for i in by_id}
        rows = {
            pk: (community_id, last_id or 0)
            for pk, community_id, last_id in Conversation.objects.filter(
                pk__in=wanted
            ).values_list("pk", "community_id", "last_message_id")
        }
        members = set(
            Participant.objects.filter(conversation_id__in=rows).values_list(
                "conversation_id", "user_id"
            )
        )
        for index in by_id:
            request = requests[index]
            conversation_id = request.command.conversation or 0
            row = rows.get(conversation_id)
            if (
                row is None
                or row[0] != request.community.pk
                or (conversation_id, request.sender.pk) not in members
            ):
                batch.results[index] = NotFound(client_id=request.command.client_id)
            else:
                resolved[index] = (conversation_id, row[1])
    by_names = [i for i in pending if requests[i].command.to is not None]
    if by_names:
        resolved.update(_conversations_for_recipients(batch, by_names))
    return resolved


def _conversations_for_recipients(
    batch: _Batch, indexes: list[int]
) -> dict[int, tuple[int, int]]:
    requests = batch.requests
    ids_by_community: dict[int, dict[str, int]] = {}
    for community_id in {requests[i].community.pk for i in indexes}:
        wanted = {
            name
            for i in indexes
            if requests[i].community.pk == community_id
            for name in requests[i].command.to or ()
        }
        ids_by_community[community_id] = dict(
            User.objects.filter(
                username__in=wanted,
                is_active=True,
                memberships__community_id=community_id,
                memberships__status=Membership.Status.ACTIVE,
            ).values_list("username", "id")
        )
    keys: dict[int, tuple[int, str, list[int]]] = {}
    for index in indexes:
        request = requests[index]
        names = request.command.to or ()
        client_id = request.command.client_id
        if request.sender.username in names:
            batch.results[index] = BadRequest(
                "'to' must not include yourself.", client_id=client_id
            )
            continue
        found = ids_by_community[request.community.pk]
        missing = [name for name in names if name not in found]
        if missing:
            batch.results[index] = NotMember(
                "Not an active member of this community: " + ", ".join(missing[:5]),
                client_id=client_id,
            )
            continue
        user_ids = sorted({request.sender.pk, *(found[n] for n in names)})
        keys[index] = (request.community.pk, participant_key(user_ids), user_ids)
    if not keys:
        return {}
    known = {
        (community_id, key): (pk, last_id or 0)
        for pk, community_id, key, last_id in Conversation.objects.filter(
            community_id__in={k[0] for k in keys.values()},
            participant_key__in={k[1] for k in keys.values()},
        ).values_list("pk", "community_id", "participant_key", "last_message_id")
    }
    new: dict[tuple[int, str], list[int]] = {}
    for community_id, key, user_ids in keys.values():
        if (community_id, key) not in known:
            new[(community_id, key)] = user_ids
    if new:
        created = Conversation.objects.bulk_create(
            Conversation(community_id=community_id, participant_key=key)
            for community_id, key in new
        )
        Participant.objects.bulk_create(
            Participant(conversation_id=conversation.pk, user_id=uid)
            for conversation in created
            for uid in new[(conversation.community_id, conversation.participant_key)]
        )
        for conversation in created:
            known[(conversation.community_id, conversation.participant_key)] = (
                conversation.pk,
                0,
            )
    return {index: known[(k[0], k[1])] for index, k in keys.items()}


def _participants(conversation_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    """(user id, username) of each conversation's participants, by username."""
    result: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for conversation_id, user_id, username in (
        Participant.objects.filter(conversation_id__in=conversation_ids)
        .order_by("user__username")
        .values_list("conversation_id", "user_id", "user__username")
    ):
        result[conversation_id].append((user_id, username))
    return result


def _check_blocks(
    batch: _Batch,
    pending: list[int],
    conversations: dict[int, tuple[int, int]],
    participants: dict[int, list[tuple[int, str]]],
) -> list[int]:
    requests = batch.requests
    everyone = {uid for people in participants.values() for uid, _ in people}
    blocks = set(
        Block.objects.filter(
            blocked_id__in={requests[i].sender.pk for i in pending},
            blocker_id__in=everyone,
        ).values_list("blocker_id", "blocked_id")
    )
    if not blocks:
        return pending
    kept = []
    for index in pending:
        sender_id = requests[index].sender.pk
        people = participants[conversations[index][0]]
        if any((uid, sender_id) in blocks for uid, _ in people):
            batch.results[index] = Blocked(
                "A participant does not accept your messages.",
                client_id=requests[index].command.client_id,
            )
        else:
            kept.append(index)
    return kept


def _insert(
    batch: _Batch,
    pending: list[int],
    conversations: dict[int, tuple[int, int]],
    participants: dict[int, list[tuple[int, str]]],
    active: set[tuple[int, int]],
) -> None:
    requests = batch.requests
    now = timezone.now()
    messages = Message.objects.bulk_create(
        Message(
            conversation_id=conversations[i][0],
            community_id=requests[i].community.pk,
            sender_id=requests[i].sender.pk,
            client_id=requests[i].command.client_id,
            body=requests[i].command.body,
            sent_at=now,
        )
        for i in pending
    )
    last: dict[int, int] = {}
    stored: dict[tuple[int, str], SendResult] = {}
    notify: list[tuple[Message, list[int], int]] = []
    for index, message in zip(pending, messages, strict=True):
        request = requests[index]
        conversation_id, previous_id = conversations[index]
        previous_id = last.get(conversation_id, previous_id)
        last[conversation_id] = message.pk
        message.sender = request.sender
        people = participants[conversation_id]
        payload = message_object(
            message,
            participants=[name for _, name in people],
            community_slug=request.community.slug,
        )
        result = SendResult(payload, created=True, previous_id=previous_id)
        batch.results[index] = result
        stored[(request.sender.pk, request.command.client_id)] = result
        recipients = [uid for uid, _ in people if uid != request.sender.pk]
        notify.append((message, recipients, request.community.pk))
        batch.fan_outs.append(
            FanOut(
                groups=[
                    events.user_community_group(uid, request.community.pk)
                    for uid, _ in people
                ],
                event=_message_event(payload, previous_id, request.origin_channel),
            )
        )
    for conversation_id, message_id in last.items():
        Conversation.objects.filter(pk=conversation_id).update(
            last_message_id=message_id
        )
    notifications_schedule_many(notify, active=active)
    for index, request in enumerate(requests):
        if batch.results[index] is None:  # a repeat of a client_id in the batch
            first = stored[(request.sender.pk, request.command.client_id)]
            batch.results[index] = SendResult(first.message, created=False)


def _message_event(
    payload: events.MessageObject, previous_id: int, origin: str | None
) -> dict[str, Any]:
    """The layer event: the frame is serialized once here, not per socket."""
    return {
        "type": "message.new",
        "frame": json.dumps(
            {"type": "message.new", "message": payload}, ensure_ascii=False
        ),
        "id": payload["id"],
        "conversation": payload["conversation"],
        "previous_id": previous_id,
        "sender": payload["sender"],
        "origin": origin or "",
    }


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
