"""Group commit for socket sends: one thread hop and one transaction for all
the sends that arrived while the previous batch was being written.

At low load a batch is a single send and adds no wait; under load the batch
grows by itself, amortizing BEGIN/COMMIT, the hop to the database thread and
the per-message queries (see services/sending.py).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from . import events
from .errors import ChatError
from .services.sending import SendRequest, SendResult, message_send_many

logger = logging.getLogger(__name__)

MAX_BATCH = 100


class SendQueue:
    def __init__(self) -> None:
        self._waiting: list[tuple[SendRequest, asyncio.Future[SendResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: SendRequest) -> SendResult:
        """Store one send (with whatever else is waiting); raise its ChatError
        or the DatabaseError that stopped its batch."""
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        """Write batches until nothing waits."""
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            try:
                outcomes, fan_outs = await database_sync_to_async(message_send_many)(
                    [request for request, _ in batch]
                )
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the sender left meanwhile
                    continue
                if isinstance(outcome, ChatError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            # Committed: now tell the other sockets.
            await events.fan_out(fan_outs)


send_queue = SendQueue()
