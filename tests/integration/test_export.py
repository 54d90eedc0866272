"""GET /api/me/export/: exactly the resident's data, streamed with flat
memory."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import AsyncClient, Client

from conversations.errors import Blocked
from conversations.models import Community, Conversation, Message, Participant, User
from conversations.selectors.export import export_document
from conversations.services.blocks import block_add
from conversations.services.conversations import conversation_update
from conversations.services.editing import message_delete, message_edit
from conversations.services.send import SendRequest, message_send
from tests.support.images import jpeg_with_gps

from .test_attachments import logged_in, upload, upload_as

pytestmark = pytest.mark.django_db

RESIDENTS = ["amel", "basile", "chloe", "dario", "eliane", "farid"]
OPERATIONS = 120


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@dataclass
class Truth:
    """What the services answered: the reference the exports must match."""

    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocks: dict[str, set[str]] = field(default_factory=dict)
    muted: set[tuple[str, int]] = field(default_factory=set)

    def record(self, message: dict[str, Any]) -> None:
        self.messages[message["id"]] = message

    def of(self, username: str) -> dict[int, list[dict[str, Any]]]:
        """The resident's conversations and their messages, ascending."""
        result: dict[int, list[dict[str, Any]]] = {}
        for message_id in sorted(self.messages):
            message = self.messages[message_id]
            if username in message["participants"]:
                result.setdefault(message["conversation"], []).append(message)
        return result


@dataclass
class Step:
    """One random operation: who acts, where, towards whom."""

    number: int
    place: Community
    sender: User
    others: list[str]
    roll: float


def change_one(step: Step, truth: Truth, rng: random.Random) -> bool:
    """Edit or delete one of the sender's messages (when the roll says so
    and they have one); whether it did."""
    name = step.sender.username
    mine = [
        m for m in truth.messages.values() if m["sender"] == name and not m["deleted"]
    ]
    if step.roll >= 0.18 or not mine:
        return False
    target = rng.choice(mine)
    place = Community.objects.get(slug=target["community"])
    if step.roll < 0.1:
        changed = message_edit(
            user=step.sender,
            community=place,
            message_id=target["id"],
            body=f"corrigé {step.number}",
        )
    else:
        changed = message_delete(
            user=step.sender, community=place, message_id=target["id"]
        )
    truth.record(changed)
    return True


def send_one(step: Step, truth: Truth, seed: int) -> None:
    """A send: one-to-one or a group, sometimes separate copies or a photo,
    sometimes muted afterwards; a refusal by a block stores nothing."""
    attachment_ids: tuple[int, ...] = ()
    if step.roll < 0.26:
        photo = upload(
            logged_in(step.sender),
            f"photo-{step.number}.jpg",
            jpeg_with_gps(),
            path=f"/api/communities/{step.place.slug}/attachments/",
        )
        attachment_ids = (photo.json()["id"],)
    request = SendRequest.of(
        step.sender,
        step.place,
        client_id=f"w{seed}-{step.number}",
        body=f"message {step.number} de {step.sender.username}",
        to=tuple(sorted(step.others)),
        attachment_ids=attachment_ids,
        separate=len(step.others) > 1 and step.roll > 0.9,
    )
    try:
        result = message_send(request)
    except Blocked:
        return
    for message in result.messages:
        truth.record(message)
    if step.roll > 0.95:
        conversation = result.message["conversation"]
        conversation_update(
            user=step.sender, conversation_id=conversation, changes={"muted": True}
        )
        truth.muted.add((step.sender.username, conversation))


def build_world(
    seed: int,
    make_resident: Callable[..., User],
    community: Community,
    other_community: Community,
) -> tuple[dict[str, User], Truth]:
    """Residents in two overlapping communities; random sends (one-to-one,
    groups, separate copies, with a photo), edits, deletions, blocks, mutes."""
    rng = random.Random(seed)
    homes = {community: RESIDENTS[:4], other_community: RESIDENTS[2:]}
    users: dict[str, User] = {}
    for place, names in homes.items():
        for name in names:
            users[name] = make_resident(place, name, f"{name.title()} Nom{seed}")
    truth = Truth()
    for number in range(OPERATIONS):
        place = rng.choice(list(homes))
        sender_name, *others = rng.sample(homes[place], rng.choice([2, 2, 3, 4]))
        step = Step(number, place, users[sender_name], others, rng.random())
        if change_one(step, truth, rng):
            continue
        if step.roll < 0.22:
            blocked = rng.choice(others)
            block_add(blocker=step.sender, username=blocked)
            truth.blocks.setdefault(sender_name, set()).add(blocked)
            continue
        send_one(step, truth, seed)
    return users, truth


