"""The bulk reads of a batch of sends, gathered into one facts value.

A fixed number of queries whatever the batch size; the pure checks then
decide every request from these facts alone.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Exists, OuterRef
from django.utils import timezone

from ...models import (
    Attachment,
    Block,
    Conversation,
    Membership,
    Message,
    Participant,
)
from ...selectors.attachments import UNUSED_UPLOAD_LIFETIME
from ...selectors.messages import message_objects
from ...wire.schema import MessageObject
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
    facts.active_senders = set(
        Membership.objects.filter(
            user_id__in={r.sender_id for r in fresh},
            community_id__in={r.community_id for r in fresh},
            status=Membership.Status.ACTIVE,
        ).values_list("user_id", "community_id")
    )
    wanted = {r.conversation_id for r in fresh if r.conversation_id is not None}
    if wanted:
        facts.conversations = {
            pk: ConversationFacts(pk, community_id, last_id or 0)
            for pk, community_id, last_id in Conversation.objects.filter(
                pk__in=wanted
            ).values_list("pk", "community_id", "last_message_id")
        }
        facts.participants = conversation_people(set(facts.conversations))
    named = [r for r in fresh if r.to is not None]
    if named:
        # One query for every community of the batch.
        for community_id, username, user_id in Membership.objects.filter(
            community_id__in={r.community_id for r in named},
            user__username__in={name for r in named for name in r.to or ()},
            user__is_active=True,
            status=Membership.Status.ACTIVE,
        ).values_list("community_id", "user__username", "user_id"):
            facts.members.setdefault(community_id, {})[username] = user_id
    sets = [recipient_sets(r, facts) for r in fresh if r.to is not None]
    _read_by_key(facts, [s for group in sets if isinstance(group, list) for s in group])
    everyone = {p.id for people in facts.participants.values() for p in people}
    everyone.update(uid for names in facts.members.values() for uid in names.values())
    _read_blocks(facts, {r.sender_id for r in fresh}, everyone)
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
    for pk, community_id, key, last_id in Conversation.objects.filter(
        community_id__in={k[0] for k in keys},
        participant_key__in={k[1] for k in keys},
    ).values_list("pk", "community_id", "participant_key", "last_message_id"):
        if (community_id, key) in keys:
            facts.by_key[(community_id, key)] = ConversationFacts(
                pk, community_id, last_id or 0
            )


def _read_blocks(facts: SendFacts, senders: set[int], everyone: set[int]) -> None:
    """Who among `everyone` blocks one of the `senders`."""
    if senders and everyone:
        facts.blocks = set(
            Block.objects.filter(
                blocked_id__in=senders, blocker_id__in=everyone
            ).values_list("blocker_id", "blocked_id")
        )


def conversation_people(conversation_ids: set[int]) -> dict[int, list[Person]]:
    """Each conversation's participants, sorted by username, with whether each
    may still receive its messages (one query)."""
    result: dict[int, list[Person]] = defaultdict(list)
    active_member = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        community_id=OuterRef("conversation__community_id"),
        status=Membership.Status.ACTIVE,
    )
    rows = (
        Participant.objects.filter(conversation_id__in=conversation_ids)
        .annotate(member=Exists(active_member))
        .order_by("user__username")
        .values_list(
            "conversation_id", "user_id", "user__username", "user__is_active", "member"
        )
    )
    for conversation_id, user_id, username, is_active, member in rows:
        result[conversation_id].append(
            Person(user_id, username, reachable=bool(is_active and member))
        )
    return dict(result)


def _existing(requests: list[SendRequest]) -> dict[tuple[int, str], SendResult]:
    """What a resend answers: every copy the first send stored, in order."""
    keys = {(r.sender_id, r.client_id) for r in requests}
    rows = [
        m
        for m in Message.objects.select_related("sender", "community")
        .filter(sender_id__in={k[0] for k in keys}, client_id__in={k[1] for k in keys})
        .order_by("copy")
        if (m.sender_id, m.client_id) in keys
    ]
    if not rows:
        return {}
    copies: dict[tuple[int, str], list[MessageObject]] = defaultdict(list)
    for m, payload in zip(rows, message_objects(rows), strict=True):
        copies[(m.sender_id, m.client_id)].append(payload)
    return {
        key: SendResult(messages, created=False, previous_ids=[0] * len(messages))
        for key, messages in copies.items()
    }
