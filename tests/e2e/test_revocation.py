"""Access changes close the sockets they affect, at once (code 4403)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.client import HttpClient, handshake_status
from tests.support.protocol import tab_headers

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60, func_only=True)]

CLOSE_REVOKED = 4403
WITHIN = 5.0  # seconds, the contract's bound


# Residents of the shared communities, for this module only.
WORLD = {"nord": ["alice", "bob", "sam"], "sud": ["alice", "bob", "sam"]}


def messages_in(frames: list[dict], message_id: int) -> list[dict]:
    return [f for f in frames if f.get("message", {}).get("id") == message_id]


async def test_logout_closes_that_sessions_sockets(
    world: World, connect: Connect
) -> None:
    """Logging out closes every socket of that session with 4403 within 5 s,
    in every community; nothing more reaches them; the resident's other
    session stays connected."""
    session_a = world.cookies("alice", fresh=True)
    session_b = world.cookies("alice", fresh=True)
    a_nord = await connect(world, "alice", "nord", cookies=session_a, label="a-nord")
    a_sud = await connect(world, "alice", "sud", cookies=session_a, label="a-sud")
    b_nord = await connect(world, "alice", "nord", cookies=session_b, label="b-nord")
    bob = await connect(world, "bob", "nord")

    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = HttpClient(world.server.base_url, session_a).logout()
    assert answer.status_code in (200, 302), answer.status_code
    after = await bob.send_message(
        client_id="after-logout", body="tu es là ?", to=[world.user("alice")]
    )
    assert after["type"] == "message.ack", after

    assert await a_nord.wait_closed(WITHIN) == CLOSE_REVOKED
    assert await a_sud.wait_closed(WITHIN) == CLOSE_REVOKED
    assert loop.time() - started < WITHIN
    message_id = after["message"]["id"]
    assert messages_in(a_nord.frames, message_id) == []
    assert messages_in(a_sud.frames, message_id) == []
    # The other session is untouched and still gets messages.
    assert (await b_nord.expect("message.new"))["message"]["id"] == message_id
    await b_nord.ping()
    # The logged-out cookie no longer opens a socket.
    status = await handshake_status(
        world.server.ws_url(world.slug("nord")),
        tab_headers(session_a, world.server.origin),
    )
    assert status == 403


async def test_suspension_closes_sockets_in_that_community_only(
    world: World, connect: Connect
) -> None:
    """`manage.py suspendresident` (another process) closes the resident's
    socket in that community with 4403 within 5 s; their socket in another
    community stays open and keeps receiving."""
    sam_nord = await connect(world, "sam", "nord")
    sam_sud = await connect(world, "sam", "sud")
    bob_nord = await connect(world, "bob", "nord")
    bob_sud = await connect(world, "bob", "sud")

    try:
        await asyncio.to_thread(
            world.site.suspend, world.slug("nord"), world.user("sam")
        )
        # Counted from the command's commit (it has exited by now).
        assert await sam_nord.wait_closed(WITHIN) == CLOSE_REVOKED

        refused = await bob_nord.send_message(
            client_id="to-suspended", body="hé", to=[world.user("sam")]
        )
        assert refused["type"] == "error", refused
        assert refused["code"] == "not_member"
        assert [f for f in sam_nord.frames if f["type"] == "message.new"] == []

        await sam_sud.ping()
        ack = await bob_sud.send_message(
            client_id="still-sud", body="toujours là", to=[world.user("sam")]
        )
        assert ack["type"] == "message.ack", ack
        assert (await sam_sud.expect("message.new"))["message"] == ack["message"]
        assert not sam_sud.closed
        status = await handshake_status(
            world.server.ws_url(world.slug("nord")),
            tab_headers(world.cookies("sam"), world.server.origin),
        )
        assert status == 403
    finally:
        await asyncio.to_thread(
            world.site.reactivate, world.slug("nord"), world.user("sam")
        )
