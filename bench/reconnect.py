"""Reconnect and catch up after a server restart (the project's `sync`).

1. Residents connect and receive `live` messages (fan-out 1) while online;
   each remembers the last message id it saw.
2. Every server process restarts (the sockets drop).
3. A few writers, not among the residents, send `missed` messages to them
   while they are away; each is acked, so it must reach its recipient.
4. Timed: all residents reconnect at once (bounded concurrency) and each pages
   `sync` from its last id until `more` is false. Reported: seconds from the
   first reconnect until every resident is caught up, and how many acked
   messages never reached their recipient.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from bench.residents import (
    Recorder,
    Resident,
    Sent,
    Target,
    body_for,
    close_all,
    connect_all,
    open_with_retry,
    parse_body,
)
from tests.support.protocol import Frame, send_frame, sync_pages


async def _send_closed_loop(
    residents: dict[str, Resident],
    pairs: list[tuple[str, str]],
    recorder: Recorder,
    *,
    tag: str,
    concurrency: int = 20,
) -> None:
    """Send each (sender, recipient) message and wait for its ack."""
    gate = asyncio.Semaphore(concurrency)
    for resident in residents.values():
        resident.recorder = recorder

    async def one(index: int, sender: str, recipient: str) -> None:
        async with gate:
            body_id = f"{tag}{index}"
            now = time.monotonic()
            sent = Sent((recipient,), now, missing={recipient})
            recorder.add(body_id, sent)
            await residents[sender].send(
                send_frame(body_id, body_for(body_id, now), to=[recipient])
            )
            deadline = now + 30
            while sent.acked is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    await asyncio.gather(*(one(i, s, r) for i, (s, r) in enumerate(pairs)))


async def _catch_up(
    target: Target,
    name: str,
    index: int,
    old: Resident,
    gate: asyncio.Semaphore,
    stats: Counter[str],
) -> float | None:
    """Reconnect one resident and sync from its last id; return when done."""
    async with gate:
        ws = await open_with_retry(target, name, index, stats=stats, attempts=8)
    if ws is None:
        return None
    resident = Resident(name, ws)
    resident.seen, resident.last_id = old.seen, old.last_id

    async def request(frame: Frame) -> Frame:
        await resident.send(frame)
        async with asyncio.timeout(60):
            return await resident.sync_batches.get()

    async for page in sync_pages(request, old.last_id):
        for message in page["messages"]:
            parsed = parse_body(message["body"])
            if parsed is not None:
                resident.seen.add(parsed[0])
    done = time.monotonic()
    await resident.socket.close()
    return done


async def reconnect_catch_up(
    target: Target,
    *,
    residents: Sequence[str],
    writers: Sequence[str],
    restart: Callable[[], float],
    live: int = 1000,
    missed: int = 1000,
    seed: int = 11,
) -> dict[str, Any]:
    rng = random.Random(seed)
    names = list(residents)
    stats: Counter[str] = Counter()
    online = await connect_all(target, names, within=180, stats=stats)
    names = [name for name in names if name in online]
    live_pairs = []
    for _ in range(live):
        sender, recipient = rng.sample(names, 2)
        live_pairs.append((sender, recipient))
    recorder = Recorder()
    live_started = time.monotonic()
    await _send_closed_loop(online, live_pairs, recorder, tag=f"rl{seed}x")
    deadline = time.monotonic() + 15
    while recorder.outstanding() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    live_seconds = time.monotonic() - live_started
    expected: dict[str, set[str]] = defaultdict(set)
    for body_id, sent in recorder.sent.items():
        if sent.acked is not None:
            expected[sent.recipients[0]].add(body_id)

    restart_seconds = await asyncio.to_thread(restart)
    async with asyncio.timeout(30):
        for resident in online.values():
            await resident.socket.wait_closed()

    writer_sockets = await connect_all(
        target, list(writers), offset=len(names), within=60
    )
    missed_pairs = [
        (rng.choice(list(writers)), rng.choice(names)) for _ in range(missed)
    ]
    missed_recorder = Recorder()
    await _send_closed_loop(
        writer_sockets, missed_pairs, missed_recorder, tag=f"rm{seed}x"
    )
    await close_all(writer_sockets)
    unacked = sum(1 for s in missed_recorder.sent.values() if s.acked is None)
    for body_id, sent in missed_recorder.sent.items():
        if sent.acked is not None:
            expected[sent.recipients[0]].add(body_id)

    gate = asyncio.Semaphore(100)
    started = time.monotonic()
    async with asyncio.timeout(120):
        outcomes = await asyncio.gather(
            *(
                _catch_up(target, name, index, online[name], gate, stats)
                for index, name in enumerate(names)
            )
        )
    finished = [done for done in outcomes if done is not None]
    catch_up = max(finished) - started
    lost = sum(len(ids - online[name].seen) for name, ids in expected.items())
    return {
        "residents": len(names),
        "live_messages": live,
        "live_phase_seconds": round(live_seconds, 2),
        "missed_messages": missed,
        "missed_unacked": unacked,
        "restart_seconds": round(restart_seconds, 2),
        "catch_up_seconds": round(catch_up, 2),
        "catch_up_p50_seconds": round(
            sorted(finished)[len(finished) // 2] - started, 2
        ),
        "lost": lost,
        "not_reconnected": len(outcomes) - len(finished),
        "handshakes": dict(stats),
        "passed": lost == 0 and catch_up < 10.0 and len(finished) == len(outcomes),
    }
