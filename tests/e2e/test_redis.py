"""Two server processes sharing one real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.client import ChatSocket
from tests.support.servers import DaphneServer, RedisServer, Site

from .conftest import Connect, Deployments, World

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.timeout(90, func_only=True),
]


@pytest.fixture(scope="module")
def redis_servers(
    sqlite_site: Site, redis_server: RedisServer
) -> Iterator[tuple[DaphneServer, DaphneServer]]:
    """Processes A and B of one site, with the Redis channel layer."""
    first = sqlite_site.server("daphne-redis-a-", REDIS_URL=redis_server.url)
    try:
        second = sqlite_site.server("daphne-redis-b-", REDIS_URL=redis_server.url)
    except Exception:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


WORLD = {"nord": ["alice", "bob", "carol", "dave"]}


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest,
    deployments: Deployments,
    redis_servers: tuple[DaphneServer, DaphneServer],
) -> World:
    """This module's residents on the SQLite site, logging in through A."""
    return deployments.world("sqlite", request.module, redis_servers[0])


async def test_delivery_across_processes(
    world: World, redis_servers: tuple[DaphneServer, DaphneServer], connect: Connect
) -> None:
    """A message sent on process A reaches the recipient's sockets on B (and
    the sender's other tab on B); typing and receipts cross too."""
    a, b = redis_servers
    alice = await connect(world, "alice", "nord", server=a, label="alice@A")
    alice_b = await connect(world, "alice", "nord", server=b, label="alice@B")
    bob = await connect(world, "bob", "nord", server=b, label="bob@B")
    carol = await connect(world, "carol", "nord", server=b, label="carol@B")

    ack = await alice.send_message(
        client_id="x-1", body="via Redis", to=[world.user("bob")]
    )
    assert ack["type"] == "message.ack", ack
    message = ack["message"]
    assert await bob.expect("message.new") == {
        "type": "message.new",
        "message": message,
    }
    assert await alice_b.expect("message.new") == {
        "type": "message.new",
        "message": message,
    }

    await bob.typing(message["conversation"])
    typing = await alice.expect("typing")
    assert typing["user"] == world.user("bob")
    assert (await alice_b.expect("typing"))["user"] == world.user("bob")

    await bob.mark_read(message["conversation"], message["id"])
    receipt = {
        "type": "receipt",
        "conversation": message["conversation"],
        "user": world.user("bob"),
        "up_to": message["id"],
    }
    assert await alice.expect("receipt") == receipt
    assert await alice_b.expect("receipt") == receipt
    assert await bob.expect("receipt") == receipt
    await carol.assert_silent(0.5)
    await alice.assert_silent(0.0)


async def test_idle_socket_still_receives(
    world: World, redis_servers: tuple[DaphneServer, DaphneServer], connect: Connect
) -> None:
    """A socket idle for more than 6 s on the Redis layer is still open and
    still receives at once (redis-py socket_timeout regression)."""
    a, b = redis_servers
    dave = await connect(world, "dave", "nord", server=b, label="dave@B")
    dave_a = await connect(world, "dave", "nord", server=a, label="dave@A")
    carol = await connect(world, "carol", "nord", server=a, label="carol@A")

    await asyncio.sleep(7.5)
    for socket in (dave, dave_a, carol):
        assert not socket.closed, socket.label

    ack = await carol.send_message(
        client_id="idle-1", body="réveil", to=[world.user("dave")]
    )
    assert ack["type"] == "message.ack", ack
    assert (await dave.expect("message.new", timeout=2))["message"] == ack["message"]
    assert (await dave_a.expect("message.new", timeout=2))["message"] == ack["message"]


async def _wait_live(
    sender: ChatSocket, receiver: ChatSocket, to: list[str], deadline: float
) -> tuple[list[int], list[int]]:
    """Send probes until one arrives live; return (probe ids, live ids seen)."""
    loop = asyncio.get_running_loop()
    probes: list[int] = []
    live: list[int] = []
    while loop.time() < deadline:
        ack = await sender.send_message(
            client_id=f"probe-{len(probes)}", body="allô ?", to=to, timeout=10
        )
        assert ack["type"] == "message.ack", ack
        probes.append(ack["message"]["id"])
        window = loop.time() + 1.5
        while loop.time() < window:
            try:
                frame = await receiver.recv_json(max(0.05, window - loop.time()))
            except AssertionError:
                if receiver.closed:
                    raise
                break
            assert frame["type"] == "message.new", frame
            live.append(frame["message"]["id"])
            if frame["message"]["id"] == probes[-1]:
                return probes, live
    raise AssertionError("live delivery did not resume after Redis came back")


async def test_redis_outage(
    world: World,
    redis_servers: tuple[DaphneServer, DaphneServer],
    redis_server: RedisServer,
    connect: Connect,
) -> None:
    """Redis SIGKILLed for ~3 s: open sockets stay open, sends are acked,
    live delivery resumes once Redis is back, and sync fills the gap."""
    a, b = redis_servers
    alice = await connect(world, "alice", "nord", server=a, label="alice@A")
    bob = await connect(world, "bob", "nord", server=b, label="bob@B")
    to = [world.user("bob")]
    for socket in (alice, bob):
        await socket.sync_all()
    before = await alice.send_message(client_id="out-0", body="avant", to=to)
    assert before["type"] == "message.ack", before
    assert (await bob.expect("message.new"))["message"] == before["message"]
    last_seen = before["message"]["id"]

    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    redis_server.kill()
    during = []
    for index in range(3):
        ack = await alice.send_message(
            client_id=f"out-{index + 1}", body=f"pendant {index}", to=to, timeout=10
        )
        assert ack["type"] == "message.ack", ack
        during.append(ack["message"]["id"])
    for socket in (alice, bob):
        await socket.ping()
    await asyncio.sleep(max(0.0, killed_at + 3 - loop.time()))
    for socket in (alice, bob):
        await socket.ping()
    redis_server.start()

    probes, live = await _wait_live(alice, bob, to, loop.time() + 30)
    # Steady again: the next message arrives live at once.
    after = await alice.send_message(client_id="out-after", body="après", to=to)
    assert after["type"] == "message.ack", after
    frames = [await bob.expect("message.new", timeout=2)]
    while frames[-1]["message"]["id"] != after["message"]["id"]:
        frames.append(await bob.expect("message.new", timeout=2))
    live += [f["message"]["id"] for f in frames]

    assert len(live) == len(set(live)), live
    synced, _ = await bob.sync_all(after=last_seen)
    synced_ids = [m["id"] for m in synced]
    expected = [*during, *probes, after["message"]["id"]]
    assert synced_ids == expected
    assert set(live) <= set(expected)
    assert not alice.closed
    assert not bob.closed
    assert [f for f in alice.frames + bob.frames if f["type"] == "error"] == []
    # New sockets work again on both processes.
    for server in (a, b):
        fresh = await connect(world, "carol", "nord", server=server)
        await fresh.ping()