def exported(user: User) -> dict[str, Any]:
    response = logged_in(user).get("/api/me/export/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    document: dict[str, Any] = json.loads(text)
    document["_text"] = text
    return document


@pytest.mark.parametrize("seed", [20261201, 7, 4242])
def test_an_export_holds_exactly_the_residents_conversations_and_messages(
    seed: int,
    make_resident: Callable[..., User],
    community: Community,
    other_community: Community,
) -> None:
    """For every resident of a random world: their conversations, each with
    exactly its messages in their current state (edits, tombstones), their
    blocks and mutes; their own email and no one else's."""
    users, truth = build_world(seed, make_resident, community, other_community)
    for name, user in users.items():
        document = exported(user)
        expected = truth.of(name)
        conversations = {c["id"]: c for c in document["conversations"]}
        assert set(conversations) == set(expected), name
        for conversation_id, messages in expected.items():
            got = conversations[conversation_id]
            assert got["messages"] == messages, (name, conversation_id)
            assert got["participants"] == messages[0]["participants"]
            assert got["muted"] == ((name, conversation_id) in truth.muted)
        assert document["account"]["username"] == name
        assert document["account"]["email"] == f"{name}@example.org"
        blocked = {b["username"] for b in document["blocks"]}
        assert blocked == truth.blocks.get(name, set())
        for other in users:
            if other != name:
                assert f"{other}@example.org" not in document["_text"], (name, other)
                assert f"{other.title()} Nom{seed}" not in document["_text"]


def test_an_export_lists_the_rest_of_the_account(
    alice: User, bob: User, community: Community
) -> None:
    """Memberships, preferences, account history, unsent uploads; the
    attachment links stay access-checked."""
    upload = upload_as(alice, "pas-encore.jpg", jpeg_with_gps())
    photo = upload_as(alice, "envoyee.jpg", jpeg_with_gps())
    sent = message_send(
        SendRequest.of(
            alice,
            community,
            client_id="photo",
            body="",
            to=("bob",),
            attachment_ids=(photo["id"],),
        )
    ).message
    document = exported(alice)
    assert document["format"] == "voisins-export/1"
    assert document["memberships"] == [
        {
            "community": "bourg-centre",
            "name": "Bourg Centre",
            "status": "active",
            "since": document["memberships"][0]["since"],
        }
    ]
    assert document["preferences"]["language"] == "fr"
    assert [e["kind"] for e in document["account_events"]] == ["membership_added"]
    assert [u["id"] for u in document["uploads"]] == [upload["id"]]
    (conversation,) = document["conversations"]
    (message,) = conversation["messages"]
    assert message == sent
    url = message["attachments"][0]["url"]
    assert logged_in(alice).get(url).status_code == 200
    assert logged_in(bob).get(url).status_code == 200


def test_the_export_is_a_download_kept_out_of_caches(alice: User) -> None:
    """A JSON attachment named after the resident and the day, never stored
    by a cache."""
    response = logged_in(alice).get("/api/me/export/")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="voisins-alice-'
    )
    assert response["Content-Disposition"].endswith('.json"')
    assert response["Cache-Control"] == "private, no-store"


def test_the_export_needs_a_session() -> None:
    assert Client().get("/api/me/export/").status_code == 401


def many_messages(alice: User, bob: User, community: Community, count: int) -> None:
    conversation = Conversation.objects.create(
        community=community, participant_key=f"big-{count}"
    )
    Participant.objects.bulk_create(
        Participant(conversation=conversation, user=user) for user in (alice, bob)
    )
    body = "Bonjour, voisin ! " * 12
    Message.objects.bulk_create(
        (
            Message(
                conversation=conversation,
                community=community,
                sender=alice if index % 2 else bob,
                client_id=f"many-{count}-{index}",
                body=body,
            )
            for index in range(count)
        ),
        batch_size=2000,
    )


def peak_while_reading(user: User) -> tuple[int, int]:
    """(peak traced memory while the whole document is read, its size)."""
    tracemalloc.start()
    try:
        size = sum(len(piece) for piece in export_document(user_id=user.pk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size


def test_memory_stays_flat_however_many_messages(
    alice: User, bob: User, community: Community
) -> None:
    """Ten times the messages (1,000 then 10,000, about 5 MB of JSON) does
    not raise the peak memory of writing the document (about 2 MB, measured
    with tracemalloc): pages of 500 messages are read and written one at a
    time."""
    many_messages(alice, bob, community, 1_000)
    small_peak, small_size = peak_while_reading(alice)
    many_messages(alice, bob, community, 9_000)
    large_peak, large_size = peak_while_reading(alice)
    assert large_size > 9 * small_size
    assert large_peak < 1.5 * small_peak
    assert large_peak < large_size / 2


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_export_streams_in_blocks(alice: User) -> None:
    """Served the way daphne serves it, the document comes as an
    asynchronous stream of blocks, the same JSON."""
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.get("/api/me/export/")
    assert response.status_code == 200
    assert response.is_async
    blocks = [block async for block in response.streaming_content]
    document = json.loads(b"".join(blocks))
    assert document["account"]["username"] == "alice"
