"""Communities are sealed from each other; conversations from non-participants."""

from __future__ import annotations

import pytest

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60, func_only=True)]

NOWHERE = 2**62


# Residents of the shared communities, for this module only.
WORLD = {"nord": ["alice", "bob", "carol"], "sud": ["alice", "bob", "dave"]}


async def test_each_community_socket_gets_only_its_messages(
    world: World, connect: Connect
) -> None:
    """A resident of two communities gets each community's messages on that
    community's socket only, and `sync` on each returns only its own."""
    alice_nord = await connect(world, "alice", "nord")
    alice_sud = await connect(world, "alice", "sud")
    bob_nord = await connect(world, "bob", "nord")
    bob_sud = await connect(world, "bob", "sud")
    to_alice = [world.user("alice")]

    in_nord = await bob_nord.send_message(client_id="n-1", body="au nord", to=to_alice)
    in_sud = await bob_sud.send_message(client_id="s-1", body="au sud", to=to_alice)

    assert in_nord["type"] == in_sud["type"] == "message.ack", (in_nord, in_sud)
    assert in_nord["message"]["community"] == world.slug("nord")
    assert in_sud["message"]["community"] == world.slug("sud")
    # Same participants, different communities: two conversations.
    assert in_nord["message"]["conversation"] != in_sud["message"]["conversation"]
    assert (await alice_nord.expect("message.new"))["message"] == in_nord["message"]
    assert (await alice_sud.expect("message.new"))["message"] == in_sud["message"]
    # Nothing crosses over: not to alice's other socket, nor to bob's.
    await alice_nord.assert_silent(0.5)
    await alice_sud.assert_silent(0.0)
    await bob_nord.assert_silent(0.0)
    await bob_sud.assert_silent(0.0)

    nord_sync, _ = await alice_nord.sync_all()
    sud_sync, _ = await alice_sud.sync_all()
    assert {m["community"] for m in nord_sync} == {world.slug("nord")}
    assert {m["community"] for m in sud_sync} == {world.slug("sud")}
    assert in_nord["message"] in nord_sync
    assert in_sud["message"] in sud_sync


async def test_conversation_of_other_community_is_not_found_on_socket(
    world: World, connect: Connect
) -> None:
    """On one community's socket, a conversation of another community (even
    one the resident takes part in) is `not_found`, like a missing id."""
    alice_sud = await connect(world, "alice", "sud")
    bob_sud = await connect(world, "bob", "sud")
    sud = await alice_sud.send_message(
        client_id="x-1", body="sud", to=[world.user("bob")]
    )
    await bob_sud.expect("message.new")
    alice_nord = await connect(world, "alice", "nord")

    frames = []
    for conversation in (sud["message"]["conversation"], NOWHERE):
        frames.append(
            await alice_nord.send_message(
                client_id="x-2", body="mauvais quartier", conversation=conversation
            )
        )
    assert frames[0] == frames[1]
    assert frames[0]["code"] == "not_found"
    await bob_sud.assert_silent(0.5)


async def test_http_hides_other_peoples_conversations(
    world: World, connect: Connect
) -> None:
    """Over HTTP, others' conversations and other communities answer 404 with
    the very body a nonexistent one gets; lists show only one's own."""
    bob_nord = await connect(world, "bob", "nord")
    private = await bob_nord.send_message(
        client_id="h-1", body="secret", to=[world.user("alice")]
    )
    conversation = private["message"]["conversation"]
    carol = world.http("carol")
    dave = world.http("dave")

    theirs = carol.get(f"/api/conversations/{conversation}/messages/")
    missing = carol.get(f"/api/conversations/{NOWHERE}/messages/")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert theirs.json()["code"] == "not_found"
    assert conversation not in {
        c["id"] for c in carol.conversations(world.slug("nord"))
    }

    # dave is in sud only: nord does not exist for him.
    not_member = dave.get(f"/api/communities/{world.slug('nord')}/conversations/")
    unknown = dave.get("/api/communities/no-such-place/conversations/")
    assert not_member.status_code == unknown.status_code == 404
    assert not_member.json() == unknown.json()
    assert (
        dave.get(f"/api/conversations/{conversation}/messages/").json()
        == missing.json()
    )

    # A send over HTTP into someone else's conversation: 404, nothing stored.
    intrusion = carol.post(
        f"/api/communities/{world.slug('nord')}/messages/",
        {"client_id": "h-2", "body": "coucou", "conversation": conversation},
    )
    assert intrusion.status_code == 404, intrusion.text
    assert intrusion.json() == missing.json()
    alice = world.http("alice")
    newest = alice.history(conversation)[0]
    assert newest["id"] == private["message"]["id"]
    nord_ids = {c["id"] for c in alice.conversations(world.slug("nord"))}
    sud_ids = {c["id"] for c in alice.conversations(world.slug("sud"))}
    assert conversation in nord_ids
    assert not nord_ids & sud_ids
    communities = alice.get("/api/communities/").json()
    assert sorted(c["slug"] for c in communities) == sorted(
        [world.slug("nord"), world.slug("sud")]
    )
    assert [c["slug"] for c in carol.get("/api/communities/").json()] == [
        world.slug("nord")
    ]
