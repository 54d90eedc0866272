"""Per-socket ordering of live messages (pure, no I/O).

Layer events can arrive late or out of order (two server processes fanning
out one after the other). Each `message.new` event carries the id of the
conversation's previous message; once the client has synced, the socket
knows what it holds and fills any gap from the database, so that within a
conversation messages reach the client in id order, once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Deliver:
    pass


@dataclass(frozen=True, slots=True)
class Skip:
    pass


@dataclass(frozen=True, slots=True)
class Fill:
    """Fetch and deliver the conversation's messages with after < id <= up_to."""

    after: int
    up_to: int


Decision = Deliver | Skip | Fill


@dataclass(slots=True)
class DeliveryTracker:
    # Highest id such that the client holds every message <= it (from sync);
    # None until the first complete sync: then every event is delivered as is.
    floor: int | None = None
    seen: dict[int, int] = field(default_factory=dict)

    def synced(self, up_to: int) -> None:
        """A sync finished (`more` false): the client holds everything <= up_to."""
        self.floor = up_to if self.floor is None else max(self.floor, up_to)

    def on_event(
        self, conversation: int, message_id: int, previous_id: int
    ) -> Decision:
        """Decide what to do with a live `message.new` for this socket
        (changes nothing: `delivered` records what was sent)."""
        base = self._base(conversation)
        if base is None:
            return Deliver()
        if message_id <= base:
            return Skip()
        if previous_id <= base:
            return Deliver()
        return Fill(after=base, up_to=message_id)

    def on_own_ack(
        self, conversation: int, message_id: int, previous_id: int
    ) -> Fill | None:
        """Before acking our own message: what others sent before it, if missed."""
        base = self._base(conversation)
        if base is None or previous_id <= base:
            return None
        return Fill(after=base, up_to=previous_id)

    def delivered(self, conversation: int, message_id: int) -> None:
        if self.floor is None:
            return
        current = self.seen.get(conversation, self.floor)
        self.seen[conversation] = max(current, message_id)

    def _base(self, conversation: int) -> int | None:
        if self.floor is None:
            return None
        return self.seen.get(conversation, self.floor)


@dataclass(slots=True)
class Carried:
    """Messages from others this socket delivered lately, with when.

    A socket that died silently was still counted online when they were
    committed: if its resident has no active tab left when it closes, the
    ones still unread are owed a notification.
    """

    entries: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=500))

    def add(self, at: float, message_id: int) -> None:
        self.entries.append((at, message_id))

    def since(self, horizon: float) -> list[int]:
        return [message_id for at, message_id in self.entries if at >= horizon]
