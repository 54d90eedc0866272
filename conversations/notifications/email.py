"""One notification email per batch: re-check, send, mark sent.

Exactly-once, as far as SMTP allows: the batch row moves PENDING -> SENDING
(committed) -> SMTP -> SENT. A worker killed before SMTP accepted leaves
SENDING and the task is run again (nothing lost). The only window for a
duplicate is between SMTP's final "250 OK" and the SENT commit, a few
milliseconds; a resend then carries the same Message-ID, which lets mail
systems that deduplicate drop it.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ..models import EmailBatch, Message, Participant, PendingNotification, User
from .content import (
    Preferences,
    conversation_url,
    excerpt,
    safe_name,
    shows_text,
    site_domain,
)
from .decision import decide
from .outcomes import Defer, Done, Outcome, Retry
from .recipients import (
    Account,
    accounts,
    active_memberships,
    read_marks,
    recipient_state,
    zone,
)
from .reply import reply_route, reply_route_apply
from .tokens import unsubscribe_token

logger = logging.getLogger(__name__)

SUBJECTS = {
    "fr": ("Nouveau message de {sender}", "{count} nouveaux messages de vos voisins"),
    "en": ("New message from {sender}", "{count} new messages from your neighbours"),
}


@dataclass(frozen=True, slots=True)
class EmailItem:
    conversation_id: int
    sender: str
    community: str
    participants: str
    text: str | None
    url: str
    sent_at: str


def email_batch_send(*, batch_id: int) -> Outcome:
    """Send one batch if anything in it is still owed; Retry on SMTP failure;
    Defer to the end of the recipient's quiet hours when it is due in them."""
    with transaction.atomic():
        batch = (
            EmailBatch.objects.select_for_update()
            .select_related("recipient")
            .filter(pk=batch_id)
            .first()
        )
        if batch is None or batch.state in (
            EmailBatch.State.SENT,
            EmailBatch.State.SKIPPED,
        ):
            return Done("done")
        account = accounts([batch.recipient_id]).get(batch.recipient_id)
        owed = _still_owed(batch, account)
        if not owed.items:
            batch.state = EmailBatch.State.SKIPPED
            batch.save(update_fields=["state"])
            return Done("skipped")
        if owed.held_until is not None:
            # Still open (PENDING, due later): what arrives meanwhile joins it.
            batch.state = EmailBatch.State.PENDING
            batch.due_at = owed.held_until
            batch.save(update_fields=["state", "due_at"])
            return Defer("held", until=owed.held_until)
        batch.state = EmailBatch.State.SENDING
        batch.attempts += 1
        batch.save(update_fields=["state", "attempts"])
    assert account is not None  # noqa: S101 (items imply a live account)
    email = _compose(batch, account.preferences, owed.items)
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("email batch %s: SMTP failed: %r", batch.pk, error)
        EmailBatch.objects.filter(pk=batch.pk).update(state=EmailBatch.State.PENDING)
        return Retry("retry", attempts=batch.attempts)
    EmailBatch.objects.filter(pk=batch.pk).update(
        state=EmailBatch.State.SENT, sent_at=timezone.now()
    )
    return Done("sent")


def email_batch_abandon(*, batch_id: int) -> None:
    """Stop trying: the batch will not be sent."""
    logger.error("email batch %s abandoned", batch_id)
    EmailBatch.objects.filter(pk=batch_id).update(state=EmailBatch.State.SKIPPED)


@dataclass(frozen=True, slots=True)
class Owed:
    items: list[EmailItem]
    held_until: datetime | None  # the end of the quiet hours we are in


def _still_owed(batch: EmailBatch, account: Account | None) -> Owed:
    """The batch's messages the decision still says to email about now (a
    muted conversation's are left out, whichever message set the batch off)."""
    recipient = batch.recipient
    messages = [
        n.message
        for n in PendingNotification.objects.filter(batch=batch)
        .select_related("message__sender", "message__community")
        .order_by("message_id")
    ]
    if account is None or not messages:
        return Owed([], None)
    members = active_memberships([recipient.pk], {m.community_id for m in messages})
    marks = read_marks([recipient.pk], {m.conversation_id for m in messages})
    names = _participant_names({m.conversation_id for m in messages})
    now = timezone.now()
    items: list[EmailItem] = []
    held_until = None
    for message in messages:
        state = recipient_state(
            account,
            message_id=message.pk,
            member_active=(recipient.pk, message.community_id) in members,
            mark=marks.get((recipient.pk, message.conversation_id)),
        )
        due = decide(state, now=now, email_delay=timedelta(0)).email_at
        if due is None:
            continue
        if due > now:
            held_until = due  # the same quiet hours for every message
        others = [n for uid, n in names[message.conversation_id] if uid != recipient.pk]
        items.append(_item(message, others, account.preferences))
    return Owed(items, held_until)


def _item(message: Message, others: list[str], preferences: Preferences) -> EmailItem:
    return EmailItem(
        conversation_id=message.conversation_id,
        sender=safe_name(message.sender.shown_name),
        community=safe_name(message.community.name, 120),
        participants=", ".join(others),
        text=(
            excerpt(message.body, 2000)
            if shows_text(preferences, message.community)
            else None
        ),
        url=conversation_url(message),
        # In the resident's zone, the one their quiet hours are read in.
        sent_at=timezone.localtime(
            message.sent_at, zone(preferences.time_zone)
        ).strftime("%d/%m %H:%M"),
    )


def _participant_names(conversation_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    result: dict[int, list[tuple[int, str]]] = {cid: [] for cid in conversation_ids}
    rows = Participant.objects.filter(conversation_id__in=conversation_ids).values_list(
        "conversation_id", "user_id", "user__display_name", "user__username"
    )
    for conversation_id, user_id, display_name, username in rows:
        result[conversation_id].append((user_id, safe_name(display_name or username)))
    return result


def _compose(
    batch: EmailBatch, preferences: Preferences, items: list[EmailItem]
) -> EmailMultiAlternatives:
    recipient: User = batch.recipient
    language = preferences.language if preferences.language in SUBJECTS else "fr"
    one, many = SUBJECTS[language]
    subject = (
        one.format(sender=items[0].sender)
        if len(items) == 1
        else many.format(count=len(items))
    )
    unsubscribe_url = (
        f"{settings.SITE_URL}/unsubscribe/{unsubscribe_token(recipient.pk)}/"
    )
    route = reply_route(recipient_id=recipient.pk, items=items)
    context = {
        "recipient": safe_name(recipient.shown_name),
        "items": items,
        "unsubscribe_url": unsubscribe_url,
        "app_url": f"{settings.SITE_URL}/",
        "reply": route,
    }
    with translation.override(language):
        text = render_to_string(f"notifications/email_{language}.txt", context)
        html = render_to_string(f"notifications/email_{language}.html", context)
    domain = site_domain()
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={
            # One list per site, not per community: a batch may span several.
            # Without List-Id, List-Unsubscribe alone costs a SpamAssassin
            # point (LIST_PARTIAL_SHORT_MSG; docs/notifications.md).
            "List-Id": f"Voisins <notifications.{domain}>",
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Message-ID": f"<voisins-batch-{batch.pk}@{domain}>",
        },
    )
    email.attach_alternative(html, "text/html")
    reply_route_apply(email, route)
    return email
