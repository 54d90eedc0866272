"""Socket limits in process (contract v2): sockets per resident, session
expiry, sync rate, and what a suspended or blocking resident still hears."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, override_settings

from conversations.models import Block, Membership, User
from conversations.services.access import membership_suspend

from .conftest import Send
from .sockets import communicator, refused, session_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_layer"),
]


@override_settings(CHAT_MAX_SOCKETS_PER_RESIDENT=2)
async def test_a_resident_holds_a_bounded_number_of_sockets(
    alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """Past the cap the handshake is refused; others are not affected, and a
    socket closed frees its place."""
    first = await open_socket(alice)
    await open_socket(alice)
    assert await refused(communicator(cookie=await session_of(alice)))
    await open_socket(bob)
    await first.communicator.disconnect()
    await open_socket(alice)


@database_sync_to_async
def short_session(user: User, seconds: int) -> str:
    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value
    session = SessionStore(session_key=key)
    session.set_expiry(seconds)
    session.save()
    return key


async def test_socket_closes_when_its_session_expires(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    """A socket lives no longer than its session: 4403 at the expiry."""
    socket = await open_socket(alice, cookie=await short_session(alice, 2))
    code, frames = await socket.closed_with(timeout=15)
    assert (code, frames) == (4403, [])


@override_settings(CHAT_SYNC_RATE=(0.01, 3))
async def test_sync_is_rate_limited(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    socket = await open_socket(alice)
    for _ in range(3):
        await socket.send({"type": "sync", "after": 0})
        assert (await socket.receive())["type"] == "sync.batch"
    await socket.send({"type": "sync", "after": 0})
    error = await socket.receive()
    assert (error["type"], error["code"]) == ("error", "rate_limited")


async def test_suspended_member_hears_nothing_more_even_before_the_close(
    send: Send, alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """Once the suspension is committed, no message.new, typing or receipt
    reaches the suspended member, whether or not the socket closed yet."""
    conversation = (
        await database_sync_to_async(send)(alice, "avant", to=["bob"])
    ).message["conversation"]
    bob_socket = await open_socket(bob)
    alice_socket = await open_socket(alice)
    membership = await database_sync_to_async(Membership.objects.get)(user=bob)
    await database_sync_to_async(membership_suspend)(membership=membership)
    await alice_socket.send(
        {
            "type": "message.send",
            "client_id": "after-suspension",
            "body": "après",
            "conversation": conversation,
        }
    )
    assert (await alice_socket.receive())["type"] == "message.ack"
    await alice_socket.send({"type": "typing", "conversation": conversation})
    code, frames = await bob_socket.closed_with(timeout=5)
    assert code == 4403
    assert frames == []


async def test_a_blocked_residents_typing_and_receipts_do_not_reach_the_blocker(
    send: Send, alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """bob blocks alice: her typing and read receipts no longer reach him."""
    message = (await database_sync_to_async(send)(bob, "Bonjour", to=["alice"])).message
    await database_sync_to_async(Block.objects.create)(blocker=bob, blocked=alice)
    bob_socket = await open_socket(bob)
    alice_socket = await open_socket(alice)
    await alice_socket.send({"type": "typing", "conversation": message["conversation"]})
    await alice_socket.send(
        {
            "type": "message.read",
            "conversation": message["conversation"],
            "up_to": message["id"],
        }
    )
    # alice's own tab hears her receipt; then bob's socket answers a ping
    # with nothing before it.
    receipt = await alice_socket.receive()
    assert (receipt["type"], receipt["user"]) == ("receipt", "alice")
    await bob_socket.ping()
