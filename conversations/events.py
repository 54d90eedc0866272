"""Layer events and fan-out after commit (through router.py).

The channel layer only signals: it is at-most-once, so every event here is a
hint that the database already holds; `sync` is the guarantee. The caller
decides exactly who receives an event: that is the privacy boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from . import metrics
from .router import Routed, publish
from .wire.frames import message_new_frame
from .wire.schema import MessageObject

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A committed message and whom to tell: the input of the fan-out."""

    message: MessageObject
    previous_id: int
    community_id: int
    # Participants who are active members now, the sender included (their
    # other tabs); nobody else may receive the message.
    user_ids: tuple[int, ...]


def message_new_items(
    deliveries: Iterable[Delivery], *, origin: str | None
) -> list[Routed]:
    """The `message.new` events of committed messages; `origin` is the
    sending socket, which has its ack instead."""
    return [
        Routed(
            user_ids=delivery.user_ids,
            community_id=delivery.community_id,
            event={
                "type": "message.new",
                # Serialized once here, not once per socket.
                "frame": message_new_frame(delivery.message),
                "id": delivery.message["id"],
                "conversation": delivery.message["conversation"],
                "previous_id": delivery.previous_id,
                "sender": delivery.message["sender"],
                "origin": origin or "",
                # Wall clock at fan-out, just after commit: the receiving
                # process measures send-to-delivery against it (metrics.py).
                "at": time.time(),
            },
        )
        for delivery in deliveries
    ]


def send_on_commit(
    event: dict[str, Any], *, user_ids: Iterable[int], community_id: int | None
) -> None:
    """Fan `event` out to the chosen residents once the transaction commits:
    their sockets in `community_id`, or all of their sockets (None)."""
    item = Routed(tuple(sorted(set(user_ids))), community_id, event)
    transaction.on_commit(partial(fan_out_sync, [item]))


async def fan_out(items: Iterable[Routed]) -> None:
    """Send committed events to every server process, in order, at once.

    Committed and acked: live delivery is best effort, and the recipients'
    `sync` fills any gap. Never log the events themselves.
    """
    batch = list(items)
    try:
        await publish(batch)
    except Exception as error:
        metrics.LAYER_ERRORS.labels("fan_out").inc()
        logger.warning("fan-out of %d events failed: %r", len(batch), error)


def fan_out_sync(items: list[Routed]) -> None:
    """`fan_out` from synchronous code (HTTP views, commands, tests)."""
    if items:
        async_to_sync(fan_out)(items)
