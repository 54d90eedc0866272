"""The load generator's residents: one socket each, how to reach the
system under test, and what a measurement sent and what came back
(bench/loadgen.py schedules the load)."""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.servers import cpu_seconds
from tests.support.protocol import (
    Frame,
    FrameSocket,
    as_user,
    connect_socket,
    tab_headers,
)
from tests.support.servers import rss_kib


@dataclass(frozen=True)
class Target:
    """How to reach one system under test (one or more server processes)."""

    name: str
    kind: str  # "project" (session cookie) or "query" (?user=<name>)
    ports: tuple[int, ...]
    pids: tuple[int, ...]
    path: str = "/ws/communities/bench/"
    cookies: dict[str, str] = field(default_factory=dict)
    cookie_name: str = "sessionid"
    # Per-resident paths (each resident's own community), else `path`.
    paths: dict[str, str] = field(default_factory=dict)

    def endpoint(self, username: str, index: int) -> tuple[str, dict[str, str]]:
        """URL and handshake headers of resident `index` (spread over ports)."""
        port = self.ports[index % len(self.ports)]
        origin = f"http://127.0.0.1:{port}"
        url = f"ws://127.0.0.1:{port}{self.paths.get(username, self.path)}"
        if self.kind == "project":
            session = {self.cookie_name: self.cookies[username]}
            return url, tab_headers(session, origin)
        return as_user(url, username), tab_headers(None, origin)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


def body_for(message_id: str, scheduled: float) -> str:
    return f"bench {message_id} {scheduled:.6f} " + "x" * 60


def parse_body(body: str) -> tuple[str, float] | None:
    parts = body.split(" ", 3)
    if len(parts) < 3 or parts[0] != "bench":
        return None
    return parts[1], float(parts[2])


@dataclass
class Sent:
    recipients: tuple[str, ...]
    scheduled: float
    acked: float | None = None
    server_id: int = 0
    missing: set[str] = field(default_factory=set)


class Recorder:
    """What one measurement sent and what came back."""

    def __init__(self) -> None:
        self.sent: dict[str, Sent] = {}
        self.latencies: list[float] = []
        self.ack_latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.stale = 0
        self.duplicates = 0

        self.unacked = 0
        self.undelivered = 0
        self._order: list[Sent] = []
        self._scan = 0

    def add(self, body_id: str, sent: Sent) -> None:
        self.sent[body_id] = sent
        self._order.append(sent)
        self.unacked += 1
        self.undelivered += len(sent.missing)

    def outstanding(self) -> int:
        return self.unacked + self.undelivered

    def oldest_unacked(self, now: float) -> float:
        """Age of the oldest message not acked yet (sends are in time order)."""
        while self._scan < len(self._order) and self._order[self._scan].acked:
            self._scan += 1
        if self._scan == len(self._order):
            return 0.0
        return now - self._order[self._scan].scheduled


class Resident:
    """One socket: records deliveries and acks as its frames arrive."""

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.recorder: Recorder | None = None
        self.seen: set[str] = set()  # body ids delivered (reconnect scenario)
        self.last_id = 0
        self.sync_batches: asyncio.Queue[Frame] = asyncio.Queue()
        self.socket = FrameSocket(ws, self.on_frame)

    def on_frame(self, frame: Frame) -> None:
        now = time.monotonic()
        kind = frame.get("type")
        if kind == "message.new":
            message = frame["message"]
            self.last_id = max(self.last_id, message["id"])
            parsed = parse_body(message["body"])
            if parsed is None:
                return
            body_id, scheduled = parsed
            self.seen.add(body_id)
            recorder = self.recorder
            sent = recorder.sent.get(body_id) if recorder else None
            if recorder is None or sent is None:
                if recorder is not None:
                    recorder.stale += 1
                return
            if self.name in sent.missing:
                sent.missing.discard(self.name)
                recorder.undelivered -= 1
                recorder.latencies.append((now - scheduled) * 1000)
            else:
                recorder.duplicates += 1
        elif kind == "message.ack":
            message = frame["message"]
            self.last_id = max(self.last_id, message["id"])
            recorder = self.recorder
            sent = recorder.sent.get(frame["client_id"]) if recorder else None
            if recorder is not None and sent is not None and sent.acked is None:
                sent.acked = now
                recorder.unacked -= 1
                sent.server_id = message["id"]
                recorder.ack_latencies.append((now - sent.scheduled) * 1000)
        elif kind == "sync.batch":
            self.sync_batches.put_nowait(frame)
        elif kind == "error" and self.recorder is not None:
            self.recorder.errors[str(frame.get("code"))] += 1

    async def send(self, frame: Frame) -> None:
        try:
            await self.socket.send_json(frame)
        except ConnectionClosed:
            if self.recorder is not None:
                self.recorder.errors["closed"] += 1


