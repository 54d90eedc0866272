"""Should this resident be notified of this message, and how? (pure)

One answer for the three moments that ask: when the message is committed
(presence read just before), when a socket drops right after live delivery,
and when the job runs (the state read again from the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class RecipientState:
    """What is known of one recipient of one message at one moment."""

    message_id: int
    account_active: bool
    member_active: bool  # an active membership in the message's community
    read_up_to: int | None  # their read mark; None: not a participant
    email_enabled: bool
    push_enabled: bool
    has_email: bool  # an address to write to
    has_push: bool  # at least one browser subscribed
    # "active", "idle" or None (no socket there). When the job runs presence
    # is not consulted: None.
    presence: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Push now, email at a time, both, or nothing."""

    push: bool = False
    email_at: datetime | None = None

    @property
    def nothing(self) -> bool:
        return not self.push and self.email_at is None


NOTHING = Decision()


def decide(state: RecipientState, *, now: datetime, email_delay: timedelta) -> Decision:
    """The notification this recipient is owed for this message, now."""
    if not state.account_active or not state.member_active:
        return NOTHING  # they may no longer see the message at all
    if state.read_up_to is None or state.read_up_to >= state.message_id:
        return NOTHING  # not theirs, or already read
    if state.presence == ACTIVE:
        return NOTHING  # a tab in use shows it live
    return Decision(
        push=state.push_enabled and state.has_push,
        email_at=now + email_delay if state.email_enabled and state.has_email else None,
    )


def retry_delay(*, attempts: int, hint: int = 0, cap: int = 600) -> int:
    """Seconds before the next attempt: exponential, capped, at least what
    the other side asked for (Retry-After)."""
    return max(hint, min(2**attempts, cap))
