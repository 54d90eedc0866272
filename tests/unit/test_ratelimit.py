"""TokenBucket: a burst, then a steady rate."""

from __future__ import annotations

import pytest

from conversations.ratelimit import TokenBucket


def test_burst_is_allowed_then_refused() -> None:
    """A full bucket allows `burst` calls at once, then refuses."""
    bucket = TokenBucket(rate=1.0, burst=3)
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate() -> None:
    """After draining, one token returns every 1/rate seconds."""
    bucket = TokenBucket(rate=2.0, burst=2)
    assert bucket.allow(0.0)
    assert bucket.allow(0.0)
    assert not bucket.allow(0.2)
    assert bucket.allow(0.6)
    assert not bucket.allow(0.6)


def test_refill_is_capped_at_burst() -> None:
    """A long pause refills the bucket to `burst`, not beyond."""
    bucket = TokenBucket(rate=10.0, burst=2)
    bucket.allow(0.0)
    allowed = [bucket.allow(1000.0) for _ in range(3)]
    assert allowed == [True, True, False]


def test_refused_calls_do_not_consume() -> None:
    """Calls refused while empty do not push the next token further away."""
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.allow(0.0)
    for moment in (0.1, 0.2, 0.5, 0.9):
        assert not bucket.allow(moment)
    assert bucket.allow(1.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.5, 1), (10.0, 30)])
def test_sustained_rate_matches_configuration(rate: float, burst: int) -> None:
    """Over a long run the allowed count is about burst + rate * duration."""
    bucket = TokenBucket(rate=rate, burst=burst)
    allowed = sum(bucket.allow(step * 0.01) for step in range(10_000))
    expected = burst + rate * 100
    assert expected - 2 <= allowed <= expected + 1
