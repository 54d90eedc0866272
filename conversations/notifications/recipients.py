"""Reads of what the notification decision needs, in bulk (selectors)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from ..models import Membership, Participant, PushSubscription, User
from .content import Preferences
from .decision import RecipientState


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    is_active: bool
    email: str
    preferences: Preferences
    has_push: bool


def accounts(user_ids: Iterable[int]) -> dict[int, Account]:
    """The residents' accounts and preferences, in one query."""
    rows = (
        User.objects.filter(pk__in=set(user_ids))
        .select_related("notification_preference")
        .annotate(
            has_push=Exists(PushSubscription.objects.filter(user_id=OuterRef("pk")))
        )
    )
    result: dict[int, Account] = {}
    for user in rows:
        row = getattr(user, "notification_preference", None)
        preferences = (
            Preferences(row.email, row.email_include_text, row.language)
            if row is not None
            else Preferences(email=True, email_include_text=True, language="fr")
        )
        result[user.pk] = Account(
            id=user.pk,
            is_active=user.is_active,
            email="" if user.email_status == User.EmailStatus.BOUNCING else user.email,
            preferences=preferences,
            has_push=bool(user.has_push),
        )
    return result


def active_memberships(
    user_ids: Iterable[int], community_ids: Iterable[int]
) -> set[tuple[int, int]]:
    """(user id, community id) pairs with an active membership."""
    return set(
        Membership.objects.filter(
            user_id__in=set(user_ids),
            community_id__in=set(community_ids),
            status=Membership.Status.ACTIVE,
        ).values_list("user_id", "community_id")
    )


def read_marks(
    user_ids: Iterable[int], conversation_ids: Iterable[int]
) -> dict[tuple[int, int], int]:
    """(user id, conversation id) -> read mark, for the participants only."""
    rows = Participant.objects.filter(
        user_id__in=set(user_ids), conversation_id__in=set(conversation_ids)
    ).values_list("user_id", "conversation_id", "last_read_id")
    return {(uid, cid): mark for uid, cid, mark in rows}


def recipient_state(
    account: Account | None,
    *,
    message_id: int,
    member_active: bool,
    read_up_to: int | None,
    presence: str | None = None,
) -> RecipientState:
    """The decision's input for one recipient of one message."""
    if account is None:  # the account was deleted meanwhile
        return RecipientState(
            message_id, False, False, None, False, False, False, False
        )
    preferences = account.preferences
    return RecipientState(
        message_id=message_id,
        account_active=account.is_active,
        member_active=member_active,
        read_up_to=read_up_to,
        email_enabled=preferences.email,
        # Pushes follow the email preference until residents can choose them
        # on their own.
        push_enabled=preferences.email,
        has_email=bool(account.email),
        has_push=account.has_push,
        presence=presence,
    )
