"""A bounded chat load over real sockets, with the bookkeeping the fault
scenarios need: what was acked, what arrived live, what sync recovered.

Each resident is one tab that speaks the contract as the frontend does:
sync from 0 on open, send with a client_id and wait for its ack, and after
a lost socket reconnect (to any live server), sync from the last id seen and
resend the unacknowledged client_id.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.protocol import (
    Frame,
    FrameSocket,
    connect_socket,
    send_frame,
    sync_pages,
    tab_headers,
)
from tests.support.servers import DaphneServer

from .conftest import Hood
from .figures import ms, percentile


class SocketLost(Exception):
    pass


@dataclass
class Tab:
    name: str
    hood: Hood
    servers: Callable[[], list[DaphneServer]]  # live servers, preferred first
    socket: FrameSocket | None = None
    server: DaphneServer | None = None
    last_seen: int = 0
    live: list[int] = field(default_factory=list)  # message.new ids, in order
    live_at: dict[int, float] = field(default_factory=dict)
    synced: list[int] = field(default_factory=list)  # ids replayed by sync
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> id
    sent_at: dict[str, float] = field(default_factory=dict)  # first attempt
    ack_latency: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    closes: list[int] = field(default_factory=list)
    reconnects: int = 0
    reconnected_at: list[float] = field(default_factory=list)
    socket_frames: list[list[int]] = field(default_factory=list)  # live per socket
    _waiting: dict[str, asyncio.Future[Frame]] = field(default_factory=dict)

    async def open(self) -> None:
        """Connect to the first live server and sync from the last id seen."""
        last_error: Exception | None = None
        for _ in range(50):
            for server in self.servers():
                try:
                    cookies = self.hood.cookies(self.name, server)
                    ws = await connect_socket(
                        server.ws_url(self.hood.slug),
                        tab_headers(cookies, server.origin),
                        ssl=server.ssl_context,
                    )
                except (OSError, ConnectionClosed, TimeoutError) as error:
                    last_error = error
                    continue
                except InvalidStatus as error:
                    # A proxy answers 502/503 while it has no healthy server:
                    # try again, as the browser's reconnect loop does.
                    if error.response.status_code < 500:
                        raise
                    last_error = error
                    continue
                self.server = server
                live: list[int] = []
                self.socket_frames.append(live)
                self.socket = FrameSocket(
                    ws, functools.partial(self._received, live=live), self._lost
                )
                try:
                    await self.sync()
                except SocketLost as error:
                    # Closed again before the sync ended (a proxy shutting
                    # the sockets of a server it just marked down).
                    last_error = error
                    continue
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name}: could not reconnect: {last_error!r}")

    async def sync(self) -> None:
        pages = sync_pages(lambda frame: self.request(frame, "sync"), self.last_seen)
        async for batch in pages:
            for message in batch["messages"]:
                self.synced.append(message["id"])
                self.last_seen = max(self.last_seen, message["id"])

    def _received(self, frame: Frame, live: list[int]) -> None:
        kind = frame["type"]
        if kind == "message.new":
            mid = frame["message"]["id"]
            live.append(mid)
            self.live.append(mid)
            self.live_at.setdefault(mid, time.monotonic())
            self.last_seen = max(self.last_seen, mid)
        elif kind == "message.ack" or (kind == "error" and "client_id" in frame):
            self._resolve(frame["client_id"], frame)
        elif kind == "error":
            self.errors[frame["code"]] += 1
        elif kind == "sync.batch":
            self._resolve("sync", frame)

    def _lost(self, close_code: int) -> None:
        self.closes.append(close_code)
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(SocketLost())

    def _resolve(self, key: str, frame: Frame) -> None:
        future = self._waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(frame)

    async def request(self, frame: Frame, key: str, timeout: float = 30) -> Frame:
        if self.socket is None or self.socket.closed:
            raise SocketLost()
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            await self.socket.send_json(frame)
        except ConnectionClosed:
            # Nobody will await this future: failing it later would be logged.
            self._waiting.pop(key, None)
            raise SocketLost() from None
        return await asyncio.wait_for(future, timeout)

    async def send(self, client_id: str, body: str, conversation: int) -> Frame:
        """Send until acked: reconnect and resend after a lost socket; retry
        after an `unavailable` error. Returns the ack."""
        started = time.monotonic()
        self.sent_at.setdefault(client_id, started)
        while True:
            try:
                frame = await self.request(
                    send_frame(client_id, body, conversation=conversation), client_id
                )
            except SocketLost:
                await self.reconnect()
                continue
            if frame["type"] == "message.ack":
                self.acked[client_id] = frame["message"]["id"]
                self.ack_latency.append(time.monotonic() - started)
                self.last_seen = max(self.last_seen, frame["message"]["id"])
                return frame
            self.errors[frame["code"]] += 1
            assert frame["code"] == "unavailable", frame
            await asyncio.sleep(0.2)

    async def reconnect(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        self.reconnects += 1
        await self.open()
        self.reconnected_at.append(time.monotonic())

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()


async def run_senders(
    tabs: list[Tab], conversation: int, count: int, interval: float, tag: str
) -> float:
    """Every tab sends `count` messages, one every `interval` seconds."""
    started = time.monotonic()

    async def sender(tab: Tab) -> None:
        for i in range(count):
            await tab.send(
                f"{tag}-{tab.name}-{i}", f"{tag} {tab.name} {i}", conversation
            )
            await asyncio.sleep(interval)

    await asyncio.gather(*(sender(tab) for tab in tabs))
    return time.monotonic() - started


@dataclass
class Outcome:
    acked: int
    stored: int
    lost: int  # acked but not in the database
    unreached: int  # (recipient, message) pairs neither live nor synced
    duplicated_stored: int
    duplicated_live: int
    expected_deliveries: int
    live_deliveries: int
    recovered_by_sync: int
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float

    def figures(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def assert_nothing_lost(self) -> None:
        assert self.lost == 0, self
        assert self.unreached == 0, self
        assert self.duplicated_stored == 0, self
        assert self.duplicated_live == 0, self
        assert self.stored == self.acked, self


async def verify(tabs: list[Tab], tag: str) -> Outcome:
    """Check the run against the database. Each tab first catches up as a
    client does (sync from the last id it saw); then every acked message must
    be stored once and have reached every recipient, live or by sync."""
    for tab in tabs:
        await tab.sync()
    everything = [
        message
        async for batch in sync_pages(lambda frame: tabs[0].request(frame, "sync"))
        for message in batch["messages"]
    ]
    ours = [m for m in everything if m["client_id"].startswith(f"{tag}-")]
    per_client_id = Counter((m["sender"], m["client_id"]) for m in ours)
    stored_ids = {m["id"] for m in ours}
    acked = {
        (tab.hood.user(tab.name), cid): mid
        for tab in tabs
        for cid, mid in tab.acked.items()
        if cid.startswith(f"{tag}-")
    }
    sender_of = {m["id"]: m["sender"] for m in ours}
    expected = live_total = recovered = unreached = duplicated_live = 0
    for tab in tabs:
        me = tab.hood.user(tab.name)
        want = {mid for mid in acked.values() if sender_of.get(mid) != me}
        got_live = set(tab.live) & want
        expected += len(want)
        live_total += len(got_live)
        recovered += len((want - got_live) & set(tab.synced))
        unreached += len(want - got_live - set(tab.synced))
        for frames in tab.socket_frames:
            duplicated_live += sum(n - 1 for n in Counter(frames).values() if n > 1)
    latencies = [x for tab in tabs for x in tab.ack_latency]
    return Outcome(
        acked=len(acked),
        stored=len(ours),
        lost=len([mid for mid in acked.values() if mid not in stored_ids]),
        unreached=unreached,
        duplicated_stored=sum(n - 1 for n in per_client_id.values()),
        duplicated_live=duplicated_live,
        expected_deliveries=expected,
        live_deliveries=live_total,
        recovered_by_sync=recovered,
        ack_p50_ms=ms(percentile(latencies, 0.5)),
        ack_p99_ms=ms(percentile(latencies, 0.99)),
        ack_max_ms=ms(max(latencies, default=0)),
    )
