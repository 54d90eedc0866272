"""Clients that stop reading cannot make the server buffer without bound
(contract v2): about 1 MiB waits, then close 4408, and memory comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support.client import open_socket
from tests.support.protocol import connect_socket, sync_frame, tab_headers
from tests.support.servers import DaphneServer, Site, rss_kib

from .conftest import Hood, make_hood
from .figures import record

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LONG_BODY = "é" * 4000  # about 8 KB of JSON per message
MESSAGES = 110
SYNCS = 60  # each answered with up to 512 KiB: about 30 MB asked for


@pytest.fixture(scope="module")
def slow_server(sqlite_site: Site) -> Iterator[DaphneServer]:
    # Generous time to read what waited, so that every client here sees the
    # close code rather than a dropped connection.
    server = sqlite_site.server("daphne-slowread-", CHAT_SLOW_CLOSE_SECONDS="180")
    yield server
    server.stop()


async def fill(hood: Hood, server: DaphneServer, readers: list[str]) -> None:
    """110 long messages from the writer to each reader."""
    writer = await open_socket(
        server.ws_url(hood.slug), hood.cookies("writer", server), origin=server.origin
    )
    try:
        for name in readers:
            for i in range(MESSAGES):
                ack = await writer.send_message(
                    client_id=f"fill-{name}-{i}",
                    body=f"{i} {LONG_BODY}",
                    to=[hood.user(name)],
                    timeout=30,
                )
                assert ack["type"] == "message.ack", ack
    finally:
        await writer.close()


async def stalled_client(
    hood: Hood, name: str, server: DaphneServer
) -> ClientConnection:
    """A socket that asks for everything with `sync` and reads nothing."""
    ws = await connect_socket(
        server.ws_url(hood.slug),
        tab_headers(hood.cookies(name, server), server.origin),
        max_queue=1,
        ping_interval=None,
    )
    ws.transport.pause_reading()
    for _ in range(SYNCS):
        await ws.send(json.dumps(sync_frame(0)))
    return ws


async def read_to_close(ws: ClientConnection, timeout: float) -> tuple[int, int]:
    """Read everything that waits; (bytes read, close code)."""
    ws.transport.resume_reading()
    received = 0
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                frame = await ws.recv()
                received += len(frame)
    close = ws.protocol.close_rcvd
    return received, close.code if close is not None else 1006


async def settle(
    server: DaphneServer, since: float, seconds: float = 3.0, limit: float = 60
) -> int:
    """The server's RSS once it has stayed within 1 MiB for a few seconds
    (or after `limit` seconds)."""
    last = rss_kib(server.pid)
    stable_since = time.monotonic()
    while time.monotonic() - since < limit:
        await asyncio.sleep(0.5)
        now = rss_kib(server.pid)
        if abs(now - last) > 1024:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= seconds:
            return now
    return last


async def test_a_client_that_stops_reading_is_closed_with_4408(
    sqlite_site: Site, slow_server: DaphneServer
) -> None:
    """60 syncs of 512 KiB never read: the server stops after about 1 MiB
    waiting and closes with 4408, which the client sees once it reads; the
    server's memory returns to its level after the client leaves."""
    hood = make_hood(sqlite_site, ["writer", "reader"], "slowread")
    await fill(hood, slow_server, ["reader"])
    before = await settle(slow_server, time.monotonic())
    ws = await stalled_client(hood, "reader", slow_server)
    # The server reads the 60 frames and answers until the budget is spent;
    # wait for its memory to stop moving, then read.
    peak = await settle(slow_server, time.monotonic())
    received, code = await read_to_close(ws, timeout=60)
    await ws.close()
    after = await settle(slow_server, time.monotonic())
    figures = {
        "requested_bytes_approx": SYNCS * 512 * 1024,
        "received_bytes": received,
        "close_code": code,
        "rss_before_kib": before,
        "rss_stalled_kib": peak,
        "rss_after_kib": after,
    }
    record("slow_reader_sync_flood", **figures)
    assert code == 4408, figures
    # Kernel buffers (a few MB on loopback) plus the 1 MiB budget, not 30 MB.
    assert received < 16 * 1024 * 1024, figures
    assert peak - before < 24 * 1024, figures
    assert after - before < 8 * 1024, figures


@pytest.mark.slow
async def test_fifty_clients_that_stop_reading(
    sqlite_site: Site, slow_server: DaphneServer
) -> None:
    """50 non-reading clients flooding `sync`: memory before, during and
    after, and every one closed with 4408."""
    names = [f"r{i}" for i in range(50)]
    hood = make_hood(sqlite_site, ["writer", *names], "slowfifty")
    await fill(hood, slow_server, names[:1])
    # The same 110 messages are in one group conversation of all 50.
    writer = await open_socket(
        slow_server.ws_url(hood.slug),
        hood.cookies("writer", slow_server),
        origin=slow_server.origin,
    )
    for i in range(MESSAGES):
        await writer.send_message(
            client_id=f"group-{i}",
            body=f"{i} {LONG_BODY}",
            to=[hood.user(n) for n in names],
            timeout=30,
        )
    await writer.close()
    for name in names:  # log in first: the stalls then start together
        hood.cookies(name, slow_server)
    before = await settle(slow_server, time.monotonic())
    clients = [await stalled_client(hood, name, slow_server) for name in names]
    during = await settle(slow_server, time.monotonic())
    results = await asyncio.gather(*(read_to_close(ws, 120) for ws in clients))
    for ws in clients:
        await ws.close()
    after = await settle(slow_server, time.monotonic())
    codes = sorted({code for _, code in results})
    figures = {
        "clients": len(clients),
        "received_mib_max": round(max(n for n, _ in results) / 2**20, 2),
        "rss_before_kib": before,
        "rss_during_kib": during,
        "rss_after_kib": after,
        "close_codes": codes,
    }
    record("slow_readers_fifty", **figures)
    assert codes == [4408], figures
    assert during - before < 50 * 4 * 1024, figures
    assert after - before < 16 * 1024, figures
