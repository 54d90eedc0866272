"""Wire helpers: timestamps, group names, participant keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from conversations.services.send import participant_key
from conversations.wire.frames import format_timestamp


def test_timestamp_is_utc_with_milliseconds_and_z() -> None:
    """A UTC moment renders as YYYY-MM-DDTHH:MM:SS.mmmZ."""
    moment = datetime(2026, 11, 26, 9, 14, 3, 512_345, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-26T09:14:03.512Z"


def test_timestamp_converts_other_zones_to_utc() -> None:
    """A Paris time is shown in UTC (one hour earlier in winter)."""
    moment = datetime(2026, 11, 26, 10, 14, 3, 5_000, tzinfo=ZoneInfo("Europe/Paris"))
    assert format_timestamp(moment) == "2026-11-26T09:14:03.005Z"


def test_timestamp_pads_and_truncates_milliseconds() -> None:
    """Milliseconds always have three digits and are truncated, not rounded."""
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000Z"
    )
    moment = datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-01-02T03:04:05.999Z"


def test_timestamp_crosses_the_date_line() -> None:
    """A time just after midnight in UTC+2 is the previous day in UTC."""
    moment = datetime(2026, 7, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2026-06-30T22:30:00.000Z"


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001 (bounds of a naive strategy)
        max_value=datetime(9999, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_timestamp_round_trips(moment: datetime) -> None:
    """Parsing the rendered text gives the moment truncated to milliseconds."""
    text = format_timestamp(moment)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_participant_key_ignores_order_and_duplicates() -> None:
    """The same set in any order, with repeats, gives the same key."""
    assert participant_key([3, 1, 2]) == participant_key([1, 2, 3, 3, 1])


def test_participant_key_differs_between_sets() -> None:
    """Different sets give different keys, including prefix-like sets."""
    keys = {
        participant_key(ids) for ids in ([1, 2], [1, 2, 3], [1, 23], [12, 3], [2, 3])
    }
    assert len(keys) == 5


@given(st.lists(st.integers(min_value=1, max_value=2**62), min_size=2, max_size=60))
def test_participant_key_has_fixed_length(user_ids: list[int]) -> None:
    """The key fits the 64-character column whatever the set size."""
    key = participant_key(user_ids)
    assert len(key) == 64
    assert key == participant_key(list(reversed(user_ids)))
