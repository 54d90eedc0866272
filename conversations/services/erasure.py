"""Erasing a resident's account: the right to erasure, from the resident
(POST /api/me/erase/), an operator (`manage.py erase_resident`) or staff
(the admin's action on users).

One transaction for every row; the stored files go after it commits
(services/attachments.py writes their names down first, so a crash or a
storage error is finished by the worker or by running the command again).

What stays: the User row, renamed "former-resident-<id>" with nothing
personal left in it, so that other residents' conversations keep their
shape (participants, senders, read marks); the resident's messages as
tombstones (deleted for everyone, as `message.delete` does); other
residents' messages, which are theirs. Everything else that was the
resident's is deleted: memberships, preferences, push subscriptions,
pending notifications and emails, reply and bounce addresses, invitation,
account history, blocks they made, unused uploads, sessions, queued jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.hashers import check_password
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..accounts.actor import OPERATOR
from ..errors import RateLimited, WrongPassword
from ..models import (
    AccountEvent,
    Attachment,
    Block,
    EmailBatch,
    Invitation,
    Membership,
    Message,
    NotificationPreference,
    Participant,
    PendingNotification,
    PushSubscription,
    User,
)
from ..search_index import removed_text_forget
from .access import resident_revoke_access
from .attachments import attachment_files_delete
from .editing import messages_erase, tombstones_announce
from .erasure_traces import (
    admin_history_rename,
    queued_jobs_delete,
    sessions_delete,
    staff_actor_rename,
)
from .send.write import lock_community
from .throttle import login_failed, login_refused

logger = logging.getLogger(__name__)

MESSAGE_BATCH = 500
# At most this many leftover messages per run of the hourly job.
LEFTOVERS_MAX = 2000


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did (the command prints it, the API answers part)."""

    user_id: int
    username: str  # the name other residents see from now on
    messages: int  # their messages made tombstones by this run
    memberships: int
    uploads: int  # their unused uploads deleted
    files: int  # stored files handed to deletion after commit
    sessions: int


def former_username(user_id: int) -> str:
    return f"former-resident-{user_id}"


def resident_erase_requested(*, user: User, password: str, address: str) -> Erasure:
    """The resident's own request, confirmed with their password.

    Wrong passwords count as failed logins of that username and client
    address (services/throttle.py): a stolen session cannot try passwords
    here faster than at the login page, and past the limit even the right
    one is refused (RateLimited). A wrong one changes nothing else
    (WrongPassword)."""
    if login_refused(username=user.username, address=address):
        raise RateLimited("Too many wrong passwords; try again later.")
    # The hasher's function, not user.check_password: that one may save a
    # re-hashed password first, a change of password in the account history.
    if not user.has_usable_password() or not check_password(password, user.password):
        login_failed(username=user.username, address=address)
        raise WrongPassword("Wrong password: nothing was erased.")
    return resident_erase(user_id=user.pk, actor="self")


def resident_erase(*, user_id: int, actor: str = OPERATOR) -> Erasure:
    """Erase the account `user_id` (see the module's docstring). Idempotent:
    running it again on an erased account finds nothing more to change."""
    with transaction.atomic():
        _lock_communities_of(user_id)
        user = User.objects.select_for_update().get(pk=user_id)
        shown_before, username_before = str(user), user.username
        memberships = list(
            Membership.objects.filter(user=user).select_related("community")
        )
        _account_blank(user)
        resident_revoke_access(user_id=user.pk)
        messages, files = _messages_erase(
            Message.objects.filter(sender=user, deleted=False)
        )
        uploads, upload_files = _uploads_delete(
            Attachment.objects.filter(uploader=user)
        )
        Membership.objects.filter(pk__in=[m.pk for m in memberships]).delete()
        _records_delete(user)
        sessions = sessions_delete(user_id=user.pk)
        if username_before != user.username:
            admin_history_rename(
                user_id=user.pk,
                shown_before=shown_before,
                memberships=memberships,
                username_after=user.username,
            )
            staff_actor_rename(
                username_before=username_before, username_after=user.username
            )
        removed_text_forget(connection)
        attachment_files_delete(files + upload_files)
    late = erased_leftovers_erase(user_ids=[user.pk])
    result = Erasure(
        user_id=user.pk,
        username=user.username,
        messages=messages + late,
        memberships=len(memberships),
        uploads=uploads,
        files=len({name for name in files + upload_files if name}),
        sessions=sessions,
    )
    # Ids and counts only: the names are what was just erased.
    logger.info(
        "erased account %d by %s: %d messages, %d memberships, %d uploads",
        user.pk,
        "staff" if actor.startswith("staff:") else actor,
        result.messages,
        result.memberships,
        result.uploads,
    )
    return result


