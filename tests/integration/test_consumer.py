"""The WebSocket consumer in process: handshake, frames, fan-out, revocation.

Runs the real ASGI application (origin check, session auth, routing) with the
in-memory channel layer. `transaction=True` because the consumer reaches the
database from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from chatsite.asgi import application
from conversations import sockets
from conversations.models import (
    Block,
    Community,
    Conversation,
    Membership,
    Message,
    Revocation,
    User,
)
from conversations.services.access import membership_suspend, session_revoke

from .conftest import Send

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://127.0.0.1:8000"  # the test settings' SITE_URL
CLOSE_REVOKED = 4403


@pytest.fixture(autouse=True)
async def fresh_layer() -> AsyncIterator[None]:
    """Each test starts with an empty in-memory layer bound to its own loop."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.flush()
    yield
    await layer.flush()


@database_sync_to_async
def session_of(user: User) -> str:
    """Log in as Django's login would and return the session cookie."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket:
    """One browser tab: a communicator with JSON helpers."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 2.0) -> dict[str, Any]:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        return json.loads(output["text"])

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout)

    async def closed_with(self, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        """Wait for the server to close; return the code and frames before it."""
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not closed within {timeout} s; got {frames}"
            try:
                output = await self.communicator.receive_output(remaining)
            except TimeoutError:
                continue
            if output["type"] == "websocket.close":
                return output.get("code", 1000), frames
            frames.append(json.loads(output["text"]))

    async def ping(self) -> None:
        await self.send({"type": "ping"})
        assert await self.receive() == {"type": "pong"}


def communicator(
    *, cookie: str | None, slug: str = "bourg-centre", origin: str | None = ORIGIN
) -> WebsocketCommunicator:
    headers: list[tuple[bytes, bytes]] = []
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, f"/ws/communities/{slug}/", headers)


@pytest.fixture
async def open_socket() -> AsyncIterator[Callable[..., Any]]:
    """Open accepted sockets for residents; all are disconnected at the end."""
    opened: list[WebsocketCommunicator] = []

    async def open_(
        user: User, *, cookie: str | None = None, slug: str = "bourg-centre"
    ) -> Socket:
        comm = communicator(cookie=cookie or await session_of(user), slug=slug)
        opened.append(comm)
        connected, detail = await comm.connect(timeout=3)
        assert connected, f"handshake refused: {detail}"
        return Socket(comm)

    yield open_
    for comm in opened:
        with contextlib.suppress(Exception):  # already closed by the server
            await comm.disconnect(timeout=2)


async def refused(comm: WebsocketCommunicator) -> bool:
    try:
        connected, _ = await comm.connect(timeout=3)
    finally:
        await comm.disconnect()
    return not connected


# Handshake.


async def test_anonymous_handshake_is_refused(alice: User) -> None:
    """No session cookie: the handshake is refused."""
    assert await refused(communicator(cookie=None))
    assert await refused(communicator(cookie="not-a-session"))


async def test_non_member_handshake_is_refused(
    make_resident: Callable[..., User], other_community: Community, alice: User
) -> None:
    """A resident of another community cannot open this community's socket."""
    zoe = await database_sync_to_async(make_resident)(other_community, "zoe")
    assert await refused(communicator(cookie=await session_of(zoe)))


async def test_suspended_member_handshake_is_refused(
    alice: User, community: Community
) -> None:
    """A suspended member is refused at the handshake."""
    membership = await database_sync_to_async(Membership.objects.get)(user=alice)
    await database_sync_to_async(membership_suspend)(membership=membership)
    assert await refused(communicator(cookie=await session_of(alice)))


async def test_unknown_community_handshake_is_refused(alice: User) -> None:
    """A slug that names no community is refused."""
    cookie = await session_of(alice)
    assert await refused(communicator(cookie=cookie, slug="nowhere"))


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None])
async def test_foreign_or_missing_origin_is_refused(
    alice: User, origin: str | None
) -> None:
    """A valid session from a foreign (or no) Origin is refused."""
    cookie = await session_of(alice)
    assert await refused(communicator(cookie=cookie, origin=origin))


