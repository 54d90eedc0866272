"""A resident's email status: "bouncing" once their address failed for good,
"ok" again when they change or confirm it.

While bouncing, the notification decision sees no address
(notifications/recipients.py), so no email goes to it; pushes go on.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ..models import User
from .tokens import bounce_token_revoke

logger = logging.getLogger(__name__)

OK = User.EmailStatus.OK
BOUNCING = User.EmailStatus.BOUNCING


def email_status_bouncing(*, user_id: int) -> bool:
    """A permanent delivery failure was reported for the resident's address:
    stop emailing it. Returns whether the status changed."""
    changed = User.objects.filter(pk=user_id, email_status=OK).update(
        email_status=BOUNCING
    )
    if changed:
        logger.info("user %s: permanent delivery failure, emails stopped", user_id)
    return bool(changed)


def email_status_confirm(*, user: User) -> str:
    """The resident says their address is right: email it again."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(email_status=OK)
        bounce_token_revoke(user_id=user.pk)
    user.email_status = OK
    return OK


def email_address_changing(*, user: User) -> None:
    """Before a resident's row is saved: a new address starts "ok", and the
    bounces of emails sent to the old one no longer count."""
    if user.pk is None:
        return
    previous = User.objects.filter(pk=user.pk).values_list("email", flat=True).first()
    if previous is None or previous == user.email:
        return
    user.email_status = OK
    # Also for a save limited to `update_fields=["email"]`.
    User.objects.filter(pk=user.pk).update(email_status=OK)
    bounce_token_revoke(user_id=user.pk)
