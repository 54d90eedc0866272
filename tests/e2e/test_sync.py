"""`sync` replays what a resident missed, in pages of at most 200."""

from __future__ import annotations

import pytest

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120, func_only=True)]

MISSED = 250


# Residents of the shared communities, for this module only.
WORLD = {"nord": ["alice", "bob", "carol", "dave"]}


async def test_offline_recipient_gets_250_messages_through_sync(
    world: World, connect: Connect
) -> None:
    """A recipient offline while 250 messages are sent gets them all through
    sync: pages of at most 200, ascending, `more` true then false, no
    duplicates, nothing of conversations they are not in."""
    alice = await connect(world, "alice", "nord")
    bob_name, carol_name = world.user("bob"), world.user("carol")
    # A conversation bob is not in, interleaved: sync must leave it out.
    other = await alice.send_message(client_id="other-0", body="x", to=[carol_name])
    assert other["type"] == "message.ack", other

    # Sent back to back, acks read afterwards: the socket answers in order.
    frames = []
    for index in range(MISSED):
        to = [bob_name] if index % 3 else [bob_name, carol_name]
        frames.append({"client_id": f"m-{index}", "body": f"n°{index}", "to": to})
        if index % 50 == 0:
            frames.append(
                {
                    "client_id": f"noise-{index}",
                    "body": "pas pour bob",
                    "to": [carol_name],
                }
            )
    for frame in frames:
        await alice.send_json({"type": "message.send", **frame})
    acks = [await alice.expect("message.ack", timeout=30) for _ in frames]
    assert [a["client_id"] for a in acks] == [f["client_id"] for f in frames]
    sent = [a["message"]["id"] for a in acks if a["client_id"].startswith("m-")]

    bob = await connect(world, "bob", "nord")
    messages, batches = await bob.sync_all(after=0)

    assert [len(b["messages"]) for b in batches] == [200, 50]
    assert [b["more"] for b in batches] == [True, False]
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    assert ids == sent
    assert all(bob_name in m["participants"] for m in messages)
    assert [m["body"] for m in messages] == [f"n°{i}" for i in range(MISSED)]


async def test_sync_after_last_seen_id_returns_only_newer(
    world: World, connect: Connect
) -> None:
    """`sync` with the last id seen returns only newer messages; an empty
    result says `more: false`."""
    dave = await connect(world, "dave", "nord")
    carol = await connect(world, "carol", "nord")
    first = await dave.send_message(client_id="a", body="un", to=[world.user("carol")])
    await carol.expect("message.new")
    second = await dave.send_message(
        client_id="b", body="deux", to=[world.user("carol")]
    )
    await carol.expect("message.new")

    await carol.send_json({"type": "sync", "after": first["message"]["id"]})
    batch = await carol.expect("sync.batch")
    assert batch == {
        "type": "sync.batch",
        "messages": [second["message"]],
        "more": False,
    }
    await carol.send_json({"type": "sync", "after": second["message"]["id"]})
    assert await carol.expect("sync.batch") == {
        "type": "sync.batch",
        "messages": [],
        "more": False,
    }
    await carol.send_json({"type": "sync", "after": 2**63 - 1})
    assert (await carol.expect("sync.batch"))["messages"] == []
