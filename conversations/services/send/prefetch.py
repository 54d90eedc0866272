"""The bulk reads of a batch of sends, gathered into one facts value.

A fixed number of queries whatever the batch size; the pure checks then
decide every request from these facts alone.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone

from ...models import Attachment, Message
from ...selectors.attachments import UNUSED_UPLOAD_LIFETIME
from ...selectors.messages import message_objects
from ...wire.schema import MessageObject
from . import sql
from .facts import (
    ConversationFacts,
    Person,
    RecipientSet,
    SendFacts,
    recipient_sets,
)
from .requests import SendRequest, SendResult


def send_facts(requests: list[SendRequest]) -> SendFacts:
    """Read everything the checks need about these requests."""
    facts = SendFacts()
    facts.existing = _existing(requests)
    fresh = [r for r in requests if (r.sender_id, r.client_id) not in facts.existing]
    if not fresh:
        return facts
    facts.active_senders = sql.active_memberships(
        sorted({r.sender_id for r in fresh}), sorted({r.community_id for r in fresh})
    )
    wanted = sorted({r.conversation_id for r in fresh if r.conversation_id is not None})
    if wanted:
        facts.conversations = {
            pk: ConversationFacts(pk, community_id, last_id)
            for pk, community_id, last_id in sql.conversations(wanted)
        }
        facts.participants = conversation_people(set(facts.conversations))
    named = [r for r in fresh if r.to is not None]
    if named:
        # One query for every community of the batch.
        for community_id, username, user_id in sql.active_members(
            sorted({r.community_id for r in named}),
            sorted({name for r in named for name in r.to or ()}),
        ):
            facts.members.setdefault(community_id, {})[username] = user_id
    sets = [recipient_sets(r, facts) for r in fresh if r.to is not None]
    _read_by_key(facts, [s for group in sets if isinstance(group, list) for s in group])
    everyone = {p.id for people in facts.participants.values() for p in people}
    everyone.update(uid for names in facts.members.values() for uid in names.values())
    if everyone:
        facts.blocks = sql.blocks(
            sorted({r.sender_id for r in fresh}), sorted(everyone)
        )
    wanted_uploads = {pk for r in fresh for pk in r.attachment_ids}
    if wanted_uploads:
        facts.uploads = {
            row.pk: row
            for row in Attachment.objects.filter(
                pk__in=wanted_uploads,
                message__isnull=True,
                # Past this age the sweep deletes it: not yours to use.
                created_at__gt=timezone.now() - UNUSED_UPLOAD_LIFETIME,
            )
        }
    return facts


def _read_by_key(facts: SendFacts, sets: list[RecipientSet]) -> None:
    """The conversations of the participant sets the `to` sends name."""
    keys = {(s.community_id, s.key) for s in sets}
    if not keys:
        return
    for pk, community_id, key, last_id in sql.conversations_by_key(
        sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    ):
        if (community_id, key) in keys:
            facts.by_key[(community_id, key)] = ConversationFacts(
                pk, community_id, last_id
            )


def conversation_people(conversation_ids: set[int]) -> dict[int, list[Person]]:
    """Each conversation's participants, sorted by username, with whether each
    may still receive its messages (one query)."""
    result: dict[int, list[Person]] = defaultdict(list)
    for conversation_id, user_id, username, reachable in sql.participants(
        sorted(conversation_ids)
    ):
        result[conversation_id].append(Person(user_id, username, reachable))
    return dict(result)


def _existing(requests: list[SendRequest]) -> dict[tuple[int, str], SendResult]:
    """What a resend answers: every copy the first send stored, in order."""
    ids = sql.stored_ids({(r.sender_id, r.client_id) for r in requests})
    if not ids:
        return {}
    rows = list(
        Message.objects.select_related("sender", "community")
        .filter(pk__in=ids)
        .order_by("copy")
    )
    copies: dict[tuple[int, str], list[MessageObject]] = defaultdict(list)
    for m, payload in zip(rows, message_objects(rows), strict=True):
        copies[(m.sender_id, m.client_id)].append(payload)
    return {
        key: SendResult(messages, created=False, previous_ids=[0] * len(messages))
        for key, messages in copies.items()
    }
