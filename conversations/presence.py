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


# community id -> user id -> "active" | "idle", for residents with a socket.
Snapshot = dict[int, dict[int, str]]


class Presence(Protocol):
    async def opened(self, socket_id: str, user_id: int, community_id: int) -> None: ...
    async def changed(
        self, socket_id: str, user_id: int, community_id: int, state: str
    ) -> None: ...
    async def closed(self, socket_id: str, user_id: int, community_id: int) -> None: ...
    def snapshot(self, community_ids: Iterable[int]) -> Snapshot: ...
    async def snapshot_async(self, community_ids: Iterable[int]) -> Snapshot: ...


def combine(states: Iterable[str]) -> str | None:
    """One resident's state from their sockets' states (None: no socket)."""
    result = None
    for state in states:
        if state == ACTIVE:
            return ACTIVE
        result = IDLE
    return result


def state_of(presence: Presence, user_id: int, community_id: int) -> str | None:
    """One resident's state in one community (None: offline)."""
    return presence.snapshot([community_id]).get(community_id, {}).get(user_id)


class LocalPresence:
    """One server process: a dict guarded for the sync service threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # community id -> user id -> socket id -> state
        self._sockets: dict[int, dict[int, dict[str, str]]] = defaultdict(
            lambda: defaultdict(dict)
        )

    async def opened(self, socket_id: str, user_id: int, community_id: int) -> None:
        await self.changed(socket_id, user_id, community_id, ACTIVE)

    async def changed(
        self, socket_id: str, user_id: int, community_id: int, state: str
    ) -> None:
        with self._lock:
            self._sockets[community_id][user_id][socket_id] = state

    async def closed(self, socket_id: str, user_id: int, community_id: int) -> None:
        with self._lock:
            residents = self._sockets.get(community_id)
            sockets = residents.get(user_id) if residents is not None else None
            if sockets is None or residents is None:
                return
            sockets.pop(socket_id, None)
            if not sockets:
                del residents[user_id]
            if not residents:
                del self._sockets[community_id]

    def snapshot(self, community_ids: Iterable[int]) -> Snapshot:
        result: Snapshot = {}
        with self._lock:
            for community_id in set(community_ids):
                residents = self._sockets.get(community_id, {})
                result[community_id] = {
                    uid: state
                    for uid, sockets in residents.items()
                    if (state := combine(sockets.values())) is not None
                }
        return result

    async def snapshot_async(self, community_ids: Iterable[int]) -> Snapshot:
        return self.snapshot(community_ids)


class RedisPresence:
    """Several server processes sharing one Redis.

    One hash per community: socket id -> "user id|state|process id". A
    process's sockets count while its own key (refreshed every few seconds,
    with a TTL) exists, so a crashed process stops counting on its own.
    """

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

    def _key(self, community_id: int) -> str:
        return f"{self._prefix}:presence:{community_id}"

    def _process_key(self, process_id: str) -> str:
        return f"{self._prefix}:presence-process:{process_id}"

    def _entry(self, user_id: int, state: str) -> str:
        return f"{user_id}|{state}|{self.process_id}"

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
                key = self._key(community_id)
                pipe.hset(key, socket_id, self._entry(user_id, state))
                pipe.expire(key, 86_400)
                await pipe.execute()
        except Exception as error:
            self._dirty = True
            logger.warning("presence: Redis unavailable: %r", error)

    async def closed(self, socket_id: str, user_id: int, community_id: int) -> None:
        self._local.pop(socket_id, None)
        try:
            async with self._async.pipeline(transaction=False) as pipe:
                pipe.hdel(self._key(community_id), socket_id)
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
                            key = self._key(cid)
                            pipe.hset(key, socket_id, self._entry(uid, state))
                            pipe.expire(key, 86_400)
                    await pipe.execute()
                self._dirty = False
            except Exception as error:
                self._dirty = True
                logger.warning("presence heartbeat: Redis unavailable: %r", error)

    def snapshot(self, community_ids: Iterable[int]) -> Snapshot:
        ids = sorted(set(community_ids))
        try:
            with self._sync.pipeline(transaction=False) as pipe:
                for community_id in ids:
                    pipe.hgetall(self._key(community_id))
                entries = _parse(ids, pipe.execute())
            processes = sorted({p for rows in entries.values() for _, _, p in rows})
            with self._sync.pipeline(transaction=False) as pipe:
                for process in processes:
                    pipe.exists(self._process_key(process))
                flags = pipe.execute()
        except Exception as error:
            raise PresenceUnavailable(repr(error)) from error
        return _combine(entries, processes, flags)

    async def snapshot_async(self, community_ids: Iterable[int]) -> Snapshot:
        ids = sorted(set(community_ids))
        try:
            async with self._async.pipeline(transaction=False) as pipe:
                for community_id in ids:
                    pipe.hgetall(self._key(community_id))
                entries = _parse(ids, await pipe.execute())
            processes = sorted({p for rows in entries.values() for _, _, p in rows})
            async with self._async.pipeline(transaction=False) as pipe:
                for process in processes:
                    pipe.exists(self._process_key(process))
                flags = await pipe.execute()
        except Exception as error:
            raise PresenceUnavailable(repr(error)) from error
        return _combine(entries, processes, flags)


_Entry = tuple[int, str, str]  # user id, state, process id


def _parse(
    community_ids: list[int], hashes: list[dict[bytes, bytes]]
) -> dict[int, list[_Entry]]:
    result: dict[int, list[_Entry]] = {}
    for community_id, fields in zip(community_ids, hashes, strict=True):
        rows = []
        for value in fields.values():
            user_id, state, process = value.decode().split("|", 2)
            rows.append((int(user_id), state, process))
        result[community_id] = rows
    return result


def _combine(
    entries: dict[int, list[_Entry]], processes: list[str], flags: list[int]
) -> Snapshot:
    alive = {p for p, ok in zip(processes, flags, strict=True) if ok}
    result: Snapshot = {}
    for community_id, rows in entries.items():
        states: dict[int, list[str]] = defaultdict(list)
        for user_id, state, process in rows:
            if process in alive:
                states[user_id].append(state)
        result[community_id] = {
            uid: combined
            for uid, values in states.items()
            if (combined := combine(values)) is not None
        }
    return result


def read_snapshot(community_ids: Iterable[int]) -> Snapshot:
    """Presence in these communities; when the store does not answer, nobody
    counts as online: everyone is notified, and the job's re-check drops what
    was read meanwhile."""
    try:
        return get_presence().snapshot(community_ids)
    except PresenceUnavailable as error:
        logger.warning("presence unavailable, notifying everyone: %s", error)
        return {}


async def read_snapshot_async(community_ids: Iterable[int]) -> Snapshot:
    """`read_snapshot` from the event loop."""
    try:
        return await get_presence().snapshot_async(community_ids)
    except PresenceUnavailable as error:
        logger.warning("presence unavailable, notifying everyone: %s", error)
        return {}


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
