"""This process's router: one receiver whatever the sockets opening at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from conversations.router import PROCESS_GROUP, Routed, Router, publish


@dataclass
class Tab:
    user_id: int = 1
    community_id: int = 10
    got: list[dict[str, Any]] = field(default_factory=list)

    async def routed(self, event: dict[str, Any]) -> None:
        self.got.append(event)


@dataclass
class Registry:
    tab: Tab

    def of_user(self, user_id: int) -> list[Tab]:
        return [self.tab] if user_id == self.tab.user_id else []


async def test_sockets_opening_together_start_one_receiver() -> None:
    """Ten sockets open at once: one layer channel joins the group, and an
    event is delivered once."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.flush()
    tab = Tab()
    router = Router(Registry(tab))
    await asyncio.gather(*(router.start() for _ in range(10)))
    assert len(layer.groups.get(PROCESS_GROUP, {})) == 1  # type: ignore[attr-defined]
    await publish([Routed((1,), 10, {"type": "message.new", "id": 7})])
    async with asyncio.timeout(5):
        while not tab.got:
            await asyncio.sleep(0.01)
    await publish([Routed((1,), 10, {"type": "message.new", "id": 8})])
    async with asyncio.timeout(5):
        while len(tab.got) < 2:
            await asyncio.sleep(0.01)
    assert [event["id"] for event in tab.got] == [7, 8]
    await layer.flush()
