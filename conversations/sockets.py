"""The open sockets of this server process, and the revocation watcher.

Every process polls the Revocation table once a second and closes its own
sockets that a logout or suspension affects. This holds when the channel
layer is down and when the change came from another process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Protocol

from channels.db import database_sync_to_async
from django.utils import timezone

from .router import Router
from .selectors.access import revocations_since

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
OVERLAP_SECONDS = 10


class RevocableSocket(Protocol):
    user_id: int
    community_id: int
    session_hash: str
    connected_at: float

    async def revoke(self) -> None: ...


class LocalSockets:
    """Open sockets of this process by resident."""

    def __init__(self) -> None:
        self._by_user: dict[int, set[RevocableSocket]] = defaultdict(set)
        self._watcher: asyncio.Task[None] | None = None

    def add(self, socket: RevocableSocket) -> None:
        self._by_user[socket.user_id].add(socket)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def remove(self, socket: RevocableSocket) -> None:
        sockets = self._by_user.get(socket.user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_user[socket.user_id]

    def of_user(self, user_id: int) -> list[RevocableSocket]:
        return list(self._by_user.get(user_id, ()))

    async def _watch(self) -> None:
        """Close sockets named by new Revocation rows, forever.

        Rows are read by time with an overlap rather than by id: on
        PostgreSQL ids can commit out of order. Rows seen twice are harmless
        (a socket opened after a change is never closed by it) and skipped.
        """
        since = timezone.now() - timedelta(seconds=OVERLAP_SECONDS)
        applied: dict[int, datetime] = {}
        while True:
            try:
                await asyncio.sleep(POLL_SECONDS)
                polled_at = timezone.now()
                rows = await database_sync_to_async(revocations_since)(
                    since=since - timedelta(seconds=OVERLAP_SECONDS)
                )
                for row in rows:
                    if row.pk in applied:
                        continue
                    applied[row.pk] = row.created_at
                    await apply_revocation(
                        self,
                        user_id=row.user_id,
                        community_id=row.community_id,
                        session=row.session_hash,
                        keep=row.keep_session_hash,
                        at=row.created_at.timestamp(),
                    )
                since = polled_at
                horizon = since - timedelta(seconds=3 * OVERLAP_SECONDS)
                applied = {k: v for k, v in applied.items() if v >= horizon}
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # A database outage must not end the watcher.
                logger.warning("revocation watcher: %r", error)


async def apply_revocation(
    registry: LocalSockets,
    *,
    user_id: int,
    community_id: int | None,
    session: str,
    keep: str = "",
    at: float,
) -> None:
    """Close the resident's sockets that this access change covers."""
    for socket in registry.of_user(user_id):
        if revocation_covers(
            socket, community_id=community_id, session=session, keep=keep, at=at
        ):
            await socket.revoke()


def revocation_covers(
    socket: RevocableSocket,
    *,
    community_id: int | None,
    session: str,
    keep: str = "",
    at: float,
) -> bool:
    """Whether an access change applies to this socket: one community or
    all, one session or all (but the one kept)."""
    if community_id is not None and socket.community_id != community_id:
        return False
    if session and socket.session_hash != session:
        return False
    if keep and socket.session_hash == keep:
        return False
    # A socket opened after the change had its access checked again.
    return socket.connected_at <= at


local_sockets = LocalSockets()
router = Router(local_sockets)


def now_timestamp() -> float:
    return timezone.now().timestamp()