async def open_socket(
    target: Target, username: str, index: int, *, open_within: float = 30.0
) -> ClientConnection:
    url, headers = target.endpoint(username, index)
    # No keepalive pings (traffic beside what is measured) and no limit on
    # frames waiting to be read (the generator never pushes back on a server).
    return await connect_socket(
        url,
        headers,
        open_timeout=open_within,
        ping_interval=None,
        max_size=2**20,
        max_queue=None,
    )


async def open_with_retry(
    target: Target,
    username: str,
    index: int,
    *,
    stats: Counter[str] | None = None,
    attempts: int = 5,
) -> ClientConnection | None:
    """Open a socket, retrying a failed handshake with capped backoff and
    jitter, as a browser would; None after `attempts` failures."""
    for attempt in range(attempts):
        try:
            return await open_socket(target, username, index)
        except (OSError, TimeoutError, InvalidHandshake) as error:
            if stats is not None:
                stats[f"handshake_error:{type(error).__name__}"] += 1
            if attempt + 1 < attempts:
                await asyncio.sleep(min(2.0, 0.2 * 2**attempt) * random.uniform(0.5, 1))
    if stats is not None:
        stats["handshake_failed"] += 1
    return None


async def connect_all(
    target: Target,
    usernames: Sequence[str],
    *,
    offset: int = 0,
    concurrency: int = 50,
    within: float = 120.0,
    stats: Counter[str] | None = None,
) -> dict[str, Resident]:
    """Open one socket per resident, `concurrency` handshakes at a time;
    residents whose handshake kept failing are left out (see `stats`)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, name: str) -> Resident | None:
        async with gate:
            ws = await open_with_retry(target, name, offset + index, stats=stats)
            return None if ws is None else Resident(name, ws)

    async with asyncio.timeout(within):
        residents = await asyncio.gather(
            *(one(i, name) for i, name in enumerate(usernames))
        )
    # The generator holds thousands of sockets too: out of its own collector's
    # way (as the servers do, chatsite/collector.py), or a full collection of
    # them pauses the generator, and every delivery it reads meanwhile looks
    # late by that much. Thawed again when they close.
    gc.collect()
    gc.freeze()
    return {r.name: r for r in residents if r is not None}


async def close_all(residents: dict[str, Resident], within: float = 20.0) -> None:
    try:
        async with asyncio.timeout(within):
            await asyncio.gather(*(r.socket.close() for r in residents.values()))
    except TimeoutError:
        for resident in residents.values():
            resident.socket.reader.cancel()
    gc.unfreeze()


async def idle_sockets(
    target: Target, usernames: Sequence[str], *, hold: float = 3.0
) -> dict[str, Any]:
    """Open len(usernames) idle sockets on one process; RSS per socket."""
    pid = target.pids[0]
    before = rss_kib(pid)
    started = time.monotonic()
    stats: Counter[str] = Counter()
    residents = await connect_all(target, usernames, within=300, stats=stats)
    opened = time.monotonic() - started
    await asyncio.sleep(hold)
    after = rss_kib(pid)
    still_open = sum(1 for r in residents.values() if not r.socket.closed)
    await close_all(residents)
    count = len(usernames)
    return {
        "sockets": count,
        "still_open": still_open,
        "open_seconds": round(opened, 2),
        "handshakes": dict(stats),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_socket": round((after - before) / count, 2),
    }
