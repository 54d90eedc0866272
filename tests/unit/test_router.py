"""The router hands each event to exactly the sockets it is for (no layer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conversations.router import Routed, deliver, envelope


@dataclass
class FakeSocket:
    user_id: int
    community_id: int
    got: list[dict[str, Any]] = field(default_factory=list)

    async def routed(self, event: dict[str, Any]) -> None:
        self.got.append(event)


@dataclass
class FakeRegistry:
    sockets: list[FakeSocket]

    def of_user(self, user_id: int) -> list[FakeSocket]:
        return [s for s in self.sockets if s.user_id == user_id]


async def test_an_event_reaches_the_chosen_residents_in_its_community_only() -> None:
    alice_here, alice_there = FakeSocket(1, 10), FakeSocket(1, 20)
    bob, mallory = FakeSocket(2, 10), FakeSocket(3, 10)
    registry = FakeRegistry([alice_here, alice_there, bob, mallory])
    event = {"type": "message.new", "id": 5}
    await deliver(registry, envelope([Routed((1, 2), 10, event)]))
    assert alice_here.got == [event]
    assert bob.got == [event]
    assert alice_there.got == []
    assert mallory.got == []


async def test_an_access_change_reaches_every_community_of_the_resident() -> None:
    here, there, other = FakeSocket(1, 10), FakeSocket(1, 20), FakeSocket(2, 10)
    event = {"type": "access.revoked", "at": 0.0}
    await deliver(
        FakeRegistry([here, there, other]), envelope([Routed((1,), None, event)])
    )
    assert here.got == [event]
    assert there.got == [event]
    assert other.got == []


async def test_a_batch_is_delivered_in_order() -> None:
    socket = FakeSocket(1, 10)
    items = [Routed((1,), 10, {"type": "message.new", "id": n}) for n in range(5)]
    await deliver(FakeRegistry([socket]), envelope(items))
    assert [e["id"] for e in socket.got] == [0, 1, 2, 3, 4]


def test_the_envelope_holds_plain_values_only() -> None:
    """What crosses the layer (msgpack with channels-redis) is plain data."""
    message = envelope([Routed((1, 2), 10, {"type": "typing", "user": "alice"})])
    assert message == {
        "type": "route",
        "items": [
            {
                "users": [1, 2],
                "community": 10,
                "event": {"type": "typing", "user": "alice"},
            }
        ],
    }
