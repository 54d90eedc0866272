"""channels-redis, made to survive a Redis outage of a few seconds.

Out of the box, `receive()` raises while Redis is down; the exception escapes
every consumer's receive loop, so every socket of the process dies with close
1011; and a restarted Redis has forgotten every group. This layer keeps the
receive loop alive with capped backoff and re-adds this process's group
memberships once Redis answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

from conversations.metrics import LAYER_ERRORS

logger = logging.getLogger(__name__)

# channels-redis raises these, pinned by tests/integration/test_library_internals.py.
_OUTAGE_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
_MAX_BACKOFF = 2.0
_REFRESH_SECONDS = 3600.0


class ResilientRedisChannelLayer(RedisChannelLayer):
    # No _name clashes with ours, pinned by tests/integration/test_library_internals.py.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local_groups: dict[str, set[str]] = defaultdict(set)
        self._needs_restore = False
        self._restore_lock: asyncio.Lock | None = None
        self._last_log = 0.0
        self._maintenance: asyncio.Task[None] | None = None

    async def group_add(self, group: str, channel: str) -> None:
        # Remembered first: a socket opened during an outage joins when Redis
        # is back instead of being refused.
        self._local_groups[group].add(channel)
        self._start_maintenance()
        try:
            await super().group_add(group, channel)
        except _OUTAGE_ERRORS as error:
            self._needs_restore = True
            self._log_outage("group_add", error)

    async def group_discard(self, group: str, channel: str) -> None:
        channels = self._local_groups.get(group)
        if channels is not None:
            channels.discard(channel)
            if not channels:
                del self._local_groups[group]
        try:
            await super().group_discard(group, channel)
        except _OUTAGE_ERRORS as error:
            # group_expiry removes the stale entry; nothing is sent to it
            # meanwhile because the channel no longer receives.
            self._log_outage("group_discard", error)

    async def receive(self, channel: str) -> dict[str, Any]:
        backoff = 0.1
        while True:
            try:
                if self._needs_restore:
                    await self._restore_groups()
                return await super().receive(channel)
            except _OUTAGE_ERRORS as error:
                self._needs_restore = True
                self._log_outage("receive", error)
                await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311
                backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _restore_groups(self) -> None:
        """Re-add every group membership of this process (idempotent ZADD)."""
        if self._restore_lock is None:
            self._restore_lock = asyncio.Lock()
        async with self._restore_lock:
            if not self._needs_restore:
                return
            for group, channels in list(self._local_groups.items()):
                for channel in list(channels):
                    await super().group_add(group, channel)
            self._needs_restore = False
            logger.warning(
                "channel layer: Redis answers again; %d groups restored",
                len(self._local_groups),
            )

    def _start_maintenance(self) -> None:
        if self._maintenance is None or self._maintenance.done():
            self._maintenance = asyncio.get_running_loop().create_task(self._maintain())

    async def _maintain(self) -> None:
        """Refresh memberships before group_expiry drops long-lived sockets."""
        while True:
            await asyncio.sleep(_REFRESH_SECONDS)
            self._needs_restore = True
            try:
                await self._restore_groups()
            except _OUTAGE_ERRORS as error:
                self._log_outage("refresh", error)

    def _log_outage(self, where: str, error: BaseException) -> None:
        LAYER_ERRORS.labels(where).inc()
        now = time.monotonic()
        if now - self._last_log >= 1.0:
            self._last_log = now
            logger.warning("channel layer: Redis unavailable in %s: %r", where, error)


class FastInMemoryChannelLayer(InMemoryChannelLayer):
    """The in-process layer of the embedded default, without its per-call
    costs: the stock layer scans every channel and group for expired
    messages on each send and receive (a quarter of the event loop in the
    bench profile), deep-copies the event per recipient and spawns a task
    per channel. Nothing here deep-copies: our layer messages (the router's
    batches, conversations/router.py) are built once, then only read, by
    the sender and by every receiver alike."""

    _CLEAN_EVERY = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cleaned_at = 0.0

    # Private API, pinned by tests/integration/test_library_internals.py.
    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at >= self._CLEAN_EVERY:
            self._cleaned_at = now
            super()._clean_expired()

    # Private API, pinned by tests/integration/test_library_internals.py.
    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, {})):
            try:
                self._put(channel, message)
            except ChannelFull:
                logger.warning("in-memory layer: channel over capacity, event dropped")

    # Private API, pinned by tests/integration/test_library_internals.py.
    def _put(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.setdefault(
            channel, asyncio.Queue(maxsize=self.get_capacity(channel))
        )
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None
