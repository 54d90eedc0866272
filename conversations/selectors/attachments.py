"""Reads of attachments: who may fetch one, which uploads a send may use."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..errors import NotFound
from ..models import Attachment, Membership, Participant
from ..wire.limits import MAX_ID

# An upload that no message used within this time is deleted
# (services.attachments.attachments_sweep) and can no longer be sent.
UNUSED_UPLOAD_LIFETIME = timedelta(hours=24)


def attachment_get_for_user(*, user_id: int, attachment_id: int) -> Attachment:
    """The attachment if this resident may fetch it; else NotFound, the
    same for a missing id and for someone else's.

    Allowed: an active member of the attachment's community who is either
    a participant of its message's conversation (the message not deleted),
    or, while no message uses it, its uploader.
    """
    if not 1 <= attachment_id <= MAX_ID:
        raise NotFound("No such attachment.")
    active_member = Membership.objects.filter(
        user_id=user_id,
        community_id=OuterRef("community_id"),
        status=Membership.Status.ACTIVE,
    )
    participant = Participant.objects.filter(
        user_id=user_id, conversation_id=OuterRef("message__conversation_id")
    )
    row = (
        Attachment.objects.filter(Exists(active_member), pk=attachment_id)
        .filter(
            Q(message__isnull=True, uploader_id=user_id)
            | Q(Exists(participant), message__deleted=False)
        )
        .first()
    )
    if row is None:
        raise NotFound("No such attachment.")
    return row


def attachments_claimable(
    *, user_id: int, community_id: int, ids: Collection[int]
) -> list[Attachment]:
    """The resident's own unused uploads among `ids` in this community, by
    id, for the send path.

    An id that is missing, someone else's, already used by a message, from
    another community or older than UNUSED_UPLOAD_LIFETIME is simply not
    in the result: the caller compares it with `ids` and answers
    `bad_attachment`. Nothing is locked: to attach, the send transaction
    must claim the rows with a conditional update,
    `Attachment.objects.filter(pk__in=ids, message__isnull=True)
    .update(message=...)`, and refuse the send when fewer rows changed, so
    that two sends racing for one upload cannot both get it (and the sweep,
    which deletes only rows still unused, cannot take a claimed one).
    """
    wanted = {i for i in ids if 1 <= i <= MAX_ID}
    if not wanted:
        return []
    return list(
        Attachment.objects.filter(
            pk__in=wanted,
            uploader_id=user_id,
            community_id=community_id,
            message__isnull=True,
            created_at__gt=timezone.now() - UNUSED_UPLOAD_LIFETIME,
        ).order_by("pk")
    )
