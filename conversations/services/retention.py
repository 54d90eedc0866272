"""How long things are kept: a community's retention period for messages,
and the records that expire on their own (sessions, finished job rows,
notification records).

The purge deletes, for each community with a retention period, the
messages sent before it began, with their attachments (rows in the
transaction, files after it commits) and, by cascade, their pending
notifications. It works in short batches, each its own transaction under
the community's send lock, so residents keep sending meanwhile and a new
message is never touched (it is younger than the cutoff). Nothing purged
can come back: `sync`, history, search, exports and emails read rows.
docs/privacy.md lists every period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from ..models import (
    Attachment,
    Community,
    Conversation,
    EmailBatch,
    Message,
    PendingNotification,
)
from ..search_index import removed_text_forget
from .attachments import attachment_files_delete
from .send.write import lock_community

logger = logging.getLogger(__name__)

PURGE_BATCH = 500
# A run of the worker's hourly job stops after this many batches, so that
# its other jobs and its heartbeat do not wait; the next run goes on.
PURGE_MAX_BATCHES = 40
# Finished notification and account-email jobs: kept for an operator to see
# what failed, then deleted (their arguments name residents and messages).
FINISHED_JOBS_KEPT = timedelta(days=7)
# Who was notified of which message: needed while an email or a push is on
# its way (retries last hours at most), not for a month after.
NOTIFICATION_RECORDS_KEPT = timedelta(days=30)
JOB_ROWS_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Purge:
    messages: int
    files: int
    # True when the batch limit stopped the run (more may have expired).
    more: bool


def community_retention_set(*, community: Community, days: int | None) -> None:
    """Keep the community's messages `days` days; None or 0 keeps them."""
    value = days or None
    if community.retention_days != value:
        community.retention_days = value
        community.save(update_fields=["retention_days"])


def messages_purge_expired(
    *,
    batch_size: int = PURGE_BATCH,
    max_batches: int | None = None,
    now: datetime | None = None,
) -> Purge:
    """Delete every message older than its community's retention period.

    Idempotent; `max_batches` bounds one run (None: until done)."""
    moment = now or timezone.now()
    messages = files = batches = 0
    more = False
    for community in Community.objects.filter(retention_days__gt=0).order_by("pk"):
        cutoff = moment - timedelta(days=community.retention_days or 0)
        deleted = batch_size
        while deleted == batch_size and not more:
            deleted, names = _purge_batch(community.pk, cutoff, batch_size)
            batches += 1
            messages += deleted
            files += names
            more = max_batches is not None and batches >= max_batches
        if more:
            break
    if messages:
        with transaction.atomic():
            removed_text_forget(connection)
        logger.info("purged %d expired messages and %d files", messages, files)
    return Purge(messages=messages, files=files, more=more)


def messages_purge_expired_step() -> Purge:
    """The worker's hourly job (maintenance.py): a bounded run."""
    return messages_purge_expired(max_batches=PURGE_MAX_BATCHES)


def _purge_batch(community_id: int, cutoff: datetime, size: int) -> tuple[int, int]:
    """One short transaction: the oldest `size` expired messages of the
    community; returns how many went, and how many stored files."""
    with transaction.atomic():
        # Sends there wait for this batch only; a conversation's newest
        # message (below) cannot change under it.
        lock_community(community_id)
        ids = list(
            Message.objects.filter(community_id=community_id, sent_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            return 0, 0
        names = {
            name
            for pair in Attachment.objects.filter(message_id__in=ids).values_list(
                "file", "thumbnail"
            )
            for name in pair
            if name
        }
        conversation_ids = set(
            Message.objects.filter(pk__in=ids).values_list("conversation_id", flat=True)
        )
        # Cascades: attachments, pending notifications; a conversation
        # whose last message goes gets None (on_delete=SET_NULL).
        Message.objects.filter(pk__in=ids).delete()
        newest = (
            Message.objects.filter(conversation_id=OuterRef("pk"))
            .order_by("-pk")
            .values("pk")[:1]
        )
        Conversation.objects.filter(
            pk__in=conversation_ids, last_message__isnull=True
        ).update(last_message_id=Subquery(newest))
        attachment_files_delete(sorted(names))
    return len(ids), len(names)


def sessions_clear_expired() -> None:
    """Django keeps expired sessions until told (`clearsessions`)."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


def finished_jobs_forget() -> int:
    """Delete job rows finished more than FINISHED_JOBS_KEPT ago, in
    batches (at most PURGE_MAX_BATCHES a run); queued and running ones are
    the worker's."""
    cutoff = timezone.now() - FINISHED_JOBS_KEPT
    deleted = 0
    for _ in range(PURGE_MAX_BATCHES):
        ids = list(
            DBTaskResult.objects.finished()
            .filter(finished_at__lt=cutoff)
            .values_list("pk", flat=True)[:JOB_ROWS_BATCH]
        )
        deleted += DBTaskResult.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < JOB_ROWS_BATCH:
            break
    return deleted


def notification_records_forget() -> int:
    """Delete the records of notifications finished long ago: sent or
    skipped email batches (with their items) and push-only items older than
    NOTIFICATION_RECORDS_KEPT, in batches (at most PURGE_MAX_BATCHES)."""
    cutoff = timezone.now() - NOTIFICATION_RECORDS_KEPT
    finished = [EmailBatch.State.SENT, EmailBatch.State.SKIPPED]
    deleted = 0
    for queryset in (
        EmailBatch.objects.filter(state__in=finished, created_at__lt=cutoff),
        PendingNotification.objects.filter(batch=None, created_at__lt=cutoff),
    ):
        for _ in range(PURGE_MAX_BATCHES):
            ids = list(queryset.values_list("pk", flat=True)[:JOB_ROWS_BATCH])
            queryset.model.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
            if len(ids) < JOB_ROWS_BATCH:
                break
    return deleted
