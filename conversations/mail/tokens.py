"""The MailToken rows behind reply and bounce addresses.

A reply token names one resident and one conversation; a bounce token names
one resident, for the emails sent since their address last changed or was
confirmed. Tokens are made when an email is composed, and deleted when the
membership ends (suspension, removal), when the account is deactivated or
deleted (cascade) and, for bounce tokens, when the address changes or is
confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from ..models import Community, MailToken, Membership, Participant, User
from .addresses import new_token


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Whom a reply token lets write, and where."""

    user: User
    community: Community
    conversation_id: int


def mail_token_for(*, kind: str, user_id: int, conversation_id: int | None) -> str:
    """The resident's token of this kind (and conversation), made on first use."""
    rows = MailToken.objects.filter(kind=kind, user_id=user_id)
    rows = (
        rows.filter(conversation__isnull=True)
        if conversation_id is None
        else rows.filter(conversation_id=conversation_id)
    )
    # Two workers may both make a bounce token (NULL conversations are never
    # equal for the unique constraint): either works, the oldest is used.
    existing = rows.order_by("pk").values_list("token", flat=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return MailToken.objects.create(
                kind=kind,
                token=new_token(),
                user_id=user_id,
                conversation_id=conversation_id,
            ).token
    except IntegrityError:
        # Another worker made this reply token meanwhile.
        return rows.values_list("token", flat=True).get()


def reply_target(*, token: str) -> ReplyTarget | None:
    """The resident and conversation of a reply token while the resident may
    still write there (active account and membership, a participant); None
    alike for an unknown, revoked or no longer usable token."""
    row = (
        MailToken.objects.filter(kind=MailToken.Kind.REPLY, token=token)
        .select_related("user", "conversation__community")
        .first()
    )
    if row is None or row.conversation is None:
        return None
    user, conversation = row.user, row.conversation
    if not user.is_active or user.erased_at is not None:
        return None
    member = Membership.objects.filter(
        user=user,
        community_id=conversation.community_id,
        status=Membership.Status.ACTIVE,
    ).exists()
    if not member or not (
        Participant.objects.filter(conversation=conversation, user=user).exists()
    ):
        return None
    return ReplyTarget(user, conversation.community, conversation.pk)


def bounce_user_id(*, token: str) -> int | None:
    """The resident a bounce token names, or None."""
    return (
        MailToken.objects.filter(kind=MailToken.Kind.BOUNCE, token=token)
        .values_list("user_id", flat=True)
        .first()
    )


def mail_tokens_revoke(*, user_id: int, community_id: int | None = None) -> None:
    """Reply addresses stop working at once: the resident's reply tokens in a
    community, or every token of the resident when `community_id` is None
    (a deactivated or erased account)."""
    tokens = MailToken.objects.filter(user_id=user_id)
    if community_id is not None:
        tokens = tokens.filter(
            kind=MailToken.Kind.REPLY, conversation__community_id=community_id
        )
    tokens.delete()


def bounce_token_revoke(*, user_id: int) -> None:
    """Bounces of the emails sent so far no longer count (the address changed
    or was confirmed): a notice still on its way must not undo that."""
    MailToken.objects.filter(kind=MailToken.Kind.BOUNCE, user_id=user_id).delete()
