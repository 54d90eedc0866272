"""Receivers that turn framework events into service calls."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out, user_login_failed
from django.db import connections
from django.db.models.signals import post_migrate, post_save, pre_save
from django.dispatch import receiver

from .accounts.actor import acting_on
from .accounts.address import client_address
from .accounts.views import EARLIER_SESSION_HASHES
from .mail.status import email_address_changing
from .models import User
from .search_index import sqlite_triggers_restore
from .services.access import session_revoke
from .services.accounts import ACCOUNT_FIELDS, account_changes_apply, account_state_of
from .services.throttle import login_failed

# Where pre_save leaves the stored values for post_save, on the instance.
_STATE_BEFORE = "_account_state_before_save"


@receiver(user_logged_out)
def close_sockets_on_logout(
    sender: Any, request: Any, user: Any, **kwargs: Any
) -> None:
    """Logout closes the sockets that were opened with this session (Django
    sends this signal before it flushes the session)."""
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if user is not None and session is not None and session_key:
        session_revoke(
            user_id=user.pk,
            session_key=session_key,
            earlier_hashes=session.get(EARLIER_SESSION_HASHES, ()),
        )


@receiver(user_login_failed)
def count_failed_login(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """A failed login through a page (ours or the admin's) counts against
    the username and the client address (see accounts/views.py)."""
    if request is not None:
        login_failed(
            username=str(credentials.get("username", "")),
            address=client_address(request),
        )


@receiver(pre_save, sender=User)
def remember_account_state(
    sender: Any, instance: User, raw: bool, update_fields: Any, **kwargs: Any
) -> None:
    """Read the stored password, email and active flag before a save of an
    existing resident that may change them."""
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not ACCOUNT_FIELDS & set(update_fields):
        return
    setattr(instance, _STATE_BEFORE, account_state_of(user_id=instance.pk))


@receiver(post_save, sender=User)
def apply_account_changes(
    sender: Any, instance: User, created: bool, **kwargs: Any
) -> None:
    """Every change of password, email or active flag, whichever code saved
    it, closes sockets and is written to the resident's history."""
    before = instance.__dict__.pop(_STATE_BEFORE, None)
    if before is None or created:
        return
    account_changes_apply(user=instance, before=before, acting=acting_on(instance.pk))


@receiver(pre_save, sender=User)
def email_change_resets_status(
    sender: Any,
    instance: User,
    raw: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    """Any change of address (the admin, a command, the resident) makes a
    bouncing address "ok" again: the new one has not failed yet."""
    if raw or (update_fields is not None and "email" not in update_fields):
        return
    email_address_changing(user=instance)


@receiver(post_migrate)
def restore_search_triggers(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """A migration that remade conversations_message on SQLite dropped the
    search index's triggers: put them back (search_index.py)."""
    if getattr(sender, "name", None) == "conversations":
        sqlite_triggers_restore(connections[using])
