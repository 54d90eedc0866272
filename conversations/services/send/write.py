"""The write of a checked batch: create conversations, lock, insert, outbox.

Runs inside the caller's transaction. The per-community lock covers only
what must be ordered: id allocation, the inserts and the commit.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Case, Value, When
from django.utils import timezone

from ...errors import ChatError
from ...models import Conversation, Message, Participant
from ...notifications.outbox import PresenceSnapshot, Stored, outbox_add
from ...wire.frames import message_object
from .checks import Plan, Repeat, Target
from .requests import Delivery, SendRequest, SendResult

# Namespace of our PostgreSQL advisory locks (two-int form: namespace, key).
_SEND_LOCK_NAMESPACE = 0x4348

Outcome = SendResult | ChatError


def write_sends(
    requests: list[SendRequest], plans: list[Plan], *, presence: PresenceSnapshot
) -> tuple[list[Outcome], list[Delivery]]:
    """Store the targets of a checked batch; answer every request."""
    targets = {i: plan for i, plan in enumerate(plans) if isinstance(plan, Target)}
    outcomes: dict[int, Outcome] = {
        i: plan
        for i, plan in enumerate(plans)
        if isinstance(plan, SendResult | ChatError)
    }
    deliveries: list[Delivery] = []
    if targets:
        targets = _create_conversations(targets)
        for community_id in sorted({t.community_id for t in targets.values()}):
            _lock_community_for_send(community_id)
        latest = _latest_ids(targets)
        stored, deliveries = _insert(requests, targets, latest)
        outcomes.update(stored)
        outbox_add(
            [
                Stored(
                    message_id=d.message["id"],
                    community_id=d.community_id,
                    conversation_id=d.message["conversation"],
                    recipient_ids=tuple(
                        uid for uid in d.user_ids if uid != requests[index].sender_id
                    ),
                )
                for index, d in zip(sorted(targets), deliveries, strict=True)
            ],
            presence=presence,
        )
    for index, plan in enumerate(plans):
        if isinstance(plan, Repeat):
            first = outcomes[plan.first]
            outcomes[index] = (
                SendResult(first.message, created=False)
                if isinstance(first, SendResult)
                else first
            )
    return [outcomes[i] for i in range(len(plans))], deliveries


def _create_conversations(targets: dict[int, Target]) -> dict[int, Target]:
    """Create the conversations that new participant sets need (once each)."""
    new = {
        (t.community_id, t.key): t
        for t in targets.values()
        if t.conversation_id is None
    }
    if not new:
        return targets
    created = Conversation.objects.bulk_create(
        Conversation(community_id=community_id, participant_key=key)
        for community_id, key in new
    )
    Participant.objects.bulk_create(
        Participant(conversation_id=conversation.pk, user_id=person.id)
        for conversation in created
        for person in new[
            (conversation.community_id, conversation.participant_key)
        ].people
    )
    ids = {(c.community_id, c.participant_key): c.pk for c in created}
    return {
        index: (
            target
            if target.conversation_id is not None
            else Target(
                target.community_id,
                ids[(target.community_id, target.key)],
                target.key,
                0,
                target.people,
            )
        )
        for index, target in targets.items()
    }


def _latest_ids(targets: dict[int, Target]) -> dict[int, int]:
    """Each conversation's newest message id, read again under the lock on
    PostgreSQL (a concurrent batch may have added one since the checks)."""
    latest = {_placed(t): t.previous_id for t in targets.values()}
    if connection.vendor == "postgresql":
        latest.update(
            (pk, last or 0)
            for pk, last in Conversation.objects.filter(pk__in=latest).values_list(
                "pk", "last_message_id"
            )
        )
    return latest


def _insert(
    requests: list[SendRequest], targets: dict[int, Target], latest: dict[int, int]
) -> tuple[dict[int, Outcome], list[Delivery]]:
    now = timezone.now()
    order = sorted(targets)
    messages = Message.objects.bulk_create(
        Message(
            conversation_id=_placed(targets[i]),
            community_id=requests[i].community_id,
            sender_id=requests[i].sender_id,
            client_id=requests[i].client_id,
            body=requests[i].body,
            sent_at=now,
        )
        for i in order
    )
    outcomes: dict[int, Outcome] = {}
    deliveries: list[Delivery] = []
    for index, message in zip(order, messages, strict=True):
        request, target = requests[index], targets[index]
        conversation_id = _placed(target)
        previous_id = latest[conversation_id]
        latest[conversation_id] = message.pk
        payload = message_object(
            id=message.pk,
            conversation=conversation_id,
            community=request.community_slug,
            sender=request.sender_username,
            participants=[person.username for person in target.people],
            body=message.body,
            sent_at=now,
            client_id=message.client_id,
        )
        outcomes[index] = SendResult(payload, created=True, previous_id=previous_id)
        deliveries.append(
            Delivery(
                message=payload,
                previous_id=previous_id,
                community_id=request.community_id,
                user_ids=tuple(p.id for p in target.people if p.reachable),
            )
        )
    # One statement for every conversation of the batch.
    Conversation.objects.filter(pk__in=latest).update(
        last_message_id=Case(
            *(When(pk=cid, then=Value(mid)) for cid, mid in latest.items())
        )
    )
    return outcomes, deliveries


def _placed(target: Target) -> int:
    """The conversation id of a target whose conversation exists by now."""
    if target.conversation_id is None:
        raise AssertionError("conversation not created before the insert")
    return target.conversation_id


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
