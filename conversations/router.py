"""One delivery per event per server process, then straight to its sockets.

Channels' usual shape (one layer group per resident, one layer channel per
socket) costs a layer call per recipient group and, with channels-redis, a
Redis round trip per socket per event on the receiving side. Here each
process has one layer channel in one group, PROCESS_GROUP: a committed batch
of events is one `group_send`, each process receives it once and hands each
event to its own open sockets of the chosen residents (`sockets.py`), in
order. The service still chooses exactly which residents an event is for:
that choice is the privacy boundary; a process only delivers to sockets of
those residents in the named community.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from channels.layers import get_channel_layer

from . import metrics

logger = logging.getLogger(__name__)

PROCESS_GROUP = "voisins.processes"
_MAX_BACKOFF = 2.0


def router_layer() -> Any:
    """The layer events travel on: the `router` alias (Redis pub/sub, see
    the settings) when configured, else the default (in-process) layer."""
    return get_channel_layer("router") or get_channel_layer()


@dataclass(frozen=True, slots=True)
class Routed:
    """An event and the residents it is for: in one community, or (None) in
    every community (an access change)."""

    user_ids: tuple[int, ...]
    community_id: int | None
    event: dict[str, Any]


class RoutedSocket(Protocol):
    user_id: int
    community_id: int

    async def routed(self, event: dict[str, Any]) -> None: ...


class Registry(Protocol):
    def of_user(self, user_id: int) -> list[Any]: ...


def envelope(items: Iterable[Routed]) -> dict[str, Any]:
    """The layer message of a batch of events (plain values only)."""
    return {
        "type": "route",
        "items": [
            {"users": list(i.user_ids), "community": i.community_id, "event": i.event}
            for i in items
        ],
    }


async def publish(items: list[Routed]) -> None:
    """Send a batch of committed events to every server process."""
    if not items:
        return
    layer = router_layer()
    if layer is None:
        return
    await layer.group_send(PROCESS_GROUP, envelope(items))


async def deliver(registry: Registry, message: dict[str, Any]) -> None:
    """Hand each event of a batch to this process's sockets it is for."""
    for item in message["items"]:
        community = item["community"]
        for user_id in item["users"]:
            for socket in registry.of_user(user_id):
                if community is None or socket.community_id == community:
                    await socket.routed(item["event"])


class Router:
    """This process's receiver: one layer channel in PROCESS_GROUP."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Join the group (once per event loop) before the first socket opens,
        so that nothing committed after it opens can miss it. Sockets opening
        together wait for the same start: two receivers in one process would
        deliver every event twice."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done():
            if self._task.get_loop() is loop:
                return
            self._task.cancel()
        if self._starting is None or self._starting.get_loop() is not loop:
            self._starting = loop.create_task(self._join(loop))
        await asyncio.shield(self._starting)

    async def _join(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            layer = router_layer()
            if layer is None:
                return
            channel = await layer.new_channel("router.")
            await layer.group_add(PROCESS_GROUP, channel)
            self._task = loop.create_task(self._run(layer, channel))
        finally:
            self._starting = None

    async def _run(self, layer: Any, channel: str) -> None:
        """Receive and deliver, forever; a layer outage is waited out."""
        backoff = 0.1
        while True:
            try:
                message = await layer.receive(channel)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                metrics.LAYER_ERRORS.labels("router").inc()
                logger.warning("router: layer receive failed: %r", error)
                await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            try:
                await deliver(self.registry, message)
            except Exception:
                # One bad event must not stop delivery to everyone else.
                logger.exception("router: delivery failed")
