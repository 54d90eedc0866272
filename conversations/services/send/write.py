"""The write of a checked batch: create conversations, lock, insert, outbox.

Runs inside the caller's transaction. The per-community lock covers only
what must be ordered: id allocation, the inserts and the commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Case, Value, When
from django.utils import timezone

from ...errors import ChatError
from ...models import Attachment, Conversation, Participant
from ...notifications.outbox import PresenceSnapshot, Stored, outbox_add
from ...selectors.messages import attachment_object
from ...wire.frames import message_object
from ...wire.schema import AttachmentObject, MessageObject
from . import sql
from .checks import Placement, Plan, Repeat, Target
from .facts import SendFacts
from .requests import Delivery, SendRequest, SendResult

# Namespace of our PostgreSQL advisory locks (two-int form: namespace, key).
SEND_LOCK_NAMESPACE = 0x4348

Outcome = SendResult | ChatError


@dataclass(frozen=True, slots=True)
class _Row:
    """One message to insert: a request's target (one per separate copy)."""

    index: int  # the request's position in the batch
    target: Target


def write_sends(
    requests: list[SendRequest],
    plans: list[Plan],
    facts: SendFacts,
    *,
    presence: PresenceSnapshot,
) -> tuple[list[Outcome], list[Delivery]]:
    """Store the placements of a checked batch; answer every request."""
    outcomes: dict[int, Outcome] = {
        i: plan
        for i, plan in enumerate(plans)
        if isinstance(plan, SendResult | ChatError)
    }
    rows = [
        _Row(i, target)
        for i, plan in enumerate(plans)
        if isinstance(plan, Placement)
        for target in plan.targets
    ]
    deliveries: list[Delivery] = []
    if rows:
        rows = _create_conversations(rows)
        lock_communities({row.target.community_id for row in rows})
        messages, deliveries = _insert(requests, facts, rows)
        outcomes.update(messages)
        outbox_add(
            [
                Stored(
                    message_id=d.message["id"],
                    community_id=d.community_id,
                    conversation_id=d.message["conversation"],
                    recipient_ids=tuple(
                        uid
                        for uid in d.user_ids
                        if uid != requests[row.index].sender_id
                    ),
                )
                for row, d in zip(rows, deliveries, strict=True)
            ],
            presence=presence,
        )
    for index, plan in enumerate(plans):
        if isinstance(plan, Repeat):
            first = outcomes[plan.first]
            outcomes[index] = (
                replace(first, created=False)
                if isinstance(first, SendResult)
                else first
            )
    return [outcomes[i] for i in range(len(plans))], deliveries


def _create_conversations(rows: list[_Row]) -> list[_Row]:
    """Create the conversations that new participant sets need (once each)."""
    new = {
        (r.target.community_id, r.target.key): r.target
        for r in rows
        if r.target.conversation_id is None
    }
    if not new:
        return rows
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
    return [
        row
        if row.target.conversation_id is not None
        else _Row(
            row.index,
            replace(
                row.target,
                conversation_id=ids[(row.target.community_id, row.target.key)],
            ),
        )
        for row in rows
    ]


def _latest_ids(rows: list[_Row]) -> dict[int, int]:
    """Each conversation's newest message id, read again under the lock on
    PostgreSQL (a concurrent batch may have added one since the checks)."""
    latest = {_placed(r.target): r.target.previous_id for r in rows}
    if connection.vendor == "postgresql":
        latest.update((pk, last) for pk, _, last in sql.conversations(sorted(latest)))
    return latest


def _message_rows(
    requests: list[SendRequest], rows: list[_Row]
) -> list[dict[str, Any]]:
    """The Message rows of a batch, in `rows` order (one per copy)."""
    return [
        {
            "conversation_id": _placed(row.target),
            "community_id": requests[row.index].community_id,
            "sender_id": requests[row.index].sender_id,
            "client_id": requests[row.index].client_id,
            "copy": row.target.copy,
            "body": requests[row.index].body,
            "attachment_count": len(requests[row.index].attachment_ids),
        }
        for row in rows
    ]