def erased_leftovers_erase(*, user_ids: list[int] | None = None) -> int:
    """Tombstone what erased residents still have: a message or an upload
    that a send or an upload already under way wrote just after the
    erasure committed (it had checked the membership before). Returns how
    many messages it erased.

    `resident_erase` runs it right after its commit: a send that was
    waiting for a community's lock is then ahead of it in the queue. The
    worker runs it hourly for every erased account (maintenance.py).
    """
    erased = User.objects.filter(erased_at__isnull=False)
    if user_ids is not None:
        erased = erased.filter(pk__in=user_ids)
    with transaction.atomic():
        messages, files = _messages_erase(
            Message.objects.filter(sender__in=erased, deleted=False),
            limit=LEFTOVERS_MAX,
        )
        uploads, upload_files = _uploads_delete(
            Attachment.objects.filter(uploader__in=erased)
        )
        if messages or uploads:
            removed_text_forget(connection)
        attachment_files_delete(files + upload_files)
    return messages


def _lock_communities_of(user_id: int) -> None:
    """The send locks of every community where the resident is a member or
    sent a message, in id order as the send path takes them, before the
    resident's row: a send of theirs holding one of them and waiting for
    that row (the message's foreign key) would otherwise deadlock."""
    member = Membership.objects.filter(user_id=user_id).values_list(
        "community_id", flat=True
    )
    sent = (
        Message.objects.filter(sender_id=user_id, deleted=False)
        .values_list("community_id", flat=True)
        .distinct()
    )
    for community_id in sorted({*member, *sent}):
        lock_community(community_id)


def _account_blank(user: User) -> None:
    """One save, as services/accounts.py asks: erased_at with the unusable
    password and is_active False, so that the account-change receivers
    close every socket and write no history and send no notice."""
    if user.erased_at is None:
        user.erased_at = timezone.now()
    user.username = former_username(user.pk)
    user.email = ""
    user.display_name = ""
    user.first_name = ""
    user.last_name = ""
    user.email_status = User.EmailStatus.OK
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.last_login = None
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def _messages_erase(
    messages: QuerySet[Message], *, limit: int | None = None
) -> tuple[int, list[str]]:
    """Make these messages tombstones for everyone, as a deletion by their
    sender would (editing.py's messages_erase, in batches), each announced
    as `message.updated`; returns how many and the stored files to delete
    after commit.

    Takes the send locks of their communities, in id order as the send path
    does, held to the commit: revs then commit in order in each community
    (revs.py)."""
    ids = list(messages.order_by("pk").values_list("pk", flat=True)[:limit])
    community_ids = Message.objects.filter(pk__in=ids).values_list(
        "community_id", flat=True
    )
    for community_id in sorted(set(community_ids)):
        lock_community(community_id)
    files: list[str] = []
    for start in range(0, len(ids), MESSAGE_BATCH):
        batch = list(
            Message.objects.select_related("sender", "community")
            .filter(pk__in=ids[start : start + MESSAGE_BATCH])
            .order_by("pk")
        )
        files += messages_erase(batch)
        tombstones_announce(batch)
    return len(ids), files


def _uploads_delete(uploads: QuerySet[Attachment]) -> tuple[int, list[str]]:
    """Delete these upload rows; returns how many and their stored files."""
    rows = list(uploads.values_list("pk", "file", "thumbnail"))
    Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return len(rows), [name for _, *names in rows for name in names]


def _records_delete(user: User) -> None:
    """The rows that were the resident's alone (mail tokens went with
    resident_revoke_access)."""
    batch_ids = list(
        EmailBatch.objects.filter(recipient=user).values_list("pk", flat=True)
    )
    event_ids = list(
        AccountEvent.objects.filter(user=user).values_list("pk", flat=True)
    )
    queued_jobs_delete(user_id=user.pk, batch_ids=batch_ids, event_ids=event_ids)
    PendingNotification.objects.filter(recipient=user).delete()
    EmailBatch.objects.filter(pk__in=batch_ids).delete()
    AccountEvent.objects.filter(pk__in=event_ids).delete()
    NotificationPreference.objects.filter(user=user).delete()
    PushSubscription.objects.filter(user=user).delete()
    Invitation.objects.filter(user=user).delete()
    # Blocks others made stay theirs; the former resident sends nothing.
    Block.objects.filter(blocker=user).delete()
    # Read marks stay (others see how far the former resident had read);
    # muting was a preference.
    Participant.objects.filter(user=user, muted=True).update(muted=False)
