"""Who has an open socket in which community, across server processes.

States: "active", "idle" (every socket of the resident there said idle), or
absent (offline). With REDIS_URL the sockets live in Redis, each tagged with
its process; a process refreshes a key with a short TTL, so a crashed
process's sockets stop counting when the key expires (30 s, well within the
contract's 90 s). Without Redis there is one server process and a dict does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

ACTIVE = "active"
IDLE = "idle"
PROCESS_TTL_SECONDS = 30
HEARTBEAT_SECONDS = 10


class PresenceUnavailable(Exception):
    """The presence store did not answer; callers assume "offline"."""


class Presence(Protocol):
    async def opened(self, socket_id: str, user_id: int, community_id: int) -> None: ...
    async def changed(
        self, socket_id: str, user_id: int, community_id: int, state: str
    ) -> None: ...
    async def closed(self, socket_id: str, user_id: int, community_id: int) -> None: ...
    def states(self, user_ids: Iterable[int], community_id: int) -> dict[int, str]: ...


def combine(states: Iterable[str]) -> str | None:
    """One resident's state from their sockets' states (None: no socket)."""
    result = None
    for state in states:
        if state == ACTIVE:
            return ACTIVE
        result = IDLE
    return result


class LocalPresence:
    """One server process: a dict guarded for the sync service threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)

    async def opened(self, socket_id: str, user_id: int, community_id: int) -> None:
        await self.changed(socket_id, user_id, community_id, ACTIVE)

    async def changed(
        self, socket_id: str, user_id: int, community_id: int, state: str
    ) -> None:
        with self._lock:
            self._sockets[(community_id, user_id)][socket_id] = state

    async def closed(self, socket_id: str, user_id: int, community_id: int) -> None:
        with self._lock:
            sockets = self._sockets.get((community_id, user_id))
            if sockets is not None:
                sockets.pop(socket_id, None)
                if not sockets:
                    del self._sockets[(community_id, user_id)]

    def states(self, user_ids: Iterable[int], community_id: int) -> dict[int, str]:
        result: dict[int, str] = {}
        with self._lock:
            for user_id in user_ids:
                state = combine(self._sockets.get((community_id, user_id), {}).values())
                if state is not None:
                    result[user_id] = state
        return result


class RedisPresence:
    """Several server processes sharing one Redis."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis
        import redis.asyncio

        self.process_id = uuid.uuid4().hex
        self._prefix = prefix
        self._async = redis.asyncio.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
        self._sync = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1
        )
        # This process's sockets, to write them again after an outage or a
        # Redis restart (it keeps nothing on disk here).
        self._local: dict[str, tuple[int, int, str]] = {}
        self._dirty = False
        self._heartbeat: asyncio.Task[None] | None = None

    def _key(self, community_id: int, user_id: int) -> str:
        return f"{self._prefix}:presence:{community_id}:{user_id}"

    def _process_key(self, process_id: str) -> str:
        return f"{self._prefix}:presence-process:{process_id}"

    async def opened(self, socket_id: str, user_id: int, community_id: int) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        await self.changed(socket_id, user_id, community_id, ACTIVE)

    async def changed(
        self, socket_id: str, user_id: int, community_id: int, state: str
    ) -> None:
        self._local[socket_id] = (user_id, community_id, state)
        try:
            async with self._async.pipeline(transaction=False) as pipe:
                pipe.set(
                    self._process_key(self.process_id), "1", ex=PROCESS_TTL_SECONDS
                )
                key = self._key(community_id, user_id)
                pipe.hset(key, socket_id, f"{state}|{self.process_id}")
                pipe.expire(key, 86_400)
                await pipe.execute()
        except Exception as error:
            self._dirty = True
            logger.warning("presence: Redis unavailable: %r", error)

    async def closed(self, socket_id: str, user_id: int, community_id: int) -> None:
        self._local.pop(socket_id, None)
        try:
            async with self._async.pipeline(transaction=False) as pipe:
                pipe.hdel(self._key(community_id, user_id), socket_id)
                await pipe.execute()
        except Exception as error:
            self._dirty = True
            logger.warning("presence: Redis unavailable: %r", error)

    async def _beat(self) -> None:
        """Keep this process counted; rewrite its sockets after an outage."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                # A missing process key means Redis restarted (it keeps
                # nothing on disk) or we were away too long: write everything.
                if not await self._async.exists(self._process_key(self.process_id)):
                    self._dirty = True
                async with self._async.pipeline(transaction=False) as pipe:
                    pipe.set(
                        self._process_key(self.process_id), "1", ex=PROCESS_TTL_SECONDS
                    )
                    if self._dirty:
                        for socket_id, (uid, cid, state) in list(self._local.items()):
                            key = self._key(cid, uid)
                            pipe.hset(key, socket_id, f"{state}|{self.process_id}")
                            pipe.expire(key, 86_400)
                    await pipe.execute()
                self._dirty = False
            except Exception as error:
                self._dirty = True
                logger.warning("presence heartbeat: Redis unavailable: %r", error)

    def states(self, user_ids: Iterable[int], community_id: int) -> dict[int, str]:
        ids = list(user_ids)
        try:
            with self._sync.pipeline(transaction=False) as pipe:
                for user_id in ids:
                    pipe.hgetall(self._key(community_id, user_id))
                hashes = pipe.execute()
            entries: dict[int, list[tuple[str, str]]] = {}
            processes: set[str] = set()
            for user_id, fields in zip(ids, hashes, strict=True):
                parsed = []
                for value in fields.values():
                    state, _, process = value.decode().partition("|")
                    parsed.append((state, process))
                    processes.add(process)
                entries[user_id] = parsed
            ordered = sorted(processes)
            with self._sync.pipeline(transaction=False) as pipe:
                for process in ordered:
                    pipe.exists(self._process_key(process))
                alive = {p for p, ok in zip(ordered, pipe.execute(), strict=True) if ok}
        except Exception as error:
            raise PresenceUnavailable(repr(error)) from error
        result: dict[int, str] = {}
        for user_id, parsed in entries.items():
            state = combine(s for s, process in parsed if process in alive)
            if state is not None:
                result[user_id] = state
        return result


_presence: Presence | None = None
_presence_lock = threading.Lock()


def get_presence() -> Presence:
    """This process's presence store, built from settings on first use."""
    global _presence
    with _presence_lock:
        if _presence is None:
            if settings.REDIS_URL:
                prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
                _presence = RedisPresence(settings.REDIS_URL, prefix)
            else:
                _presence = LocalPresence()
        return _presence
