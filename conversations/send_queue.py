"""Group commit for socket sends: one thread hop and one transaction for all
the sends that arrived while the previous batch was being written.

At low load a batch is a single send and adds no wait; under load the batch
grows by itself, amortizing BEGIN/COMMIT, the hop to the database thread and
the per-message queries (see services/send/).

On PostgreSQL the sends are spread over several lanes by community
(CHAT_SEND_LANES), each with a thread and a database connection of its own,
so that batches of different communities are written side by side; one
community always uses the same lane, and its per-community lock keeps its
ids in commit order whatever the lanes do. SQLite has one writer: one lane.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection

from . import events, metrics
from .errors import ChatError
from .notifications.outbox import PresenceSnapshot
from .presence import read_snapshot_async
from .services.send import Delivery, SendRequest, SendResult, message_send_many
from .services.send.write import Outcome

logger = logging.getLogger(__name__)

MAX_BATCH = 100

_Waiting = tuple[SendRequest, str, "asyncio.Future[SendResult]"]


def _write_batch(
    requests: list[SendRequest], presence: PresenceSnapshot
) -> tuple[list[Outcome], list[Delivery]]:
    """One batch in a lane's thread, with that thread's own connection."""
    close_old_connections()
    try:
        return message_send_many(requests, presence=presence)
    finally:
        close_old_connections()


class Lane:
    """One writer: sends wait here while the previous batch is written."""

    def __init__(self, number: int) -> None:
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"send-lane-{number}"
        )

    def submit(self, request: SendRequest, origin: str) -> asyncio.Future[SendResult]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SendResult] = loop.create_future()
        self._waiting.append((request, origin, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write())
        return future

    async def _write(self) -> None:
        """Write batches until nothing waits."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            requests = [request for request, _, _ in batch]
            # Presence lives in Redis: read it here, on the event loop, so the
            # database thread only talks to the database.
            presence = await read_snapshot_async({r.community_id for r in requests})
            try:
                outcomes, deliveries = await loop.run_in_executor(
                    self._executor, partial(_write_batch, requests, presence)
                )
            except Exception as error:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the sender left meanwhile
                    continue
                if isinstance(outcome, ChatError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            metrics.MESSAGES_STORED.labels("socket").inc(len(deliveries))
            # Committed: now tell the other sockets.
            origins = {(r.sender_username, r.client_id): o for r, o, _ in batch}
            await events.fan_out(
                item
                for delivery in deliveries
                for item in events.message_new_items(
                    [delivery],
                    origin=origins.get(
                        (delivery.message["sender"], delivery.message["client_id"])
                    ),
                )
            )


class SendQueue:
    def __init__(self) -> None:
        self._lanes: list[Lane] = []

    def _lane(self, community_id: int) -> Lane:
        if not self._lanes:
            count = settings.CHAT_SEND_LANES
            if connection.vendor != "postgresql":
                count = 1  # SQLite has one writer: lanes would only wait
            self._lanes = [Lane(n) for n in range(max(1, count))]
        return self._lanes[community_id % len(self._lanes)]

    async def submit(self, request: SendRequest, *, origin: str) -> SendResult:
        """Store one send (with whatever else is waiting in its lane); raise
        its ChatError or the DatabaseError that stopped its batch. `origin` is
        the sending socket's channel: it gets the ack, not the `message.new`."""
        return await self._lane(request.community_id).submit(request, origin)


send_queue = SendQueue()
