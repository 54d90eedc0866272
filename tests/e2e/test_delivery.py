"""Live delivery of one-to-one and group messages, over real sockets."""

from __future__ import annotations

import pytest

from tests.support.client import assert_message_object

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60, func_only=True)]


# Residents of the shared communities, for this module only.
WORLD = {"nord": ["alice", "bob", "carol", "dave", "eve"]}


async def test_one_to_one_reaches_every_tab_but_the_sending_one(
    world: World, connect: Connect
) -> None:
    """A one-to-one message is acked to the sending socket once committed, and
    reaches the recipient and the sender's other tab, nobody else."""
    alice_tab1 = await connect(world, "alice", "nord", label="alice-tab1")
    alice_tab2 = await connect(world, "alice", "nord", label="alice-tab2")
    bob = await connect(world, "bob", "nord")
    eve = await connect(world, "eve", "nord")
    alice, bob_name = world.user("alice"), world.user("bob")

    ack = await alice_tab1.send_message(
        client_id="d-1",
        body="  Je peux emprunter ta tondeuse samedi ?\n",
        to=[bob_name],
    )

    assert ack["type"] == "message.ack", ack
    assert set(ack) == {"type", "client_id", "message", "messages"}
    assert ack["messages"] == [ack["message"]]
    assert ack["client_id"] == "d-1"
    message = ack["message"]
    assert_message_object(message)
    assert message["body"] == "Je peux emprunter ta tondeuse samedi ?"
    assert message["sender"] == alice
    assert message["participants"] == sorted([alice, bob_name])
    assert message["community"] == world.slug("nord")
    assert message["client_id"] == "d-1"
    # Committed before the ack: another connection reads it at once.
    history = world.http("bob").history(message["conversation"])
    assert [m["id"] for m in history] == [message["id"]]
    assert history[0] == message

    for tab in (bob, alice_tab2):
        frame = await tab.expect("message.new")
        assert frame == {"type": "message.new", "message": message}
    await alice_tab1.assert_silent(0.5)
    await eve.assert_silent(0.1)
    await bob.assert_silent(0.0)
    await alice_tab2.assert_silent(0.0)


async def test_group_message_reaches_every_participant(
    world: World, connect: Connect
) -> None:
    """A group message reaches every socket of every participant except the
    sending one, with participants sorted; a non-participant gets nothing."""
    alice = await connect(world, "alice", "nord")
    carol = await connect(world, "carol", "nord")
    carol_tab2 = await connect(world, "carol", "nord", label="carol-tab2")
    dave = await connect(world, "dave", "nord")
    eve = await connect(world, "eve", "nord")
    # Given in reverse order: the server sorts.
    to = [world.user("dave"), world.user("alice")]
    expected = sorted([world.user("alice"), world.user("carol"), world.user("dave")])

    ack = await carol.send_message(client_id="g-1", body="Fête de la rue 🎉", to=to)

    assert ack["type"] == "message.ack", ack
    message = ack["message"]
    assert_message_object(message)
    assert message["participants"] == expected
    assert message["body"] == "Fête de la rue 🎉"
    for tab in (alice, carol_tab2, dave):
        assert await tab.expect("message.new") == {
            "type": "message.new",
            "message": message,
        }

    # A reply by conversation id lands in the same conversation.
    reply = await dave.send_message(
        client_id="g-2",
        body="J'apporte les tables",
        conversation=message["conversation"],
    )
    assert reply["type"] == "message.ack", reply
    assert reply["message"]["conversation"] == message["conversation"]
    assert reply["message"]["participants"] == expected
    assert reply["message"]["id"] > message["id"]
    for tab in (alice, carol, carol_tab2):
        frame = await tab.expect("message.new")
        assert frame["message"] == reply["message"]

    await eve.assert_silent(0.5)
    for tab in (alice, carol, carol_tab2, dave):
        await tab.assert_silent(0.0)


async def test_same_participants_same_conversation(
    world: World, connect: Connect
) -> None:
    """The same participant set, whoever starts it, maps to one conversation."""
    bob = await connect(world, "bob", "nord")
    eve = await connect(world, "eve", "nord")

    first = await bob.send_message(
        client_id="s-1", body="Salut", to=[world.user("eve")]
    )
    assert await eve.expect("message.new") == {
        "type": "message.new",
        "message": first["message"],
    }
    second = await eve.send_message(
        client_id="s-1", body="Coucou", to=[world.user("bob"), world.user("bob")]
    )

    assert first["type"] == second["type"] == "message.ack", (first, second)
    assert first["message"]["conversation"] == second["message"]["conversation"]
    assert second["message"]["id"] > first["message"]["id"]
    # client_id is unique per sender: the same string from two senders is two
    # messages.
    assert first["message"]["id"] != second["message"]["id"]


async def test_typing_and_receipts_reach_the_participants(
    world: World, connect: Connect
) -> None:
    """`typing` reaches the other participants only; `message.read` sends a
    receipt to the participants' sockets."""
    alice = await connect(world, "alice", "nord")
    carol = await connect(world, "carol", "nord")
    dave = await connect(world, "dave", "nord")
    ack = await alice.send_message(
        client_id="t-1", body="Qui est là ?", to=[world.user("carol")]
    )
    message = ack["message"]
    await carol.expect("message.new")

    await carol.typing(message["conversation"])
    assert await alice.expect("typing") == {
        "type": "typing",
        "conversation": message["conversation"],
        "user": world.user("carol"),
    }
    await carol.mark_read(message["conversation"], message["id"])
    receipt = {
        "type": "receipt",
        "conversation": message["conversation"],
        "user": world.user("carol"),
        "up_to": message["id"],
    }
    assert await alice.expect("receipt") == receipt
    assert await carol.expect("receipt") == receipt
    unread = {
        c["id"]: c["unread"]
        for c in world.http("carol").conversations(world.slug("nord"))
    }
    assert unread[message["conversation"]] == 0
    await dave.assert_silent(0.5)
