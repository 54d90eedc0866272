"""DeliveryTracker: per-socket decisions that keep a conversation in id order."""

from __future__ import annotations

from conversations.delivery import Deliver, DeliveryTracker, Fill, Skip


def synced_tracker(up_to: int) -> DeliveryTracker:
    tracker = DeliveryTracker()
    tracker.synced(up_to)
    return tracker


def test_before_first_sync_every_event_is_delivered() -> None:
    """Until a sync completes the socket knows nothing: deliver as is."""
    tracker = DeliveryTracker()
    assert tracker.on_event(1, 50, 10) == Deliver()
    tracker.delivered(1, 50)
    assert tracker.on_event(1, 50, 10) == Deliver()
    assert tracker.on_event(1, 5, 0) == Deliver()


def test_before_first_sync_own_ack_needs_no_fill() -> None:
    """Before a sync, acking one's own message fetches nothing."""
    assert DeliveryTracker().on_own_ack(1, 50, 40) is None


def test_next_message_after_sync_is_delivered() -> None:
    """An event whose predecessor the client holds is delivered."""
    tracker = synced_tracker(10)
    assert tracker.on_event(1, 11, 10) == Deliver()
    assert tracker.on_event(1, 11, 3) == Deliver()


def test_message_the_client_already_holds_is_skipped() -> None:
    """An event at or below what the client holds is a duplicate."""
    tracker = synced_tracker(10)
    assert tracker.on_event(1, 10, 9) == Skip()
    assert tracker.on_event(1, 4, 0) == Skip()


def test_delivered_message_is_skipped_when_it_arrives_again() -> None:
    """A message delivered once is not delivered twice."""
    tracker = synced_tracker(10)
    assert tracker.on_event(1, 12, 10) == Deliver()
    tracker.delivered(1, 12)
    assert tracker.on_event(1, 12, 10) == Skip()


def test_gap_is_filled_from_what_the_client_holds() -> None:
    """An event whose predecessor is missing asks for the gap, inclusive."""
    tracker = synced_tracker(10)
    tracker.delivered(1, 12)
    assert tracker.on_event(1, 20, 15) == Fill(after=12, up_to=20)


def test_late_event_after_a_fill_is_skipped() -> None:
    """Once a fill delivered up to N, a late event for an id <= N is skipped."""
    tracker = synced_tracker(10)
    decision = tracker.on_event(1, 20, 15)
    assert decision == Fill(after=10, up_to=20)
    for message_id in (15, 20):
        tracker.delivered(1, message_id)
    assert tracker.on_event(1, 15, 10) == Skip()


def test_conversations_are_tracked_separately() -> None:
    """Delivering in one conversation does not hide another's messages."""
    tracker = synced_tracker(10)
    tracker.delivered(1, 30)
    assert tracker.on_event(2, 25, 10) == Deliver()
    assert tracker.on_event(2, 25, 20) == Fill(after=10, up_to=25)


def test_later_sync_raises_the_floor_but_never_lowers_it() -> None:
    """A second sync with a smaller id does not reopen delivered ranges."""
    tracker = synced_tracker(30)
    tracker.synced(5)
    assert tracker.on_event(1, 20, 10) == Skip()
    tracker.synced(40)
    assert tracker.on_event(1, 35, 30) == Skip()


def test_own_ack_fills_messages_others_sent_before_it() -> None:
    """Acking our message N whose predecessor P we lack fetches (held, P]."""
    tracker = synced_tracker(10)
    assert tracker.on_own_ack(1, 20, 15) == Fill(after=10, up_to=15)


def test_own_ack_needs_no_fill_when_predecessor_is_held() -> None:
    """No fill when the client already holds the previous message."""
    tracker = synced_tracker(10)
    assert tracker.on_own_ack(1, 11, 10) is None
    assert tracker.on_own_ack(1, 11, 0) is None


def test_own_message_is_not_redelivered_after_its_ack() -> None:
    """After the ack marks it delivered, the own message's event is skipped."""
    tracker = synced_tracker(10)
    tracker.delivered(1, 11)
    assert tracker.on_event(1, 11, 10) == Skip()


def test_delivered_before_sync_is_not_remembered() -> None:
    """Deliveries before the first sync do not count: sync is the reference."""
    tracker = DeliveryTracker()
    tracker.delivered(1, 50)
    tracker.synced(10)
    assert tracker.on_event(1, 12, 11) == Fill(after=10, up_to=12)
