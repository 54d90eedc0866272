"""The notification decision, pure: one answer for send time, a dropped
socket and the job."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conversations.notifications.decision import (
    NOTHING,
    Decision,
    RecipientState,
    decide,
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
