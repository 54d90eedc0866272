"""Group commit for socket sends: one thread hop and one transaction for all
the sends that arrived while the previous batch was being written.

At low load a batch is a single send and adds no wait; under load the batch
grows by itself, amortizing BEGIN/COMMIT, the hop to the database thread and
the per-message queries (see services/send/).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from . import events, metrics
from .errors import ChatError
from .presence import read_snapshot_async
from .services.send import SendRequest, SendResult, message_send_many

logger = logging.getLogger(__name__)

MAX_BATCH = 100

_Waiting = tuple[SendRequest, str, "asyncio.Future[SendResult]"]


class SendQueue:
    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: SendRequest, *, origin: str) -> SendResult:
        """Store one send (with whatever else is waiting); raise its ChatError
        or the DatabaseError that stopped its batch. `origin` is the sending
        socket's channel: it gets the ack, not the `message.new`."""
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, origin, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        """Write batches until nothing waits."""
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            requests = [request for request, _, _ in batch]
            # Presence lives in Redis: read it here, on the event loop, so the
            # database thread only talks to the database.
            presence = await read_snapshot_async({r.community_id for r in requests})
            try:
                outcomes, deliveries = await database_sync_to_async(message_send_many)(
                    requests, presence=presence
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


send_queue = SendQueue()
