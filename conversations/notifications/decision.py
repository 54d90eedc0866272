"""Should this resident be notified of this message, and how? (pure)

One answer for the three moments that ask: when the message is committed
(presence read just before), when a socket drops right after live delivery,
and when the job runs (the state read again from the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window of the resident's wall clock, from `start` (included)
    to `end` (excluded), across midnight when `end` comes before `start`."""

    start: time
    end: time
    zone: tzinfo  # a zoneinfo.ZoneInfo


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
    muted: bool = False  # the resident muted the message's conversation
    quiet_hours: QuietHours | None = None


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
    """The notification this recipient is owed for this message, now.

    During quiet hours nothing is pushed, then or later; an email that would
    fall due during them is due at their end instead (a caller at job time,
    with no delay, sees a time after `now`: hold the email until then)."""
    if not state.account_active or not state.member_active:
        return NOTHING  # they may no longer see the message at all
    if state.read_up_to is None or state.read_up_to >= state.message_id:
        return NOTHING  # not theirs, or already read
    if state.muted:
        return NOTHING  # live delivery only, as the resident asked
    if state.presence == ACTIVE:
        return NOTHING  # a tab in use shows it live
    email_at = None
    if state.email_enabled and state.has_email:
        due = now + email_delay
        email_at = quiet_until(state.quiet_hours, due) or due
    return Decision(
        push=state.push_enabled
        and state.has_push
        and quiet_until(state.quiet_hours, now) is None,
        email_at=email_at,
    )


def quiet_until(quiet: QuietHours | None, moment: datetime) -> datetime | None:
    """The end of the quiet hours `moment` falls in (UTC), or None outside.

    Each day's window is its start and end wall-clock times turned into
    instants in the resident's zone, so a window spanning a daylight-saving
    change lasts an hour more or less, as the wall clock says. An empty
    window (start == end) is no quiet hours at all."""
    if quiet is None or quiet.start == quiet.end:
        return None
    today = moment.astimezone(quiet.zone).date()
    # The window that started yesterday may still run today (across midnight,
    # or a day whose clock changed); one starting tomorrow has not begun.
    for first_day in (today - timedelta(days=1), today):
        last_day = first_day + timedelta(days=1 if quiet.end < quiet.start else 0)
        begins = _instant(first_day, quiet.start, quiet.zone)
        ends = _instant(last_day, quiet.end, quiet.zone)
        if begins <= moment < ends:
            return ends
    return None


def _instant(day: date, clock: time, zone: tzinfo) -> datetime:
    """A wall-clock time of a day in `zone`, as a UTC instant.

    fold=0 (PEP 495): a time shown twice when clocks go back is its first
    occurrence; a time skipped when they go forward is read with the offset
    in force before the change (02:30 on the spring night in Paris is 03:30
    summer time). UTC, because comparing two datetimes of the same tzinfo
    compares wall times and ignores the fold."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def retry_delay(*, attempts: int, hint: int = 0, cap: int = 600) -> int:
    """Seconds before the next attempt: exponential, capped, at least what
    the other side asked for (Retry-After)."""
    return max(hint, min(2**attempts, cap))
