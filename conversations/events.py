"""Wire events, per-user group names, and fan-out after commit.

The channel layer only signals: it is at-most-once, so every event here is a
hint that the database already holds; `sync` is the guarantee.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


class MessageObject(TypedDict):
    id: int
    conversation: int
    community: str
    sender: str
    participants: list[str]
    body: str
    sent_at: str
    client_id: str


def user_group(user_id: int) -> str:
    """Every socket of one resident, whatever the community."""
    return f"user.{user_id}"


def user_community_group(user_id: int, community_id: int) -> str:
    """Every socket of one resident in one community: the delivery target."""
    return f"user.{user_id}.community.{community_id}"


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the contract shows."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class FanOut:
    """A committed event and the groups it goes to."""

    groups: list[str]
    event: dict[str, Any]


def send_on_commit(
    event: dict[str, Any], *, user_ids: Iterable[int], community_id: int | None
) -> None:
    """Fan `event` out to the chosen residents once the transaction commits.

    The caller decides exactly who receives the event: that is the privacy
    boundary. With `community_id` the event reaches the residents' sockets in
    that community only; without, all of their sockets.
    """
    if community_id is None:
        groups = [user_group(uid) for uid in sorted(set(user_ids))]
    else:
        groups = [
            user_community_group(uid, community_id) for uid in sorted(set(user_ids))
        ]
    transaction.on_commit(partial(fan_out_sync, [FanOut(groups, event)]))


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
