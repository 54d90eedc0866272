"""Open-loop load generator for the wire contract, on the `websockets` client.

One process holds one socket per resident. Sends are scheduled at fixed times
(`rate` per second, open loop: a slow server does not slow the schedule
down) from random residents to fixed random neighbour sets of size `fanout`.
Every body carries a unique id and its scheduled send time (the monotonic
clock, shared by every process of the machine); latency runs from that time
to each recipient socket's `message.new`, so it includes any lag of the
generator itself (no coordinated omission).

Scenarios (used by bench/run.py, or from the command line against a running
server, see `--help`): `step` (one fixed rate), `search` (highest rate held
with p99 <= 100 ms and nothing lost), `idle` (memory per idle socket) and
`reconnect` in bench/reconnect.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import time
import uuid
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
    send_frame,
    tab_headers,
)
from tests.support.servers import rss_kib

P99_LIMIT_MS = 100.0


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


def neighbour_sets(
    names: Sequence[str], senders: Sequence[str], *, fanout: int, seed: int
) -> list[tuple[str, tuple[str, ...]]]:
    """Fixed conversations: one (sender, recipients) pair per sender."""
    rng = random.Random(seed)
    pairs = []
    for sender in senders:
        others = [n for n in names if n != sender]
        pairs.append((sender, tuple(sorted(rng.sample(others, fanout)))))
    return pairs


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1], 2),
    }


class Load:
    """A set of connected residents and their fixed conversations."""

    def __init__(
        self, target: Target, residents: dict[str, Resident], *, seed: int = 7
    ) -> None:
        self.target = target
        self.residents = residents
        self.rng = random.Random(seed)
        self.seed = seed
        # In every client_id: the project answers a client_id its sender
        # already used with the stored message (idempotency) and delivers
        # nothing, so two Loads on one database must never share one.
        self.run = uuid.uuid4().hex[:8]
        self.sequence = 0
        self.conversations: dict[int, list[tuple[str, tuple[str, ...]]]] = {}

    def conversations_for(self, fanout: int) -> list[tuple[str, tuple[str, ...]]]:
        if fanout not in self.conversations:
            # Every resident talks to one neighbour; group conversations are
            # fewer (50 senders), which also keeps the warm-up short.
            names = sorted(self.residents)
            senders = names if fanout == 1 else names[:50]
            self.conversations[fanout] = neighbour_sets(
                names, senders, fanout=fanout, seed=self.seed + fanout
            )
        return self.conversations[fanout]

    def pick(
        self, fanout: int, pairs: Sequence[tuple[str, tuple[str, ...]]]
    ) -> tuple[str, tuple[str, ...]]:
        """The conversation of the next send: uniform over `pairs`."""
        return pairs[self.rng.randrange(len(pairs))]

    def _attach(self, recorder: Recorder | None) -> None:
        for resident in self.residents.values():
            resident.recorder = recorder

    def _frame(
        self, recorder: Recorder, pair: tuple[str, tuple[str, ...]], scheduled: float
    ) -> tuple[Resident, Frame]:
        self.sequence += 1
        body_id = f"{self.target.name[:3]}{self.run}x{self.sequence}"
        sender, to = pair
        recorder.add(body_id, Sent(to, scheduled, missing=set(to)))
        frame = send_frame(body_id, body_for(body_id, scheduled), to=to)
        return self.residents[sender], frame

    async def warm_up(self, fanout: int, *, within: float = 60.0) -> float:
        """Send one message on every conversation (creating it), not measured."""
        recorder = Recorder()
        self._attach(recorder)
        started = time.monotonic()
        pairs = self.conversations_for(fanout)
        gate = asyncio.Semaphore(16)

        async def one(pair: tuple[str, tuple[str, ...]]) -> None:
            async with gate:
                resident, frame = self._frame(recorder, pair, time.monotonic())
                await resident.send(frame)
                sent = recorder.sent[frame["client_id"]]
                # Polls a field the reader task sets: one Event per message
                # would cost more than it saves here.
                while sent.acked is None and not resident.socket.closed:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)

        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*(one(p) for p in pairs))
                await self._drain(recorder, 10.0)
        except TimeoutError:
            pass
        self._attach(None)
        return time.monotonic() - started

    async def _drain(self, recorder: Recorder, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while recorder.outstanding() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def step(
        self,
        *,
        rate: float,
        fanout: int,
        seconds: float,
        drain: float = 3.0,
        settle: float = 15.0,
        abort_after: float = 2.0,
    ) -> dict[str, Any]:
        """Offer `rate` messages/s for `seconds`; measure what came back."""
        recorder = Recorder()
        self._attach(recorder)
        pairs = self.conversations_for(fanout)
        total = max(1, int(rate * seconds))
        cpu_before, lg_before = self.target.cpu(), time.process_time()
        start = time.monotonic() + 0.05
        aborted = False
        max_lag = 0.0
        sends: set[asyncio.Task[None]] = set()
        issued = 0
        next_check = start
        while issued < total:
            now = time.monotonic()
            due = min(total, int((now - start) * rate) + 1)
            while issued < due:
                scheduled = start + issued / rate
                max_lag = max(max_lag, now - scheduled)
                resident, frame = self._frame(
                    recorder, self.pick(fanout, pairs), scheduled
                )
                task = asyncio.get_running_loop().create_task(resident.send(frame))
                sends.add(task)
                task.add_done_callback(sends.discard)
                issued += 1
            if now >= next_check:
                next_check = now + 0.25
                if recorder.oldest_unacked(now) > abort_after:
                    aborted = True
                    break
            next_at = start + issued / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        send_seconds = time.monotonic() - start
        await self._drain(recorder, drain)
        cpu_after, lg_after = self.target.cpu(), time.process_time()
        result = self._summary(
            recorder,
            rate=rate,
            fanout=fanout,
            send_seconds=send_seconds,
            aborted=aborted,
            max_lag=max_lag,
            server_cpu=cpu_after - cpu_before,
            loadgen_cpu=lg_after - lg_before,
        )
        # Let a backlog clear before the next step (not counted in this one);
        # what is still missing then was late or truly lost.
        await self._drain(recorder, settle)
        result["still_missing_after_settle"] = sum(
            len(s.missing) for s in recorder.sent.values() if s.acked is not None
        )
        self._attach(None)
        return result

    def _summary(
        self,
        recorder: Recorder,
        *,
        rate: float,
        fanout: int,
        send_seconds: float,
        aborted: bool,
        max_lag: float,
        server_cpu: float,
        loadgen_cpu: float,
    ) -> dict[str, Any]:
        sent = list(recorder.sent.values())
        acked = [s for s in sent if s.acked is not None]
        lost = [s for s in acked if s.missing]
        expected = sum(len(s.recipients) for s in sent)
        latency = percentiles(recorder.latencies)
        achieved = len(sent) / send_seconds if send_seconds > 0 else 0.0
        errors = dict(recorder.errors)
        passed = (
            not aborted
            and achieved >= 0.95 * rate
            and not lost
            and len(acked) == len(sent)
            and not errors
            and latency["p99"] is not None
            and latency["p99"] <= P99_LIMIT_MS
        )
        return {
            "offered_rate": round(rate, 1),
            "fanout": fanout,
            "sent": len(sent),
            "achieved_rate": round(achieved, 1),
            "acked": len(acked),
            "unacked": len(sent) - len(acked),
            "errors": errors,
            "deliveries_expected": expected,
            "delivered": len(recorder.latencies),
            "lost_messages": len(lost),
            "lost_deliveries": sum(len(s.missing) for s in lost),
            "duplicates": recorder.duplicates,
            "latency_ms": latency,
            "ack_ms": percentiles(recorder.ack_latencies),
            "aborted": aborted,
            "max_schedule_lag_ms": round(max_lag * 1000, 1),
            "server_cpu_s": round(server_cpu, 2),
            "server_cpu_ms_per_msg": round(1000 * server_cpu / max(1, len(sent)), 3),
            "loadgen_cpu_s": round(loadgen_cpu, 2),
            "passed": passed,
        }

    async def search(
        self,
        *,
        fanout: int,
        seconds: float,
        start_rate: float = 10.0,
        ramp: float = 3.0,
        max_rate: float = 8000.0,
        bisect_steps: int = 3,
        budget: float = 240.0,
        settle: float = 15.0,
        resolution: float = 0.0,
        retries: int = 1,
        log: Any = print,
    ) -> dict[str, Any]:
        """Highest offered rate that passes: ramp up until a step fails, then
        bisect, at most `bisect_steps` times, stopping early once the failing
        rate is within `resolution` (a fraction) of the passing one. A step
        that failed on latency alone is tried once more (`retries` 0: not)."""
        deadline = time.monotonic() + budget
        steps: list[dict[str, Any]] = []
        best, failed = 0.0, None
        rate = start_rate

        async def once(rate: float, *, retry: bool) -> dict[str, Any]:
            result = await self.step(
                rate=rate, fanout=fanout, seconds=seconds, settle=settle
            )
            result["retry"] = retry
            steps.append(result)
            log(
                f"  {self.target.name} fanout {fanout} @ {rate:.0f}/s: "
                f"{'pass' if result['passed'] else 'FAIL'} p99 "
                f"{result['latency_ms']['p99']} ms lost {result['lost_messages']} "
                f"achieved {result['achieved_rate']}/s errors {result['errors']}"
                f"{' aborted' if result['aborted'] else ''}"
                f"{' (retry)' if retry else ''}"
            )
            return result

        async def run(rate: float) -> bool:
            result = await once(rate, retry=False)
            # On a shared machine one stall of a few hundred ms fails a step
            # on p99 alone: such a step runs once more, and the rate passes if
            # the second try does. A lost message or an error is never retried.
            late_only = not result["lost_messages"] and not result["errors"]
            if not result["passed"] and late_only and retries:
                result = await once(rate, retry=True)
            return bool(result["passed"])

        while rate <= max_rate and time.monotonic() < deadline:
            if not await run(rate):
                failed = rate
                break
            best = rate
            rate *= ramp
        for _ in range(bisect_steps):
            if failed is None or time.monotonic() >= deadline:
                break
            if resolution and best and failed - best <= resolution * best:
                break
            middle = round((best + failed) / 2)
            if middle <= best or middle >= failed:
                break
            if await run(middle):
                best = middle
            else:
                failed = middle
        return {
            "fanout": fanout,
            "max_rate": best,
            "first_failing_rate": failed,
            "capped": failed is None,
            "steps": steps,
        }


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


def main() -> None:
    """Run one scenario against servers that are already running."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["step", "search", "idle"])
    parser.add_argument("--kind", choices=["project", "query"], default="project")
    parser.add_argument("--ports", required=True, help="comma-separated")
    parser.add_argument("--pids", default="", help="server pids (CPU, RSS)")
    parser.add_argument("--path", default="/ws/communities/bench/")
    parser.add_argument("--cookies", help="JSON written by bench/mint_sessions.py")
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--fanout", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    cookies: dict[str, str] = {}
    names = [f"b{i:05d}" for i in range(args.residents)]
    if args.cookies:
        with open(args.cookies) as handle:
            cookies = json.load(handle)["residents"]
    target = Target(
        name=args.kind,
        kind=args.kind,
        ports=tuple(int(p) for p in args.ports.split(",")),
        pids=tuple(int(p) for p in args.pids.split(",") if p),
        path=args.path,
        cookies=cookies,
    )

    async def run() -> Any:
        if args.scenario == "idle":
            return await idle_sockets(target, names)
        load = Load(target, await connect_all(target, names))
        await load.warm_up(args.fanout)
        if args.scenario == "step":
            result = await load.step(
                rate=args.rate, fanout=args.fanout, seconds=args.seconds
            )
        else:
            result = await load.search(fanout=args.fanout, seconds=args.seconds)
        await close_all(load.residents)
        return result

    print(json.dumps(asyncio.run(run()), indent=2))


if __name__ == "__main__":
    main()
