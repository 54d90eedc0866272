"""Layer events, per-user group names, and fan-out after commit.

The channel layer only signals: it is at-most-once, so every event here is a
hint that the database already holds; `sync` is the guarantee. The caller
decides exactly who receives an event: that is the privacy boundary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import metrics
from .wire.frames import message_new_frame
from .wire.schema import MessageObject

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """Every socket of one resident, whatever the community."""
    return f"user.{user_id}"


def user_community_group(user_id: int, community_id: int) -> str:
    """Every socket of one resident in one community: the delivery target."""
    return f"user.{user_id}.community.{community_id}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A committed message and whom to tell: the input of the fan-out."""

    message: MessageObject
    previous_id: int
    community_id: int
    # Participants who are active members now, the sender included (their
    # other tabs); nobody else may receive the message.
    user_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FanOut:
    """A committed event and the groups it goes to."""

    groups: list[str]
    event: dict[str, Any]


def groups_of(user_ids: Iterable[int], community_id: int | None) -> list[str]:
    """The residents' groups: in one community, or all of their sockets."""
    if community_id is None:
        return [user_group(uid) for uid in sorted(set(user_ids))]
    return [user_community_group(uid, community_id) for uid in sorted(set(user_ids))]


def message_new_fan_outs(
    deliveries: Iterable[Delivery], *, origin: str | None
) -> list[FanOut]:
    """The `message.new` layer events of committed messages; `origin` is the
    sending socket's channel, which has its ack instead."""
    return [
        FanOut(
            groups=groups_of(delivery.user_ids, delivery.community_id),
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
    """Fan `event` out to the chosen residents once the transaction commits.

    With `community_id` the event reaches the residents' sockets in that
    community only; without, all of their sockets.
    """
    fan_out = FanOut(groups_of(user_ids, community_id), event)
    transaction.on_commit(partial(fan_out_sync, [fan_out]))


async def group_send_many(groups: list[str], event: dict[str, Any]) -> None:
    """Send one event to several groups concurrently."""
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.gather(*(layer.group_send(group, event) for group in groups))


async def fan_out(fan_outs: Iterable[FanOut]) -> None:
    """Send committed events, in order.

    Within one event the groups are sent to concurrently; events go one after
    the other so that a resident sees a conversation's messages in order.
    """
    for item in fan_outs:
        try:
            await group_send_many(item.groups, item.event)
        except Exception as error:
            metrics.LAYER_ERRORS.labels("fan_out").inc()
            # Committed and acked: live delivery is best effort and the
            # recipients' `sync` fills the gap. Never log the event itself.
            logger.warning(
                "fan-out of %s to %d groups failed: %r",
                item.event.get("type"),
                len(item.groups),
                error,
            )


def fan_out_sync(fan_outs: list[FanOut]) -> None:
    """`fan_out` from synchronous code (HTTP views, commands, tests)."""
    if fan_outs:
        async_to_sync(fan_out)(fan_outs)
