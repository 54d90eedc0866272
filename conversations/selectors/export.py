"""The resident's data as one JSON document (GET /api/me/export/,
declared as `ExportDocument` in wire/schema.py).

Written piece by piece: the small parts at once, then each conversation
with its messages read in pages by id, so that memory stays flat however
many messages there are (each page is one query for the messages, one for
their attachments when some have any). Only what is the resident's: their
account, and the conversations they take part in; of other residents only
their usernames, as every message object shows them. Messages are in
their current state (edited bodies; deleted ones as tombstones), and
attachments as links to the access-checked files.

Rows written while the document is being read may or may not be in it:
each page is its own query.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any

from django.utils import timezone

from ..models import (
    AccountEvent,
    Attachment,
    Block,
    Membership,
    Message,
    Participant,
    PushSubscription,
    User,
)
from ..services.preferences import preferences_get
from ..wire.frames import format_timestamp
from ..wire.resident import (
    AccountEventObject,
    ExportAccount,
    ExportBlock,
    ExportMembership,
    ExportPushSubscription,
)
from ..wire.schema import AttachmentObject
from .messages import attachment_object, attachments_by_message, message_object

EXPORT_FORMAT = "voisins-export/1"
MESSAGE_PAGE = 500
CONVERSATION_PAGE = 200


def export_filename(*, username: str, at: str) -> str:
    return f"voisins-{username}-{at[:10]}.json"


def export_document(*, user_id: int) -> Generator[str, None, None]:
    """The JSON text of the resident's export, in pieces (valid JSON once
    joined)."""
    user = User.objects.get(pk=user_id)
    head: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": format_timestamp(timezone.now()),
        "account": _account(user),
        "memberships": _memberships(user_id),
        "preferences": preferences_get(user=user),
        "push_subscriptions": _push_subscriptions(user_id),
        "blocks": _blocks(user_id),
        "account_events": _account_events(user_id),
        "uploads": _uploads(user_id),
    }
    yield _dumps(head)[:-1] + ', "conversations": ['
    for index, conversation in enumerate(_conversations(user_id)):
        yield ("," if index else "") + "\n"
        yield from _conversation(conversation)
    yield "\n]}\n"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _account(user: User) -> ExportAccount:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "email_status": user.email_status,  # type: ignore[typeddict-item]
        "date_joined": format_timestamp(user.date_joined),
        "last_login": format_timestamp(user.last_login) if user.last_login else None,
    }


def _memberships(user_id: int) -> list[ExportMembership]:
    rows = (
        Membership.objects.filter(user_id=user_id)
        .select_related("community")
        .order_by("created_at", "pk")
    )
    return [
        {
            "community": row.community.slug,
            "name": row.community.name,
            "status": row.status,  # type: ignore[typeddict-item]
            "since": format_timestamp(row.created_at),
        }
        for row in rows
    ]


def _push_subscriptions(user_id: int) -> list[ExportPushSubscription]:
    rows = PushSubscription.objects.filter(user_id=user_id).order_by("pk")
    return [
        {"endpoint": row.endpoint, "created_at": format_timestamp(row.created_at)}
        for row in rows
    ]


def _blocks(user_id: int) -> list[ExportBlock]:
    rows = (
        Block.objects.filter(blocker_id=user_id)
        .order_by("pk")
        .values_list("blocked__username", "created_at")
    )
    return [
        {"username": username, "created_at": format_timestamp(created_at)}
        for username, created_at in rows
    ]


def _account_events(user_id: int) -> list[AccountEventObject]:
    rows = AccountEvent.objects.filter(user_id=user_id).order_by("created_at", "pk")
    return [
        {
            "kind": row.kind,  # type: ignore[typeddict-item]
            "actor": row.actor,
            "detail": row.detail,
            "created_at": format_timestamp(row.created_at),
        }
        for row in rows
    ]


def _uploads(user_id: int) -> list[AttachmentObject]:
    """Uploads not sent yet (deleted after 24 hours if never sent)."""
    rows = Attachment.objects.filter(uploader_id=user_id, message__isnull=True)
    return [attachment_object(row) for row in rows.order_by("pk")]


def _conversations(user_id: int) -> Iterator[Participant]:
    """The resident's participations, by conversation id, in pages."""
    after = 0
    while True:
        page = list(
            Participant.objects.filter(user_id=user_id, conversation_id__gt=after)
            .select_related("conversation__community")
            .order_by("conversation_id")[:CONVERSATION_PAGE]
        )
        yield from page
        if len(page) < CONVERSATION_PAGE:
            return
        after = page[-1].conversation_id


def _conversation(mine: Participant) -> Iterator[str]:
    """One conversation's object, its messages ascending by id."""
    conversation = mine.conversation
    participants = sorted(
        Participant.objects.filter(conversation=conversation).values_list(
            "user__username", flat=True
        )
    )
    head = {
        "id": conversation.pk,
        "community": conversation.community.slug,
        "participants": participants,
        "muted": mine.muted,
        "read_up_to": mine.last_read_id,
    }
    yield _dumps(head)[:-1] + ', "messages": ['
    slug = conversation.community.slug
    after, first = 0, True
    while True:
        page = list(
            Message.objects.filter(conversation=conversation, pk__gt=after)
            .select_related("sender")
            .order_by("pk")[:MESSAGE_PAGE]
        )
        attachments = attachments_by_message(
            m.pk for m in page if m.attachment_count and not m.deleted
        )
        for message in page:
            payload = message_object(
                message,
                participants=participants,
                community_slug=slug,
                attachments=attachments.get(message.pk),
            )
            yield ("" if first else ",") + "\n" + _dumps(payload)
            first = False
        if len(page) < MESSAGE_PAGE:
            break
        after = page[-1].pk
    yield "]}"
