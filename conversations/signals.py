"""Receivers that turn framework events into service calls."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db import connections
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from .search_index import sqlite_triggers_restore
from .services.access import session_revoke


@receiver(user_logged_out)
def close_sockets_on_logout(
    sender: Any, request: Any, user: Any, **kwargs: Any
) -> None:
    """Logout closes the sockets that were opened with this session."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        session_revoke(user_id=user.pk, session_key=session_key)


@receiver(post_migrate)
def restore_search_triggers(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """A migration that remade conversations_message on SQLite dropped the
    search index's triggers: put them back (search_index.py)."""
    if getattr(sender, "name", None) == "conversations":
        sqlite_triggers_restore(connections[using])
