"""Receivers that turn framework events into service calls."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver

from .mail.status import email_address_changing
from .models import User
from .services.access import session_revoke


@receiver(user_logged_out)
def close_sockets_on_logout(
    sender: Any, request: Any, user: Any, **kwargs: Any
) -> None:
    """Logout closes the sockets that were opened with this session."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        session_revoke(user_id=user.pk, session_key=session_key)


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
