"""The notification decision, pure: one answer for send time, a dropped
socket and the job."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conversations.notifications.decision import (
    NOTHING,
    Decision,
    QuietHours,
    RecipientState,
    decide,
    quiet_until,
    retry_delay,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DELAY = timedelta(seconds=120)
OWED = RecipientState(
    message_id=10,
    account_active=True,
    member_active=True,
    read_up_to=5,
    email_enabled=True,
    push_enabled=True,
    has_email=True,
    has_push=True,
    presence=None,
)


def test_offline_recipient_gets_a_push_now_and_an_email_later() -> None:
    assert decide(OWED, now=NOW, email_delay=DELAY) == Decision(
        push=True, email_at=NOW + DELAY
    )


def test_idle_tabs_count_as_away() -> None:
    away = replace(OWED, presence="idle")
    assert decide(away, now=NOW, email_delay=DELAY) == Decision(True, NOW + DELAY)


@pytest.mark.parametrize(
    "change",
    [
        {"presence": "active"},
        {"read_up_to": 10},
        {"read_up_to": 11},
        {"read_up_to": None},
        {"member_active": False},
        {"account_active": False},
    ],
)
def test_nothing_is_owed(change: dict[str, object]) -> None:
    """Active tab, read, not a participant, suspended or deactivated."""
    state = replace(OWED, **change)  # type: ignore[arg-type]
    assert decide(state, now=NOW, email_delay=DELAY) == NOTHING


def test_email_off_leaves_the_push_and_no_subscription_leaves_the_email() -> None:
    no_email = replace(OWED, email_enabled=False)
    assert decide(no_email, now=NOW, email_delay=DELAY) == Decision(push=True)
    no_push = replace(OWED, has_push=False)
    assert decide(no_push, now=NOW, email_delay=DELAY) == Decision(email_at=NOW + DELAY)


def test_no_address_no_email() -> None:
    state = replace(OWED, has_email=False, has_push=False)
    assert decide(state, now=NOW, email_delay=DELAY).nothing


def test_retry_delay_grows_caps_and_honours_retry_after() -> None:
    assert [retry_delay(attempts=n) for n in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(attempts=30) == 600
    assert retry_delay(attempts=1, hint=90) == 90


# Push and email preferences are independent; mute silences both.


def test_push_off_leaves_the_email_and_email_off_leaves_the_push() -> None:
    """`push: false` never silences emails, `email: false` never pushes."""
    no_push = replace(OWED, push_enabled=False)
    assert decide(no_push, now=NOW, email_delay=DELAY) == Decision(
        push=False, email_at=NOW + DELAY
    )
    no_email = replace(OWED, email_enabled=False)
    assert decide(no_email, now=NOW, email_delay=DELAY) == Decision(push=True)


def test_a_muted_conversation_owes_nothing() -> None:
    """Muted: neither push nor email, even offline and unread."""
    assert decide(replace(OWED, muted=True), now=NOW, email_delay=DELAY) == NOTHING


# Quiet hours.

PARIS = ZoneInfo("Europe/Paris")
NIGHT = QuietHours(time(22, 0), time(7, 0), PARIS)


def paris(*args: int, fold: int = 0) -> datetime:
    """A Paris wall-clock time as a UTC instant."""
    return datetime(*args, tzinfo=PARIS, fold=fold).astimezone(UTC)  # type: ignore[misc]


def at(moment: datetime, quiet: QuietHours = NIGHT) -> Decision:
    return decide(replace(OWED, quiet_hours=quiet), now=moment, email_delay=DELAY)


def test_during_quiet_hours_no_push_and_the_email_waits_for_their_end() -> None:
    """23:00 in Paris with quiet hours 22:00-07:00: no push; the email is due
    at 07:00 the next morning."""
    assert at(paris(2026, 12, 1, 23, 0)) == Decision(
        push=False, email_at=paris(2026, 12, 2, 7, 0)
    )


def test_after_midnight_the_window_that_began_yesterday_still_holds() -> None:
    """03:00 is inside 22:00-07:00: the end is 07:00 the same day."""
    assert at(paris(2026, 12, 2, 3, 0)) == Decision(
        push=False, email_at=paris(2026, 12, 2, 7, 0)
    )


def test_an_email_falling_due_in_quiet_hours_moves_to_their_end() -> None:
    """21:59 is not quiet (push now), but the email due at 22:01 is held."""
    assert at(paris(2026, 12, 1, 21, 59)) == Decision(
        push=True, email_at=paris(2026, 12, 2, 7, 0)
    )


def test_the_end_of_quiet_hours_is_not_quiet() -> None:
    """At 07:00 sharp pushes resume and emails keep their normal delay; just
    before, the email is due at 07:00."""
    assert at(paris(2026, 12, 2, 7, 0)) == Decision(
        push=True, email_at=paris(2026, 12, 2, 7, 0) + DELAY
    )
    late = paris(2026, 12, 2, 6, 59)
    assert at(late) == Decision(push=False, email_at=late + DELAY)


def test_daytime_quiet_hours_do_not_wrap() -> None:
    """12:00-14:00: quiet at 13:00 only until 14:00; free at 15:00 and 11:00."""
    lunch = QuietHours(time(12, 0), time(14, 0), PARIS)
    assert at(paris(2026, 12, 1, 13, 0), lunch) == Decision(
        email_at=paris(2026, 12, 1, 14, 0)
    )
    for hour in (11, 15):
        assert at(paris(2026, 12, 1, hour, 0), lunch).push


def test_an_empty_window_is_no_quiet_hours() -> None:
    """start == end (refused by the API) reads as no quiet hours."""
    empty = QuietHours(time(8, 0), time(8, 0), PARIS)
    for hour in (7, 8, 9):
        assert quiet_until(empty, paris(2026, 12, 1, hour, 0)) is None


def test_quiet_hours_on_the_spring_forward_night_last_one_real_hour() -> None:
    """29 March 2026, Paris: 02:00 CET becomes 03:00 CEST. Quiet hours
    01:30-03:30 run from 00:30 to 01:30 UTC (one hour, not two)."""
    quiet = QuietHours(time(1, 30), time(3, 30), PARIS)
    end = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert end == paris(2026, 3, 29, 3, 30)
    for inside in ("00:30", "00:59", "01:00", "01:29"):
        moment = datetime.fromisoformat(f"2026-03-29T{inside}:00+00:00")
        assert quiet_until(quiet, moment) == end, inside
        assert not at(moment, quiet).push
    assert quiet_until(quiet, end) is None
    assert at(end, quiet).push
    assert quiet_until(quiet, datetime(2026, 3, 29, 0, 29, tzinfo=UTC)) is None


def test_an_email_held_over_the_spring_change_is_due_at_the_wall_clock_end() -> None:
    """At 01:15 UTC (03:15 CEST) the email is due at 03:30 CEST, 01:30 UTC,
    not two hours after the 01:30 CET start."""
    quiet = QuietHours(time(1, 30), time(3, 30), PARIS)
    moment = datetime(2026, 3, 29, 1, 15, tzinfo=UTC)
    assert at(moment, quiet).email_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_quiet_hours_across_the_autumn_change_last_ten_real_hours() -> None:
    """25 October 2026, Paris: 03:00 CEST becomes 02:00 CET. 22:00-07:00
    runs from 20:00 UTC on the 24th to 06:00 UTC on the 25th."""
    begins = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)
    ends = datetime(2026, 10, 25, 6, 0, tzinfo=UTC)
    assert (begins, ends) == (paris(2026, 10, 24, 22, 0), paris(2026, 10, 25, 7, 0))
    moments = [
        begins,
        paris(2026, 10, 25, 2, 30, fold=0),  # the first 02:30 (summer time)
        paris(2026, 10, 25, 2, 30, fold=1),  # the second 02:30 (winter time)
        datetime(2026, 10, 25, 5, 30, tzinfo=UTC),  # 06:30 CET
        ends - timedelta(seconds=1),
    ]
    for moment in moments:
        assert quiet_until(NIGHT, moment) == ends, moment
        assert not at(moment).push
    assert at(moments[-2]).email_at == ends  # not 05:00 UTC (start + 9 hours)
    assert quiet_until(NIGHT, ends) is None
    assert quiet_until(NIGHT, begins - timedelta(seconds=1)) is None


def test_a_start_skipped_by_the_spring_change_counts_from_summer_time() -> None:
    """02:30 does not exist on 29 March 2026 in Paris: read with the winter
    offset it is 03:30 summer time, so 02:30-05:00 starts at 01:30 UTC."""
    quiet = QuietHours(time(2, 30), time(5, 0), PARIS)
    assert quiet_until(quiet, datetime(2026, 3, 29, 1, 29, tzinfo=UTC)) is None
    assert quiet_until(quiet, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == datetime(
        2026, 3, 29, 3, 0, tzinfo=UTC
    )


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    start=st.times(),
    end=st.times(),
    name=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]),
)
def test_quiet_until_matches_the_wall_clock(
    moment: datetime, start: time, end: time, name: str
) -> None:
    """Away from clock changes, `moment` is quiet exactly when its wall-clock
    time is in [start, end) (wrapping at midnight), and the answer is the
    next wall-clock `end`, at most a day later."""
    zone = ZoneInfo(name)
    local = moment.astimezone(zone)
    assume(local.utcoffset() == (local + timedelta(days=1)).utcoffset())
    assume(local.utcoffset() == (local - timedelta(days=1)).utcoffset())
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start <= end else clock >= start or clock < end
    until = quiet_until(QuietHours(start, end, zone), moment)
    assert (until is not None) == (inside and start != end)
    if until is not None:
        assert moment < until <= moment + timedelta(days=1)
        assert until.astimezone(zone).time() == end
