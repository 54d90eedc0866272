"""The outbox: notifications owed, written in the transaction that owes them.

At send time every recipient who is not active in the community (offline,
or every tab idle) gets a PendingNotification attached to their open email
batch (when an email is owed; due at the end of their quiet hours if it
would fall inside them), plus a push job, as `decision.decide` says.
Written with the message, so no committed message can miss its notification.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import EmailBatch, Message, PendingNotification, User
from ..presence import Snapshot
from . import tasks
from .decision import Decision, decide
from .recipients import accounts, read_marks, recipient_state

PresenceSnapshot = Snapshot


@dataclass(frozen=True, slots=True)
class Stored:
    """A message just stored, and the participants it may notify."""

    message_id: int
    community_id: int
    conversation_id: int
    recipient_ids: tuple[int, ...]  # reachable participants but the sender


def outbox_add(stored: list[Stored], *, presence: PresenceSnapshot) -> None:
    """Owe notifications for just-stored messages. Inside their transaction."""
    offline = [
        (item, uid)
        for item in stored
        for uid in item.recipient_ids
        if presence.get(item.community_id, {}).get(uid) != "active"
    ]
    if not offline:
        return
    found = accounts({uid for _, uid in offline})
    marks = read_marks(
        {uid for _, uid in offline}, {item.conversation_id for item, _ in offline}
    )
    now = timezone.now()
    delay = timedelta(seconds=settings.NOTIFY_EMAIL_DELAY_SECONDS)
    owed: list[tuple[int, int, Decision]] = []
    for item, uid in offline:
        state = recipient_state(
            found.get(uid),
            message_id=item.message_id,
            member_active=True,  # a reachable participant, checked by the send
            mark=marks.get((uid, item.conversation_id)),
            presence=presence.get(item.community_id, {}).get(uid),
        )
        decision = decide(state, now=now, email_delay=delay)
        if not decision.nothing:
            owed.append((item.message_id, uid, decision))
    _write(owed, now)


def outbox_add_missed(
    *,
    user_id: int,
    community_id: int,
    message_ids: list[int],
    presence: str | None,
) -> None:
    """A socket dropped right after live delivery (the hard-disconnect race):
    owe what it carried and is still unread, unless the resident still has an
    active tab there (`presence`, read just before)."""
    if not message_ids:
        return
    with transaction.atomic():
        messages = list(
            Message.objects.filter(pk__in=message_ids, community_id=community_id)
            .exclude(sender_id=user_id)
            .values_list("pk", "conversation_id")
        )
        if not messages:
            return
        marks = read_marks([user_id], {cid for _, cid in messages})
        account = accounts([user_id]).get(user_id)
        now = timezone.now()
        delay = timedelta(seconds=settings.NOTIFY_EMAIL_DELAY_SECONDS)
        owed = []
        for message_id, conversation_id in messages:
            state = recipient_state(
                account,
                message_id=message_id,
                member_active=True,  # re-checked when the job runs
                mark=marks.get((user_id, conversation_id)),
                presence=presence,
            )
            decision = decide(state, now=now, email_delay=delay)
            if not decision.nothing:
                owed.append((message_id, user_id, decision))
        _write(owed, now)


def _write(owed: list[tuple[int, int, Decision]], now: datetime) -> None:
    """Outbox rows in a constant number of queries (plus one job row per
    newly opened batch and per push)."""
    if not owed:
        return
    emailed = sorted({uid for _, uid, decision in owed if decision.email_at})
    if emailed and connection.features.has_select_for_update:
        # Lock the recipients (in id order, so concurrent sends cannot
        # deadlock) so that sends in two communities share one open batch.
        # SQLite needs nothing: its IMMEDIATE transactions already serialize.
        list(
            User.objects.select_for_update()
            .filter(pk__in=emailed)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    batches = _open_batches(emailed, now) if emailed else {}
    first_due: dict[int, datetime] = {}
    for _, uid, decision in owed:
        if decision.email_at is not None and uid not in batches:
            first_due[uid] = min(
                first_due.get(uid, decision.email_at), decision.email_at
            )
    if first_due:
        created = EmailBatch.objects.bulk_create(
            EmailBatch(recipient_id=uid, due_at=due) for uid, due in first_due.items()
        )
        for batch in created:
            batches[batch.recipient_id] = batch
            tasks.send_email_batch.using(run_after=batch.due_at).enqueue(batch.pk)
    PendingNotification.objects.bulk_create(
        (
            PendingNotification(
                recipient_id=uid,
                message_id=message_id,
                # No batch when only a push is owed: email off or no address.
                batch=batches[uid] if decision.email_at is not None else None,
                created_at=now,
            )
            for message_id, uid, decision in owed
        ),
        ignore_conflicts=True,  # notified once per (recipient, message)
    )
    for message_id, uid, decision in owed:
        if decision.push:
            tasks.send_push.enqueue(uid, message_id)


def _open_batches(recipient_ids: Iterable[int], now: datetime) -> dict[int, EmailBatch]:
    batches: dict[int, EmailBatch] = {}
    for batch in EmailBatch.objects.filter(
        recipient_id__in=list(recipient_ids),
        state=EmailBatch.State.PENDING,
        due_at__gt=now,
        attempts=0,
    ).order_by("due_at"):
        batches.setdefault(batch.recipient_id, batch)
    return batches
