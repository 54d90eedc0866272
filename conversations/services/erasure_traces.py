"""What an erased resident left in tables that are not ours: Django's
sessions, the admin's history, the job queue.

Called inside the erasure's transaction (services/erasure.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db.models import Q
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ..accounts.tasks import send_email_change_notice
from ..models import AccountEvent, Community, Membership, User
from ..notifications.tasks import send_email_batch, send_push

SESSION_BATCH = 1000


def sessions_delete(*, user_id: int) -> int:
    """Delete every stored session signed in as the resident; returns how many.

    Django keeps no index from a resident to their sessions, so each stored
    session is decoded. The engine's own store deletes it (the cached_db
    engine's cache entry too); with an engine that keeps no rows (cookie or
    cache sessions) nothing is found here, and those sessions fail Django's
    session hash check anyway once the password is unusable.
    """
    wanted = str(user_id)
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    doomed: list[str] = []
    after = ""
    while True:
        rows = list(
            Session.objects.filter(session_key__gt=after)
            .order_by("session_key")
            .values_list("session_key", "session_data")[:SESSION_BATCH]
        )
        for key, data in rows:
            if store().decode(data).get(SESSION_KEY) == wanted:
                doomed.append(key)
        if len(rows) < SESSION_BATCH:
            break
        after = rows[-1][0]
    for key in doomed:
        store(session_key=key).delete()
    return len(doomed)


def admin_history_rename(
    *,
    user_id: int,
    shown_before: str,
    memberships: Collection[Membership],
    username_after: str,
) -> None:
    """Rewrite the admin's history so that it no longer names the resident.

    LogEntry keeps str() of the object it is about: a User's str() is their
    display name, a Membership's starts with it ("<name> in <community>
    (<status>)"), and adding a membership on a community's page records
    that string in the community entry's change message. The entries about
    the user and their current memberships are rewritten by id; any other
    entry that starts with the name it had (a membership removed earlier)
    by that prefix.
    """
    types = ContentType.objects.get_for_models(User, Membership, Community)
    LogEntry.objects.filter(content_type=types[User], object_id=str(user_id)).update(
        object_repr=username_after
    )
    for membership in memberships:
        LogEntry.objects.filter(
            content_type=types[Membership], object_id=str(membership.pk)
        ).update(object_repr=f"{username_after} in {membership.community}")
    prefix = f"{shown_before} in "
    entries = LogEntry.objects.filter(
        content_type__in=[types[Membership], types[Community]]
    ).filter(Q(object_repr__startswith=prefix) | Q(change_message__contains=" in "))
    for entry in entries.iterator(chunk_size=SESSION_BATCH):
        repr_after = _renamed(entry.object_repr, prefix, username_after)
        message_after = _renamed_in_message(
            entry.change_message, prefix, username_after
        )
        if (repr_after, message_after) != (entry.object_repr, entry.change_message):
            LogEntry.objects.filter(pk=entry.pk).update(
                object_repr=repr_after, change_message=message_after
            )


def _renamed(text: str, prefix: str, username_after: str) -> str:
    if text.startswith(prefix):
        return f"{username_after} in {text.removeprefix(prefix)}"
    return text


def _renamed_in_message(message: str, prefix: str, username_after: str) -> str:
    """The admin's change message is JSON (ASCII-escaped): rewrite the
    `object` strings it names, leave anything else as it is."""
    try:
        items = json.loads(message)
    except ValueError:
        return message
    if not isinstance(items, list):
        return message
    changed = False
    for item in items:
        for detail in item.values() if isinstance(item, dict) else ():
            if isinstance(detail, dict) and isinstance(detail.get("object"), str):
                after = _renamed(detail["object"], prefix, username_after)
                changed = changed or after != detail["object"]
                detail["object"] = after
    return json.dumps(items) if changed else message


def staff_actor_rename(*, username_before: str, username_after: str) -> None:
    """An erased staff member's name in other residents' account histories."""
    AccountEvent.objects.filter(actor=f"staff:{username_before}").update(
        actor=f"staff:{username_after}"
    )


def queued_jobs_delete(
    *, user_id: int, batch_ids: Collection[int], event_ids: Collection[int]
) -> int:
    """The job rows about the resident: their pushes, their emails, the
    notices to their former addresses (which carry the address itself).
    A job that is running now is left to finish: its row is the worker's."""
    about: list[tuple[Any, Q]] = [
        (send_push, Q(args_kwargs__args__0=user_id)),
        (send_email_batch, Q(args_kwargs__args__0__in=list(batch_ids))),
        (send_email_change_notice, Q(args_kwargs__args__0__in=list(event_ids))),
    ]
    condition = Q()
    for task, arguments in about:
        condition |= Q(task_path=task.module_path) & arguments
    deleted, _ = (
        DBTaskResult.objects.filter(condition)
        .exclude(status=TaskResultStatus.RUNNING)
        .delete()
    )
    return deleted
