"""Decide who is notified of a message, and write the outbox in its transaction.

A recipient with no socket in the community (offline), or whose every socket
there said idle (away), gets one PendingNotification row, attached to their
open email batch, plus a push task. The rows and tasks are written in the
message's own transaction: no committed message can miss its notification.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import EmailBatch, Message, Participant, PendingNotification, User
from ..presence import ACTIVE, PresenceUnavailable, get_presence

logger = logging.getLogger(__name__)


def active_recipients(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (community id, user id) pairs whose resident is active there now.

    Read before the send's critical section: presence is a point-in-time
    hint, and a resident who drops just after is covered on disconnect.
    """
    by_community: dict[int, set[int]] = defaultdict(set)
    for community_id, user_id in pairs:
        by_community[community_id].add(user_id)
    presence = get_presence()
    active: set[tuple[int, int]] = set()
    for community_id, user_ids in by_community.items():
        try:
            states = presence.states(user_ids, community_id)
        except PresenceUnavailable as error:
            # Unknown presence: notify. The send-time re-check drops whatever
            # was read meanwhile, so an online resident gets nothing.
            logger.warning("presence unavailable, notifying everyone: %s", error)
            states = {}
        active.update((community_id, uid) for uid, s in states.items() if s == ACTIVE)
    return active


def notifications_schedule_many(
    entries: list[tuple[Message, list[int], int]],
    *,
    active: set[tuple[int, int]] | None = None,
) -> None:
    """Queue notifications for the recipients who are offline or away, for
    each (message, recipient ids, community id); `active` is what
    `active_recipients` answered, looked up here when not given.

    Must run inside the transaction that stores the messages.
    """
    if active is None:
        active = active_recipients(
            (community_id, uid) for _, ids, community_id in entries for uid in ids
        )
    targets = [
        (message, [uid for uid in recipient_ids if (community_id, uid) not in active])
        for message, recipient_ids, community_id in entries
    ]
    targets = [(message, ids) for message, ids in targets if ids]
    if targets:
        _outbox_add_many(targets)


def notifications_schedule_missed(
    *, user_id: int, community_id: int, message_ids: list[int]
) -> None:
    """A socket dropped right after live delivery (the hard-disconnect race):
    notify the messages it carried that are still unread."""
    with transaction.atomic():
        marks = dict(
            Participant.objects.filter(
                user_id=user_id, conversation__community_id=community_id
            ).values_list("conversation_id", "last_read_id")
        )
        unread = [
            m
            for m in Message.objects.filter(
                pk__in=message_ids, community_id=community_id
            ).exclude(sender_id=user_id)
            if m.conversation_id in marks and m.pk > marks[m.conversation_id]
        ]
        if unread:
            _outbox_add_many([(message, [user_id]) for message in unread])


def _outbox_add_many(targets: list[tuple[Message, list[int]]]) -> None:
    """Outbox rows for (message, recipients) pairs, in a constant number of
    queries (plus one task row per newly opened batch and per recipient with
    a browser push)."""
    from . import tasks

    now = timezone.now()
    everyone = sorted({uid for _, ids in targets for uid in ids})
    if connection.features.has_select_for_update:
        # Lock the recipients (in id order, so concurrent sends cannot
        # deadlock) so that sends in two communities share one open batch.
        # SQLite needs nothing: its IMMEDIATE transactions already serialize.
        list(
            User.objects.select_for_update()
            .filter(pk__in=everyone)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    batches = _open_batches(everyone, now)
    missing = [uid for uid in everyone if uid not in batches]
    if missing:
        due_at = now + timedelta(seconds=settings.NOTIFY_EMAIL_DELAY_SECONDS)
        created = EmailBatch.objects.bulk_create(
            EmailBatch(recipient_id=uid, due_at=due_at) for uid in missing
        )
        for batch in created:
            batches[batch.recipient_id] = batch
            tasks.send_email_batch.using(run_after=due_at).enqueue(batch.pk)
    PendingNotification.objects.bulk_create(
        (
            PendingNotification(
                recipient_id=uid, message=message, batch=batches[uid], created_at=now
            )
            for message, ids in targets
            for uid in ids
        ),
        ignore_conflicts=True,  # notified once per (recipient, message)
    )
    with_push = set(
        User.objects.filter(
            pk__in=everyone, push_subscriptions__isnull=False
        ).values_list("pk", flat=True)
    )
    for message, ids in targets:
        for recipient_id in sorted(with_push.intersection(ids)):
            tasks.send_push.enqueue(recipient_id, message.pk)


def _open_batches(recipient_ids: list[int], now: datetime) -> dict[int, EmailBatch]:
    batches: dict[int, EmailBatch] = {}
    for batch in EmailBatch.objects.filter(
        recipient_id__in=recipient_ids,
        state=EmailBatch.State.PENDING,
        due_at__gt=now,
        attempts=0,
    ).order_by("due_at"):
        batches.setdefault(batch.recipient_id, batch)
    return batches
