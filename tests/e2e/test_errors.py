"""Every error code of the contract, over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.client import ChatSocket, login, open_socket
from tests.support.servers import DaphneServer, Site

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60, func_only=True)]

NOWHERE = 2**62  # a conversation id nobody has


# Residents of the shared communities, for this module only.
WORLD = {
    "nord": ["alice", "bob", "carol", "sam", "gina", "hugo", "ivan"],
    "sud": ["zoe"],
}


def error(code: str, client_id: str | None = None) -> dict[str, object]:
    """What an error frame is compared with (its detail is free text)."""
    frame: dict[str, object] = {"type": "error", "code": code}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


def without_detail(frame: dict[str, object]) -> dict[str, object]:
    assert isinstance(frame.get("detail"), str), frame
    return {k: v for k, v in frame.items() if k != "detail"}


async def still_open(socket: ChatSocket) -> None:
    """The socket still answers after a mistake."""
    await socket.send_json({"type": "ping"})
    assert await socket.recv_json() == {"type": "pong"}


BAD_FRAMES: list[tuple[str, str, str | None]] = [
    ("invalid JSON", '{"type": "ping"', None),
    ("not an object (list)", '[{"type": "ping"}]', None),
    ("not an object (string)", '"ping"', None),
    ("not an object (number)", "42", None),
    ("no type", '{"client_id": "x"}', None),
    ("unknown type", '{"type": "message.delete"}', None),
    (
        "send without body",
        '{"type": "message.send", "client_id": "b1", "to": ["x"]}',
        "b1",
    ),
    (
        "send without client_id",
        '{"type": "message.send", "body": "salut", "to": ["x"]}',
        None,
    ),
    (
        "send with neither to nor conversation",
        '{"type": "message.send", "client_id": "b2", "body": "salut"}',
        "b2",
    ),
    (
        "send with bool conversation",
        '{"type": "message.send", "client_id": "b3", "body": "a", '
        '"conversation": true}',
        "b3",
    ),
    (
        "send with empty to",
        '{"type": "message.send", "client_id": "b4", "body": "a", "to": []}',
        "b4",
    ),
    (
        "send with blank body",
        '{"type": "message.send", "client_id": "b5", "body": "  \\n ", "to": ["x"]}',
        "b5",
    ),
    ("read without up_to", '{"type": "message.read", "conversation": 1}', None),
    (
        "read with bool ids",
        '{"type": "message.read", "conversation": true, "up_to": 1}',
        None,
    ),
    ("sync without after", '{"type": "sync"}', None),
    ("sync with bool after", '{"type": "sync", "after": false}', None),
    ("sync after 2^63", '{"type": "sync", "after": 9223372036854775808}', None),
    ("typing with string id", '{"type": "typing", "conversation": "1"}', None),
    ("presence with other state", '{"type": "presence", "state": "away"}', None),
]


async def test_malformed_frames_get_bad_request(world: World, connect: Connect) -> None:
    """Malformed frames each get one `bad_request` error (with the client_id
    when they answer a send) and the socket stays open."""
    alice = await connect(world, "alice", "nord")
    for label, raw, client_id in BAD_FRAMES:
        await alice.send_raw(raw)
        frame = await alice.recv_json()
        assert without_detail(frame) == error("bad_request", client_id), label
    await still_open(alice)


async def test_both_to_and_conversation_is_bad_request(
    world: World, connect: Connect
) -> None:
    """A send with both `to` and `conversation`, or with the sender in `to`,
    is a `bad_request` and stores nothing."""
    alice = await connect(world, "alice", "nord")
    bob = await connect(world, "bob", "nord")
    ack = await alice.send_message(client_id="ok", body="a", to=[world.user("bob")])
    await bob.expect("message.new")
    conversation = ack["message"]["conversation"]

    both = await alice.send_message(
        client_id="both", body="a", to=[world.user("bob")], conversation=conversation
    )
    assert without_detail(both) == error("bad_request", "both")
    myself = await alice.send_message(
        client_id="me", body="a", to=[world.user("bob"), world.user("alice")]
    )
    assert without_detail(myself) == error("bad_request", "me")
    await bob.assert_silent(0.3)
    await still_open(alice)
    history = world.http("bob").history(conversation)
    assert [m["client_id"] for m in history] == ["ok"]


async def test_binary_frame_gets_an_error(world: World, connect: Connect) -> None:
    """A binary frame gets an error frame; the socket stays open."""
    alice = await connect(world, "alice", "nord")
    await alice.send_raw(b'{"type": "ping"}')
    frame = await alice.recv_json()
    assert without_detail(frame) == error("bad_request")
    await still_open(alice)


async def test_recipients_who_are_not_members(world: World, connect: Connect) -> None:
    """A recipient who is not an active member of this community (member
    elsewhere, unknown, or suspended here) gets `not_member`."""
    alice = await connect(world, "alice", "nord")
    elsewhere = await alice.send_message(
        client_id="nm-1", body="a", to=[world.user("zoe")]
    )
    assert without_detail(elsewhere) == error("not_member", "nm-1")
    unknown = await alice.send_message(
        client_id="nm-2", body="a", to=[world.user("bob"), "nobody-at-all"]
    )
    assert without_detail(unknown) == error("not_member", "nm-2")

    world.site.suspend(world.slug("nord"), world.user("sam"))
    try:
        suspended = await alice.send_message(
            client_id="nm-3", body="a", to=[world.user("sam")]
        )
        assert without_detail(suspended) == error("not_member", "nm-3")
    finally:
        world.site.reactivate(world.slug("nord"), world.user("sam"))
    # The same client_id works once the recipient is back: nothing was stored.
    again = await alice.send_message(client_id="nm-3", body="a", to=[world.user("sam")])
    assert again["type"] == "message.ack", again
    await still_open(alice)


async def test_others_conversation_is_not_found_like_a_missing_one(
    world: World, connect: Connect
) -> None:
    """Sending to, reading or typing in someone else's conversation gets the
    very frame a nonexistent id gets, and nothing reaches its participants."""
    bob = await connect(world, "bob", "nord")
    carol = await connect(world, "carol", "nord")
    alice = await connect(world, "alice", "nord")
    ack = await bob.send_message(
        client_id="priv", body="entre nous", to=[world.user("carol")]
    )
    assert ack["type"] == "message.ack", ack
    await carol.expect("message.new")
    theirs = ack["message"]["conversation"]

    frames = {}
    for name, conversation in (("theirs", theirs), ("missing", NOWHERE)):
        send = await alice.send_message(
            client_id="nf", body="je lis ?", conversation=conversation
        )
        await alice.mark_read(conversation, ack["message"]["id"])
        read = await alice.recv_json()
        await alice.typing(conversation)
        typing = await alice.recv_json()
        frames[name] = (send, read, typing)

    assert frames["theirs"] == frames["missing"]
    send, read, typing = frames["theirs"]
    assert without_detail(send) == error("not_found", "nf")
    assert without_detail(read) == error("not_found")
    assert without_detail(typing) == error("not_found")
    await bob.assert_silent(0.5)
    await carol.assert_silent(0.0)
    assert [m["id"] for m in world.http("bob").history(theirs)] == [
        ack["message"]["id"]
    ]
    await still_open(alice)


async def test_body_length_limit(world: World, connect: Connect) -> None:
    """5001 characters is `too_long`; 5000 emoji (a frame over 32 KiB) are
    accepted and delivered intact."""
    alice = await connect(world, "alice", "nord")
    bob = await connect(world, "bob", "nord")
    too_long = await alice.send_message(
        client_id="long-1", body="a" * 5001, to=[world.user("bob")]
    )
    assert without_detail(too_long) == error("too_long", "long-1")

    body = "🏡" * 5000
    # Escaped as many JSON encoders do (\\ud83c\\udfe1): 12 bytes per emoji.
    raw = json.dumps(
        {
            "type": "message.send",
            "client_id": "long-2",
            "body": body,
            "to": [world.user("bob")],
        }
    )
    assert len(raw.encode()) > 32 * 1024
    await alice.send_raw(raw)
    ack = await alice.recv_json()
    assert ack["type"] == "message.ack", ack
    assert ack["message"]["body"] == body
    delivered = await bob.expect("message.new")
    assert delivered["message"]["body"] == body
    # Surrounding whitespace does not count: trimmed to exactly 5000.
    padded = await alice.send_message(
        client_id="long-3", body="  " + "b" * 5000 + "\n", to=[world.user("bob")]
    )
    assert padded["type"] == "message.ack", padded
    assert padded["message"]["body"] == "b" * 5000


async def test_blocked_sender(world: World, connect: Connect) -> None:
    """After the recipient blocks the sender (POST /api/me/blocks/), the
    sender's messages get `blocked` and nothing reaches the recipient; after
    DELETE they go through again."""
    gina = await connect(world, "gina", "nord")
    hugo = await connect(world, "hugo", "nord")
    hugo_http = world.http("hugo")
    blocked = hugo_http.post("/api/me/blocks/", {"username": world.user("gina")})
    assert blocked.status_code == 201, blocked.text

    refused = await gina.send_message(
        client_id="bl-1", body="hé", to=[world.user("hugo")]
    )
    assert without_detail(refused) == error("blocked", "bl-1")
    await hugo.assert_silent(0.5)

    unblocked = hugo_http.delete("/api/me/blocks/", {"username": world.user("gina")})
    assert unblocked.status_code == 204, unblocked.text
    accepted = await gina.send_message(
        client_id="bl-1", body="hé", to=[world.user("hugo")]
    )
    assert accepted["type"] == "message.ack", accepted
    assert (await hugo.expect("message.new"))["message"] == accepted["message"]


async def test_error_flood_closes_with_4429(world: World, connect: Connect) -> None:
    """A client that keeps sending bad frames is cut off with close code 4429."""
    ivan = await connect(world, "ivan", "nord")
    for _ in range(200):
        if ivan.closed:
            break
        try:
            await ivan.send_raw("not json")
        except Exception:
            break
    assert await ivan.wait_closed(10) == 4429
    errors = [f for f in ivan.frames if f["type"] == "error"]
    assert errors
    assert all(f["code"] == "bad_request" for f in errors)


@pytest.fixture(scope="module")
def throttled_server(site: Site) -> Iterator[DaphneServer]:
    """A server of the same site with a low send rate (1 per second, burst 3)."""
    server = site.server("daphne-throttled-", CHAT_SEND_RATE="1/3")
    yield server
    server.stop()


async def test_rate_limited(world: World, throttled_server: DaphneServer) -> None:
    """Past the send rate a send gets `rate_limited` and is not stored; the
    socket stays open and sends again once tokens refill."""
    socket = await open_socket(
        throttled_server.ws_url(world.slug("nord")),
        login(throttled_server.base_url, world.user("carol")),
        origin=throttled_server.origin,
    )
    try:
        to = [world.user("bob")]
        acks = [
            await socket.send_message(client_id=f"r-{i}", body="vite", to=to)
            for i in range(3)
        ]
        assert [a["type"] for a in acks] == ["message.ack"] * 3, acks
        limited = await socket.send_message(client_id="r-3", body="vite", to=to)
        assert without_detail(limited) == error("rate_limited", "r-3")
        messages, _ = await socket.sync_all(after=acks[-1]["message"]["id"])
        assert [
            m["client_id"] for m in messages if m["sender"] == world.user("carol")
        ] == []
        await socket.send_json({"type": "ping"})
        assert await socket.recv_json() == {"type": "pong"}
        await socket.assert_silent(1.2)
        retried = await socket.send_message(client_id="r-3", body="vite", to=to)
        assert retried["type"] == "message.ack", retried
    finally:
        await socket.close()
