"""The same client_id from the same sender never creates two messages."""

from __future__ import annotations

import pytest

from tests.support.client import assert_message_object

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60, func_only=True)]


# Residents of the shared communities, for this module only.
WORLD = {"nord": ["alice", "bob", "carol", "dave"]}


async def test_resend_over_new_socket_returns_same_ack(
    world: World, connect: Connect
) -> None:
    """Re-sending a client_id over a new socket returns the very same ack and
    creates nothing: no second message, no second delivery."""
    bob = await connect(world, "bob", "nord")
    first_socket = await connect(world, "alice", "nord", label="alice-1")
    first = await first_socket.send_message(
        client_id="idem-1", body="Une seule fois", to=[world.user("bob")]
    )
    assert first["type"] == "message.ack", first
    await bob.expect("message.new")
    await first_socket.close()

    second_socket = await connect(world, "alice", "nord", label="alice-2")
    second = await second_socket.send_message(
        client_id="idem-1", body="Une seule fois", to=[world.user("bob")]
    )

    assert second == first
    await bob.assert_silent(0.5)
    await second_socket.assert_silent(0.0)
    history = world.http("alice").history(first["message"]["conversation"])
    assert [m["id"] for m in history] == [first["message"]["id"]]


async def test_resend_with_other_body_still_returns_the_original(
    world: World, connect: Connect
) -> None:
    """A resend with the same client_id but another body returns the original
    message: the client_id, not the content, identifies it."""
    alice = await connect(world, "alice", "nord")
    first = await alice.send_message(
        client_id="idem-2", body="Original", to=[world.user("carol")]
    )
    again = await alice.send_message(
        client_id="idem-2", body="Autre texte", to=[world.user("carol")]
    )
    assert again == first
    assert again["message"]["body"] == "Original"


async def test_http_send_is_idempotent_with_socket_sends(
    world: World, connect: Connect
) -> None:
    """POST /api/communities/<slug>/messages/ answers 201 the first time and
    200 with the same object for a used client_id, whether it was first used
    over HTTP or over the socket."""
    dave = await connect(world, "dave", "nord")
    alice = world.http("alice")
    path = f"/api/communities/{world.slug('nord')}/messages/"
    body = {"client_id": "http-1", "body": " Par HTTP ", "to": [world.user("dave")]}

    created = alice.post(path, body)
    assert created.status_code == 201, created.text
    message = created.json()
    assert_message_object(message)
    assert message["body"] == "Par HTTP"
    assert message["client_id"] == "http-1"
    assert await dave.expect("message.new") == {
        "type": "message.new",
        "message": message,
    }

    repeated = alice.post(path, body)
    assert repeated.status_code == 200, repeated.text
    assert repeated.json() == message
    await dave.assert_silent(0.5)

    # A client_id first used on the socket, then over HTTP.
    alice_socket = await connect(world, "alice", "nord")
    ack = await alice_socket.send_message(
        client_id="sock-1", body="Par le socket", to=[world.user("dave")]
    )
    assert ack["type"] == "message.ack", ack
    await dave.expect("message.new")
    over_http = alice.post(
        path,
        {"client_id": "sock-1", "body": "Par le socket", "to": [world.user("dave")]},
    )
    assert over_http.status_code == 200, over_http.text
    assert over_http.json() == ack["message"]
    await dave.assert_silent(0.5)
    ids = [m["id"] for m in alice.history(message["conversation"])]
    assert ids == [ack["message"]["id"], message["id"]]
