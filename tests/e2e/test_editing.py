"""Edits, deletions and separate copies over real sockets (contract v2)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.client import assert_message_object
from tests.support.servers import DaphneServer

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90, func_only=True)]

WORLD = {"nord": ["alice", "bob", "carol", "dave", "eve"]}


async def test_edit_and_delete_reach_every_tab_of_every_participant(
    world: World, connect: Connect
) -> None:
    """message.updated goes to every socket of the participants, the editing
    one included, and to nobody else."""
    alice = await connect(world, "alice", "nord", label="alice-tab1")
    alice_other = await connect(world, "alice", "nord", label="alice-tab2")
    bob = await connect(world, "bob", "nord")
    eve = await connect(world, "eve", "nord")
    ack = await alice.send_message(
        client_id="ed-1", body="Rendez-vous à 10 h", to=[world.user("bob")]
    )
    message = ack["message"]
    await bob.next_of("message.new")
    await alice_other.next_of("message.new")

    await alice.send_json({"type": "message.edit", "id": message["id"], "body": "11 h"})
    for tab in (alice, alice_other, bob):
        frame = await tab.next_of("message.updated")
        edited = frame["message"]
        assert_message_object(edited)
        assert (edited["id"], edited["body"]) == (message["id"], "11 h")
        assert edited["edited_at"] is not None
        assert edited["rev"] > message["rev"]

    await alice.send_json({"type": "message.delete", "id": message["id"]})
    for tab in (alice, alice_other, bob):
        frame = await tab.next_of("message.updated")
        deleted = frame["message"]
        assert (deleted["id"], deleted["body"], deleted["deleted"]) == (
            message["id"],
            "",
            True,
        )
        assert deleted["attachments"] == []
    # eve's socket saw nothing at all: a ping round trip comes back alone.
    await eve.ping()
    assert [f["type"] for f in eve.frames] == ["pong"]
    history = world.http("bob").history(message["conversation"])
    assert [(m["id"], m["body"], m["deleted"]) for m in history] == [
        (message["id"], "", True)
    ]


async def test_only_the_sender_edits_and_strangers_get_not_found(
    world: World, connect: Connect
) -> None:
    alice = await connect(world, "alice", "nord")
    bob = await connect(world, "bob", "nord")
    eve = await connect(world, "eve", "nord")
    ack = await alice.send_message(
        client_id="ed-2", body="À moi", to=[world.user("bob")]
    )
    message_id = ack["message"]["id"]
    await bob.send_json({"type": "message.edit", "id": message_id, "body": "À toi"})
    refused = await bob.next_of("error")
    assert refused["code"] == "not_allowed"
    for frame in (
        {"type": "message.edit", "id": message_id, "body": "x"},
        {"type": "message.delete", "id": message_id},
        {"type": "message.delete", "id": 10**15},
    ):
        await eve.send_json(frame)
        error = await eve.next_of("error")
        assert (error["code"], error["detail"]) == ("not_found", "No such message.")


async def test_offline_client_catches_edit_and_deletion_with_since_rev(
    world: World, connect: Connect
) -> None:
    """bob is offline while alice edits one message and deletes another: his
    sync with since_rev brings both back in their new state, by rev."""
    alice = await connect(world, "alice", "nord")
    bob = await connect(world, "bob", "nord")
    acks = [
        await alice.send_message(
            client_id=f"ed-3-{i}", body=f"annonce {i}", to=[world.user("bob")]
        )
        for i in range(3)
    ]
    seen = [(await bob.next_of("message.new"))["message"] for _ in acks]
    last_id, last_rev = seen[-1]["id"], max(m["rev"] for m in seen)
    await bob.close()

    first, second = acks[0]["message"], acks[1]["message"]
    await alice.send_json({"type": "message.edit", "id": first["id"], "body": "bis"})
    await alice.next_of("message.updated")
    await alice.send_json({"type": "message.delete", "id": second["id"]})
    await alice.next_of("message.updated")

    bob = await connect(world, "bob", "nord", label="bob-back")
    await bob.send_json({"type": "sync", "after": last_id, "since_rev": last_rev})
    batch = await bob.next_of("sync.batch")
    assert batch["messages"] == []
    assert [(m["id"], m["body"], m["deleted"]) for m in batch["changed"]] == [
        (first["id"], "bis", False),
        (second["id"], "", True),
    ]
    assert batch["more"] is False
    await bob.send_json({"type": "sync", "after": last_id})
    plain = await bob.next_of("sync.batch")
    assert "changed" not in plain


@pytest.fixture(scope="module")
def short_window_server(world: World) -> Iterator[DaphneServer]:
    """A server of the same site whose edit window is one second."""
    server = world.site.server("short-window", MESSAGE_EDIT_WINDOW_SECONDS="1")
    yield server
    server.stop()


async def test_edit_after_the_window_is_edit_window_closed(
    world: World, connect: Connect, short_window_server: DaphneServer
) -> None:
    alice = await connect(world, "alice", "nord", server=short_window_server)
    ack = await alice.send_message(
        client_id="ed-4", body="Vite", to=[world.user("carol")]
    )
    # The window is a duration: let it pass.
    await asyncio.sleep(1.5)
    await alice.send_json(
        {"type": "message.edit", "id": ack["message"]["id"], "body": "Trop tard"}
    )
    error = await alice.next_of("error")
    assert error["code"] == "edit_window_closed"
    await alice.send_json({"type": "message.delete", "id": ack["message"]["id"]})
    assert (await alice.next_of("message.updated"))["message"]["deleted"]


async def test_separate_copies_to_three_neighbours_reveal_no_names(
    world: World, connect: Connect
) -> None:
    """One ack lists three messages in three 1-to-1 conversations; each
    neighbour gets only their own copy, naming only alice and themselves."""
    alice = await connect(world, "alice", "nord")
    tabs = {
        name: await connect(world, name, "nord") for name in ("bob", "carol", "dave")
    }
    eve = await connect(world, "eve", "nord")
    names = [world.user(name) for name in tabs]
    ack = await alice.send_message(
        client_id="ed-5", body="Chat perdu rue Bichat", to=names
    )
    assert ack["type"] == "message.ack"
    assert len(ack["messages"]) == 1  # without `separate`: one group message
    await alice.send_json(
        {
            "type": "message.send",
            "client_id": "ed-6",
            "body": "Fête de la rue samedi",
            "to": names,
            "separate": True,
        }
    )
    ack = await alice.next_of("message.ack")
    copies = ack["messages"]
    assert ack["message"] == copies[0]
    assert sorted(
        m["participants"][1]
        if m["participants"][0] == world.user("alice")
        else m["participants"][0]
        for m in copies
    ) == sorted(names)
    assert len({m["conversation"] for m in copies}) == 3
    for name, tab in tabs.items():
        frames = tab.drain()
        while not any(
            f["type"] == "message.new" and f["message"]["client_id"] == "ed-6"
            for f in frames
        ):
            frames.append(await tab.recv_json())
        mine = [
            f["message"]
            for f in frames
            if f["type"] == "message.new" and f["message"]["client_id"] == "ed-6"
        ]
        assert len(mine) == 1
        assert mine[0]["participants"] == sorted(
            [world.user("alice"), world.user(name)]
        )
        for other in set(names) - {world.user(name)}:
            assert other not in str(mine[0])
    await eve.ping()
    assert [f["type"] for f in eve.frames] == ["pong"]
    await alice.send_json(
        {
            "type": "message.send",
            "client_id": "ed-6",
            "body": "Fête de la rue samedi",
            "to": names,
            "separate": True,
        }
    )
    resent = await alice.next_of("message.ack")
    assert resent["messages"] == copies
