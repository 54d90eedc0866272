"""What follows a change to a resident's password, email or active flag,
whoever made it: sockets closed, the change written to the resident's
account history, a notice to the address that was replaced.

Called by the model receivers in `signals.py`, so that no path (the admin,
Django's password views, `manage.py changepassword`, the operator commands,
an invitation) can skip it. `QuerySet.update()` bypasses model signals:
nothing in the project changes these fields that way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from ..accounts.actor import Acting
from ..accounts.tasks import send_email_change_notice
from ..models import User
from .access import resident_revoke_access, sessions_revoke_others
from .account_events import EventKind, account_event_record, mask_email

ACCOUNT_FIELDS = frozenset({"password", "email", "is_active"})


@dataclass(frozen=True, slots=True)
class AccountState:
    password: str
    email: str
    is_active: bool


def account_state_of(*, user_id: int) -> AccountState | None:
    """The stored values, read just before a save overwrites them."""
    row = User.objects.filter(pk=user_id).values_list(*sorted(ACCOUNT_FIELDS)).first()
    if row is None:
        return None
    email, is_active, password = row
    return AccountState(password=password, email=email, is_active=is_active)


def account_changes_apply(*, user: User, before: AccountState, acting: Acting) -> None:
    """Act on what a save changed. A first password (none before) is not a
    change; an erased account gets no history and no notice."""
    erased = user.erased_at is not None
    with transaction.atomic():
        if before.password and user.password != before.password:
            sessions_revoke_others(
                user_id=user.pk, keep_session_key=acting.keep_session_key
            )
            if not erased:
                account_event_record(
                    user_id=user.pk, kind=EventKind.PASSWORD_CHANGED, actor=acting.actor
                )
        if user.email != before.email and not erased:
            event = account_event_record(
                user_id=user.pk,
                kind=EventKind.EMAIL_CHANGED,
                actor=acting.actor,
                detail=mask_email(user.email) if user.email else "",
            )
            if before.email:
                send_email_change_notice.enqueue(event.pk, before.email)
        if before.is_active and not user.is_active:
            resident_revoke_access(user_id=user.pk)