async def test_other_paths_are_refused(alice: User) -> None:
    """A WebSocket to any other path is refused, not crashed."""
    cookie = await session_of(alice)
    comm = WebsocketCommunicator(
        application,
        "/ws/other/",
        [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", ORIGIN.encode())],
    )
    assert await refused(comm)


async def test_member_handshake_is_accepted_and_answers_ping(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    """An active member with a session and a local Origin is accepted."""
    socket = await open_socket(alice)
    await socket.ping()


# Sending.


async def test_send_acks_the_sender_and_delivers_to_the_others(
    alice: User, bob: User, mallory: User, open_socket: Callable[..., Any]
) -> None:
    """The sending socket gets only the ack; bob and alice's other tab get
    message.new; a non-participant gets nothing."""
    tab1 = await open_socket(alice)
    tab2 = await open_socket(alice)
    bob_socket = await open_socket(bob)
    stranger = await open_socket(mallory)
    await tab1.send(
        {"type": "message.send", "client_id": "ws-1", "body": " Salut ", "to": ["bob"]}
    )
    ack = await tab1.receive()
    assert ack["type"] == "message.ack"
    assert ack["client_id"] == "ws-1"
    message = ack["message"]
    assert message["body"] == "Salut"
    assert message["participants"] == ["alice", "bob"]
    assert await bob_socket.receive() == {"type": "message.new", "message": message}
    assert await tab2.receive() == {"type": "message.new", "message": message}
    assert await tab1.nothing()
    assert await stranger.nothing()
    stored = await database_sync_to_async(Message.objects.get)(pk=message["id"])
    assert stored.body == "Salut"


async def test_resend_of_client_id_gets_same_ack_and_no_delivery(
    alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """Re-sending a client_id acks the same message and delivers nothing new."""
    sender = await open_socket(alice)
    receiver = await open_socket(bob)
    frame = {"type": "message.send", "client_id": "ws-2", "body": "Une", "to": ["bob"]}
    await sender.send(frame)
    first = await sender.receive()
    await receiver.receive()
    await sender.send(frame)
    second = await sender.receive()
    assert second == first
    assert await receiver.nothing()
    count = await database_sync_to_async(Message.objects.count)()
    assert count == 1


async def test_send_errors_carry_the_client_id(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    """not_member and bad_request answers to a send echo its client_id."""
    socket = await open_socket(alice)
    await socket.send(
        {"type": "message.send", "client_id": "e-1", "body": "x", "to": ["ghost"]}
    )
    error = await socket.receive()
    assert error["type"] == "error"
    assert error["code"] == "not_member"
    assert error["client_id"] == "e-1"
    await socket.send({"type": "message.send", "client_id": "e-2", "body": ""})
    error = await socket.receive()
    assert (error["code"], error["client_id"]) == ("bad_request", "e-2")


async def test_send_to_others_conversation_is_not_found(
    alice: User,
    bob: User,
    mallory: User,
    send: Send,
    open_socket: Callable[..., Any],
) -> None:
    """A send into someone else's conversation gets the same not_found as a
    missing id, and nothing reaches the participants."""
    result = await database_sync_to_async(send)(alice, to=["bob"])
    conversation = result.message["conversation"]
    bob_socket = await open_socket(bob)
    socket = await open_socket(mallory)
    errors = []
    for target, client_id in ((conversation, "n-1"), (conversation + 999, "n-2")):
        await socket.send(
            {
                "type": "message.send",
                "client_id": client_id,
                "body": "x",
                "conversation": target,
            }
        )
        errors.append(await socket.receive())
    assert [e["code"] for e in errors] == ["not_found", "not_found"]
    assert errors[0]["detail"] == errors[1]["detail"]
    assert [e.get("client_id") for e in errors] == ["n-1", "n-2"]
    assert await bob_socket.nothing()


async def test_send_to_a_resident_who_blocked_you_is_blocked(
    alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """A recipient who blocked the sender: `blocked` with the client_id; bob
    receives nothing."""
    await database_sync_to_async(Block.objects.create)(blocker=bob, blocked=alice)
    alice_socket = await open_socket(alice)
    bob_socket = await open_socket(bob)
    await alice_socket.send(
        {"type": "message.send", "client_id": "bl-1", "body": "x", "to": ["bob"]}
    )
    error = await alice_socket.receive()
    assert (error["type"], error["code"], error["client_id"]) == (
        "error",
        "blocked",
        "bl-1",
    )
    assert await bob_socket.nothing()


# Typing and read receipts.


async def test_typing_reaches_the_other_participants_only(
    alice: User,
    bob: User,
    carol: User,
    mallory: User,
    send: Send,
    open_socket: Callable[..., Any],
) -> None:
    """typing goes to bob and carol, not back to alice nor to mallory."""
    result = await database_sync_to_async(send)(alice, to=["bob", "carol"])
    conversation = result.message["conversation"]
    alice_socket = await open_socket(alice)
    bob_socket = await open_socket(bob)
    carol_socket = await open_socket(carol)
    stranger = await open_socket(mallory)
    await alice_socket.send({"type": "typing", "conversation": conversation})
    expected = {"type": "typing", "conversation": conversation, "user": "alice"}
    assert await bob_socket.receive() == expected
    assert await carol_socket.receive() == expected
    assert await alice_socket.nothing()
    assert await stranger.nothing()


async def test_typing_in_others_conversation_is_not_found(
    alice: User, bob: User, mallory: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """typing on a conversation that is not yours: not_found, nothing sent."""
    result = await database_sync_to_async(send)(alice, to=["bob"])
    bob_socket = await open_socket(bob)
    socket = await open_socket(mallory)
    await socket.send(
        {"type": "typing", "conversation": result.message["conversation"]}
    )
    error = await socket.receive()
    assert error["code"] == "not_found"
    assert await bob_socket.nothing()


async def test_read_sends_a_receipt_to_the_participants(
    alice: User, bob: User, mallory: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """message.read moves the mark and a receipt reaches both participants."""
    result = await database_sync_to_async(send)(alice, to=["bob"])
    message = result.message
    alice_socket = await open_socket(alice)
    bob_socket = await open_socket(bob)
    stranger = await open_socket(mallory)
    await bob_socket.send(
        {
            "type": "message.read",
            "conversation": message["conversation"],
            "up_to": message["id"],
        }
    )
    receipt = {
        "type": "receipt",
        "conversation": message["conversation"],
        "user": "bob",
        "up_to": message["id"],
    }
    assert await alice_socket.receive() == receipt
    assert await bob_socket.receive() == receipt
    assert await stranger.nothing()


async def test_read_of_others_conversation_is_not_found(
    alice: User, bob: User, mallory: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """message.read on a conversation that is not yours: not_found, no receipt."""
    result = await database_sync_to_async(send)(alice, to=["bob"])
    message = result.message
    alice_socket = await open_socket(alice)
    socket = await open_socket(mallory)
    await socket.send(
        {"type": "message.read", "conversation": message["conversation"], "up_to": 1}
    )
    assert (await socket.receive())["code"] == "not_found"
    assert await alice_socket.nothing()


# Sync.


async def test_sync_replays_in_batches_with_more(
    alice: User, bob: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """sync returns at most 200 messages ascending and `more` until the end."""

    @database_sync_to_async
    def make_history() -> list[int]:
        first = send(alice, "0", to=["bob"]).message
        Message.objects.bulk_create(
            Message(
                conversation_id=first["conversation"],
                community_id=Community.objects.get(slug="bourg-centre").pk,
                sender=alice,
                client_id=f"h-{i}",
                body=str(i),
            )
            for i in range(1, 205)
        )
        return list(Message.objects.order_by("id").values_list("id", flat=True))

    ids = await make_history()
    socket = await open_socket(bob)
    await socket.send({"type": "sync", "after": 0})
    batch = await socket.receive()
    assert batch["type"] == "sync.batch"
    assert batch["more"] is True
    assert [m["id"] for m in batch["messages"]] == ids[:200]
    await socket.send({"type": "sync", "after": batch["messages"][-1]["id"]})
    batch = await socket.receive()
    assert batch["more"] is False
    assert [m["id"] for m in batch["messages"]] == ids[200:]
    await socket.send({"type": "sync", "after": ids[-1]})
    assert await socket.receive() == {
        "type": "sync.batch",
        "messages": [],
        "more": False,
    }


async def test_sync_covers_only_own_conversations(
    alice: User, bob: User, carol: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """carol's sync never returns alice and bob's messages."""
    await database_sync_to_async(send)(alice, "privé", to=["bob"])
    mine = (
        await database_sync_to_async(send)(alice, "pour carol", to=["carol"])
    ).message
    socket = await open_socket(carol)
    await socket.send({"type": "sync", "after": 0})
    assert await socket.receive() == {
        "type": "sync.batch",
        "messages": [mine],
        "more": False,
    }


# Bad frames.


async def test_binary_frame_gets_an_error_and_the_socket_stays_open(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    """A binary frame is answered with bad_request; the socket keeps working."""
    socket = await open_socket(alice)
    await socket.communicator.send_to(bytes_data=b"\x00\x01binary")
    error = await socket.receive()
    assert error["type"] == "error"
    assert error["code"] == "bad_request"
    assert "client_id" not in error
    await socket.ping()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "bad_request"),
        ("[1, 2]", "bad_request"),
        ('{"type": "nope"}', "bad_request"),
        ('{"type": "sync", "after": true}', "bad_request"),
        ('{"type": "ping", "pad": "' + "x" * 70_000 + '"}', "too_long"),
    ],
)
async def test_bad_text_frames_get_errors_and_the_socket_stays_open(
    alice: User, open_socket: Callable[..., Any], text: str, code: str
) -> None:
    """Malformed, unknown and oversize frames get an error frame, not a close."""
    socket = await open_socket(alice)
    await socket.communicator.send_to(text_data=text)
    error = await socket.receive()
    assert (error["type"], error["code"]) == ("error", code)
    await socket.ping()


# Revocation.


async def test_suspension_closes_the_socket_through_the_layer(
    alice: User,
    bob: User,
    community: Community,
    open_socket: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """membership_suspend closes the resident's socket with 4403 at once (the
    layer event: the table watcher is slowed down so it cannot be the cause),
    and the other residents' sockets stay open."""
    monkeypatch.setattr(sockets, "POLL_SECONDS", 60.0)
    bob_socket = await open_socket(bob)
    alice_socket = await open_socket(alice)
    membership = await database_sync_to_async(Membership.objects.get)(user=bob)
    started = time.monotonic()
    await database_sync_to_async(membership_suspend)(membership=membership)
    code, frames = await bob_socket.closed_with(timeout=2.0)
    assert code == CLOSE_REVOKED
    assert frames == []
    assert time.monotonic() - started < 2.0
    await alice_socket.ping()


async def test_suspended_socket_receives_nothing_more(
    alice: User, bob: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """After the 4403 close, later messages do not reach the suspended socket."""
    bob_socket = await open_socket(bob)
    membership = await database_sync_to_async(Membership.objects.get)(user=bob)
    await database_sync_to_async(membership_suspend)(membership=membership)
    code, _ = await bob_socket.closed_with(timeout=3.0)
    assert code == CLOSE_REVOKED
    await bob_socket.send({"type": "ping"})
    assert await bob_socket.nothing(0.3)


async def test_revocation_row_alone_closes_the_socket_through_the_watcher(
    alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """A Revocation row written without any layer event (another process, a
    layer outage) closes the socket with 4403 within about 3 seconds."""
    alice_socket = await open_socket(alice)
    bob_socket = await open_socket(bob)
    await asyncio.sleep(0.1)
    await database_sync_to_async(Revocation.objects.create)(user=bob)
    started = time.monotonic()
    code, frames = await bob_socket.closed_with(timeout=3.5)
    assert code == CLOSE_REVOKED
    assert frames == []
    assert time.monotonic() - started < 3.5
    await alice_socket.ping()


async def test_revocation_for_another_community_leaves_the_socket_open(
    alice: User,
    make_resident: Callable[..., User],
    other_community: Community,
    open_socket: Callable[..., Any],
) -> None:
    """A suspension elsewhere does not close this community's socket."""
    # make_resident sets the password again: use the fresh row to log in.
    alice = await database_sync_to_async(make_resident)(other_community, "alice")
    here = await open_socket(alice)
    there = await open_socket(alice, slug="la-croix")
    membership = await database_sync_to_async(Membership.objects.get)(
        user=alice, community=other_community
    )
    await database_sync_to_async(membership_suspend)(membership=membership)
    code, _ = await there.closed_with(timeout=3.0)
    assert code == CLOSE_REVOKED
    await asyncio.sleep(1.5)
    await here.ping()


async def test_logout_closes_only_that_sessions_sockets(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    """POST /accounts/logout/ closes the sockets opened with that session; a
    socket of another session of the same resident stays open."""

    @database_sync_to_async
    def login() -> Client:
        client = Client()
        client.force_login(alice)
        return client

    browser_a = await login()
    browser_b = await login()
    socket_a = await open_socket(alice, cookie=browser_a.cookies["sessionid"].value)
    socket_b = await open_socket(alice, cookie=browser_b.cookies["sessionid"].value)
    response = await database_sync_to_async(browser_a.post)("/accounts/logout/")
    assert response.status_code in {200, 302}
    code, _ = await socket_a.closed_with(timeout=3.0)
    assert code == CLOSE_REVOKED
    await asyncio.sleep(1.5)
    await socket_b.ping()


async def test_revocation_before_connect_does_not_close_a_new_socket(
    alice: User, open_socket: Callable[..., Any]
) -> None:
    """A socket opened after a logout of another session is not closed by it."""
    await database_sync_to_async(session_revoke)(user_id=alice.pk, session_key="old")
    await database_sync_to_async(Revocation.objects.create)(user=alice)
    await asyncio.sleep(0.05)
    socket = await open_socket(alice)
    await asyncio.sleep(2.2)
    await socket.ping()


# Ordering of live delivery.


async def test_live_delivery_fills_a_lost_event_in_order_and_skips_late_ones(
    alice: User, bob: User, send: Send, open_socket: Callable[..., Any]
) -> None:
    """After a sync, if a message's live event was lost, the next event of that
    conversation first delivers the missing message from the database, in id
    order; the late original event is then skipped."""
    first = (await database_sync_to_async(send)(alice, "un", to=["bob"])).message
    bob_socket = await open_socket(bob)
    await bob_socket.send({"type": "sync", "after": 0})
    assert (await bob_socket.receive())["messages"] == [first]

    @database_sync_to_async
    def store_without_fan_out() -> int:
        lost = Message.objects.create(
            conversation_id=first["conversation"],
            community=Community.objects.get(slug="bourg-centre"),
            sender=alice,
            client_id="lost-1",
            body="deux",
        )
        Conversation.objects.filter(pk=first["conversation"]).update(last_message=lost)
        return lost.pk

    lost_id = await store_without_fan_out()
    third = (await database_sync_to_async(send)(alice, "trois", to=["bob"])).message
    filled = await bob_socket.receive()
    assert (filled["type"], filled["message"]["id"]) == ("message.new", lost_id)
    assert filled["message"]["body"] == "deux"
    assert await bob_socket.receive() == {"type": "message.new", "message": third}
    layer = get_channel_layer()
    assert layer is not None
    [consumer] = sockets.local_sockets.of_user(bob.pk)
    await layer.send(
        consumer.channel_name,  # type: ignore[attr-defined]
        {"type": "message.new", "message": filled["message"], "previous_id": 0},
    )
    assert await bob_socket.nothing(0.3)