def _insert(
    requests: list[SendRequest],
    facts: SendFacts,
    rows: list[_Row],
) -> tuple[dict[int, Outcome], list[Delivery]]:
    now = timezone.now()
    latest = _latest_ids(rows)
    ids = sql.insert_messages(_message_rows(requests, rows), now)
    attachments = _attach(requests, facts, rows, ids)
    copies: dict[int, list[tuple[MessageObject, int]]] = {}
    deliveries: list[Delivery] = []
    for row, message_id in zip(rows, ids, strict=True):
        request, target = requests[row.index], row.target
        conversation_id = _placed(target)
        previous_id = latest[conversation_id]
        latest[conversation_id] = message_id
        payload = message_object(
            id=message_id,
            conversation=conversation_id,
            community=request.community_slug,
            sender=request.sender_username,
            participants=[person.username for person in target.people],
            body=request.body,
            sent_at=now,
            client_id=request.client_id,
            attachments=attachments.get(message_id),
        )
        copies.setdefault(row.index, []).append((payload, previous_id))
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
    outcomes: dict[int, Outcome] = {
        index: SendResult(
            messages=[payload for payload, _ in made],
            created=True,
            previous_ids=[previous for _, previous in made],
        )
        for index, made in copies.items()
    }
    return outcomes, deliveries


def _attach(
    requests: list[SendRequest],
    facts: SendFacts,
    rows: list[_Row],
    message_ids: list[int],
) -> dict[int, list[AttachmentObject]]:
    """Give the uploads to their messages: the first copy takes the rows,
    later copies get rows of their own that point at the same stored files."""
    result: dict[int, list[AttachmentObject]] = {}
    for row, message_id in zip(rows, message_ids, strict=True):
        upload_ids = requests[row.index].attachment_ids
        if not upload_ids:
            continue
        uploads = [facts.uploads[pk] for pk in upload_ids]
        if row.target.copy == 0:
            taken = Attachment.objects.filter(
                pk__in=upload_ids, message__isnull=True
            ).update(message_id=message_id)
            if taken != len(upload_ids):
                # A concurrent send took one of them first: retried alone,
                # this send then meets bad_attachment.
                raise IntegrityError("upload already used by another message")
            owned = uploads
        else:
            owned = Attachment.objects.bulk_create(
                _upload_copy(upload, message_id=message_id) for upload in uploads
            )
        result[message_id] = [attachment_object(upload) for upload in owned]
    return result


def _upload_copy(upload: Attachment, *, message_id: int) -> Attachment:
    """A copy of an upload's row for another separate copy of the message."""
    return Attachment(
        uploader_id=upload.uploader_id,
        community_id=upload.community_id,
        message_id=message_id,
        key=secrets.token_hex(16),
        name=upload.name,
        content_type=upload.content_type,
        size=upload.size,
        width=upload.width,
        height=upload.height,
        file=upload.file.name,
        thumbnail=upload.thumbnail.name if upload.thumbnail else "",
        created_at=upload.created_at,
    )


def _placed(target: Target) -> int:
    """The conversation id of a target whose conversation exists by now."""
    if target.conversation_id is None:
        raise AssertionError("conversation not created before the insert")
    return target.conversation_id


def lock_community(community_id: int) -> None:
    """Serialize message inserts and changes per community, so ids and revs
    are committed in order.

    `sync` pages by id (and by rev): if id 12 could commit after id 13 was
    delivered, a client resuming after 13 would never see 12. On SQLite the
    IMMEDIATE transaction already holds the database write lock.
    """
    lock_communities({community_id})


def lock_communities(community_ids: set[int]) -> None:
    """`lock_community` for several, in one round trip, always in the same
    order (ascending) so that two batches cannot deadlock."""
    if connection.vendor != "postgresql" or not community_ids:
        return
    keys = sorted({community_id % (2**31) for community_id in community_ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, key)) "
            "FROM (SELECT unnest(%s::int[]) AS key ORDER BY 1) AS ordered",
            [SEND_LOCK_NAMESPACE, keys],
        )
