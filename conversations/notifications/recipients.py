"""Reads of what the notification decision needs, in bulk (selectors)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, OuterRef

from ..models import Membership, Participant, PushSubscription, User
from .content import DEFAULT_TIME_ZONE, Preferences, preferences_of
from .decision import QuietHours, RecipientState

logger = logging.getLogger(__name__)


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
        result[user.pk] = Account(
            id=user.pk,
            is_active=user.is_active,
            # A bouncing address is no address: no email until confirmed.
            email="" if user.email_status == User.EmailStatus.BOUNCING else user.email,
            preferences=preferences_of(getattr(user, "notification_preference", None)),
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


@dataclass(frozen=True, slots=True)
class Mark:
    """A participant's own state in a conversation."""

    read_up_to: int
    muted: bool


def read_marks(
    user_ids: Iterable[int], conversation_ids: Iterable[int]
) -> dict[tuple[int, int], Mark]:
    """(user id, conversation id) -> read mark and mute, for the participants
    only."""
    rows = Participant.objects.filter(
        user_id__in=set(user_ids), conversation_id__in=set(conversation_ids)
    ).values_list("user_id", "conversation_id", "last_read_id", "muted")
    return {(uid, cid): Mark(mark, muted) for uid, cid, mark, muted in rows}


def recipient_state(
    account: Account | None,
    *,
    message_id: int,
    member_active: bool,
    mark: Mark | None,
    presence: str | None = None,
) -> RecipientState:
    """The decision's input for one recipient of one message (`mark`: None
    when they are not a participant)."""
    if account is None:  # the account was deleted meanwhile
        return RecipientState(
            message_id, False, False, None, False, False, False, False
        )
    preferences = account.preferences
    return RecipientState(
        message_id=message_id,
        account_active=account.is_active,
        member_active=member_active,
        read_up_to=None if mark is None else mark.read_up_to,
        email_enabled=preferences.email,
        push_enabled=preferences.push,
        has_email=bool(account.email),
        has_push=account.has_push,
        presence=presence,
        muted=mark is not None and mark.muted,
        quiet_hours=quiet_hours(preferences),
    )


def quiet_hours(preferences: Preferences) -> QuietHours | None:
    if preferences.quiet_start is None or preferences.quiet_end is None:
        return None
    return QuietHours(
        preferences.quiet_start, preferences.quiet_end, zone(preferences.time_zone)
    )


def zone(name: str) -> ZoneInfo:
    """The resident's time zone. The API accepts valid names only; a name
    written past it (the admin) falls back to the default rather than stop
    every notification of that resident."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r, using %s", name, DEFAULT_TIME_ZONE)
        return ZoneInfo(DEFAULT_TIME_ZONE)
