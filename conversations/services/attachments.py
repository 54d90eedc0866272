"""Photos and documents: the upload, the sweep of unused uploads, and the
deletion of stored files once no row needs them.

Files live in Django's default storage (the file system under MEDIA_ROOT,
or an S3-compatible bucket: settings.STORAGES) as
`attachments/<key>/file.<ext>` and `attachments/<key>/thumbnail.<ext>`:
the key is random and the names are fixed, so a stored name tells nothing
of the uploader, the photo or its original name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..errors import TooLarge
from ..models import Attachment, Community, StoredFileDeletion, User
from ..selectors.attachments import UNUSED_UPLOAD_LIFETIME
from ..uploads import PreparedUpload, display_name, prepare_upload

logger = logging.getLogger(__name__)

SWEEP_BATCH = 200
# A run stops after this many batches so that the worker's other jobs and
# notifications do not wait; the next run (hourly) takes the rest.
SWEEP_MAX_BATCHES = 25
# Deletions younger than this belong to a transaction still committing.
RETRY_AFTER = timedelta(minutes=10)


def attachment_upload(*, user: User, community: Community, upload: File) -> Attachment:
    """Store a resident's photo or document, unused until a send claims it.

    `community` must come from the access check (community_get_for_user):
    the uploader is an active member there. Reads at most
    ATTACHMENT_MAX_BYTES + 1 bytes of the upload. Raises TooLarge (over
    ATTACHMENT_MAX_BYTES, or an image over ATTACHMENT_MAX_PIXELS) or
    UnsupportedType (empty, not JPEG, PNG, WebP or PDF by its content, or
    an image that does not decode).
    """
    prepared = prepare_upload(
        _read_at_most(upload, settings.ATTACHMENT_MAX_BYTES),
        max_pixels=settings.ATTACHMENT_MAX_PIXELS,
    )
    row = Attachment(
        uploader=user,
        community=community,
        key=secrets.token_hex(16),
        name=display_name(upload.name, prepared.kind),
        content_type=prepared.kind.content_type,
        size=len(prepared.data),
        width=prepared.width,
        height=prepared.height,
    )
    # Files first, then the row: a row never names a file that is not
    # there. Should the row not be written, its files go at once.
    try:
        _store(row, prepared)
        with transaction.atomic():
            row.save()
    except BaseException:
        _delete_stored([row.file.name or "", row.thumbnail.name or ""])
        raise
    return row


def _read_at_most(upload: File, limit: int) -> bytes:
    too_large = TooLarge(f"A file may have at most {limit:,} bytes.")
    if upload.size is not None and upload.size > limit:
        raise too_large
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return bytes(data)


def _store(row: Attachment, prepared: PreparedUpload) -> None:
    extension = prepared.kind.extension
    row.file.save(f"file.{extension}", ContentFile(prepared.data), save=False)
    if prepared.thumbnail is not None:
        row.thumbnail.save(
            f"thumbnail.{extension}", ContentFile(prepared.thumbnail), save=False
        )


def attachments_sweep() -> int:
    """Delete the uploads that no message used within UNUSED_UPLOAD_LIFETIME,
    rows then files, in batches; returns how many rows went.

    A maintenance job (conversations/maintenance.py, hourly). Idempotent,
    and safe beside a send: rows are locked (skipped when another
    transaction holds them) and deleted only while still unused, so an
    upload claimed meanwhile stays.
    """
    cutoff = timezone.now() - UNUSED_UPLOAD_LIFETIME
    deleted = 0
    for _ in range(SWEEP_MAX_BATCHES):
        with transaction.atomic():
            rows = list(
                Attachment.objects.select_for_update(skip_locked=True)
                .filter(message__isnull=True, created_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", "file", "thumbnail")[:SWEEP_BATCH]
            )
            count, _ = Attachment.objects.filter(
                pk__in=[pk for pk, _, _ in rows], message__isnull=True
            ).delete()
            attachment_files_delete([name for _, *names in rows for name in names])
        deleted += count
        if len(rows) < SWEEP_BATCH:
            break
    if deleted:
        logger.info("deleted %d unused attachment uploads", deleted)
    return deleted


def attachment_files_delete(names: list[str]) -> None:
    """Delete stored attachment files that no Attachment row names any more.

    For every path that deletes Attachment rows (the unused-upload sweep,
    message deletion, account erasure, the retention purge): call it inside
    the transaction that deletes the rows (or empties their `file` and
    `thumbnail`), with the `file.name` and `thumbnail.name` of each of those
    rows; empty names are ignored.

    - The names are written down (StoredFileDeletion) in that transaction;
      nothing is deleted before it commits (transaction.on_commit; at once
      when no transaction is open), and nothing at all if it rolls back.
    - A file that another row still names is kept: the private copies of a
      `separate` send are rows that share one stored file, and it goes
      with the last of them.
    - Missing files are skipped, so calling it twice, or again after a
      failure, is harmless. A storage error is logged and the other files
      are still deleted; it never undoes the committed transaction, and the
      names it left behind (or a crash right after the commit did) are
      deleted by `stored_files_retry`, a maintenance job.
    """
    wanted = sorted({name for name in names if name})
    if wanted:
        StoredFileDeletion.objects.bulk_create(
            StoredFileDeletion(name=name) for name in wanted
        )
        transaction.on_commit(lambda: _finish(wanted))


def stored_files_retry(*, min_age: timedelta = RETRY_AFTER) -> int:
    """Finish the file deletions that a crash or a storage error left
    behind, oldest first and in batches; returns how many names were done.

    A maintenance job; `min_age` leaves the deletions of transactions that
    are committing right now to their own on_commit (0 is still safe: a
    file is deleted only once no row names it, and deleting twice is
    harmless). A name the storage keeps refusing waits for the next run.
    """
    cutoff = timezone.now() - min_age
    done = 0
    after = 0
    for _ in range(SWEEP_MAX_BATCHES):
        rows = list(
            StoredFileDeletion.objects.filter(created_at__lte=cutoff, pk__gt=after)
            .order_by("pk")
            .values_list("pk", "name")[:SWEEP_BATCH]
        )
        if not rows:
            break
        after = rows[-1][0]
        done += _finish(sorted({name for _, name in rows}))
        if len(rows) < SWEEP_BATCH:
            break
    if done:
        logger.info("finished %d leftover stored file deletions", done)
    return done


def _finish(names: list[str]) -> int:
    """Delete the files no row names, then forget every name that needs
    nothing more (deleted, already gone, or still named by a row)."""
    failed = set(_delete_unreferenced(names))
    finished = [name for name in names if name not in failed]
    StoredFileDeletion.objects.filter(name__in=finished).delete()
    return len(finished)


def _delete_unreferenced(names: list[str]) -> list[str]:
    still_named = {
        name
        for pair in Attachment.objects.filter(
            Q(file__in=names) | Q(thumbnail__in=names)
        ).values_list("file", "thumbnail")
        for name in pair
    }
    return _delete_stored([name for name in names if name not in still_named])


def _delete_stored(names: list[str]) -> list[str]:
    """Delete these stored files; returns the names the storage refused."""
    failed = []
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
            _remove_empty_folder(name)
        except Exception:
            # The name is random (no personal data); the row is already
            # gone, so the retry job (or whoever calls again) tries later.
            logger.exception("could not delete stored file %s", name)
            failed.append(name)
    return failed


def _remove_empty_folder(name: str) -> None:
    """On the file system each upload leaves its own folder; remove it once
    empty (object stores have no folders)."""
    if not isinstance(default_storage, FileSystemStorage):
        return
    # Not empty yet (its thumbnail, or a file still named by a copy), or
    # already gone: leave it.
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(default_storage.path(name)))
