"""A seeded random workload: nobody ever sees a conversation they are not in."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.client import ChatSocket, HttpClient

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240, func_only=True)]

SEED = 20261126
OPERATIONS = 300
NORD = ["r0", "r1", "r2", "r3", "r4", "r5"]
SUD = ["r3", "r4", "r5", "r6", "r7"]
TWO_TABS = {("r0", "nord"), ("r3", "nord"), ("r6", "sud")}


# Residents of the shared communities, for this module only.
WORLD = {"nord": NORD, "sud": SUD}


@dataclass
class Truth:
    """What the server acknowledged: the reference everything is checked against."""

    conversations: dict[int, tuple[str, frozenset[str]]] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    # message id -> the socket it was acked on (None when sent over HTTP)
    origin: dict[int, ChatSocket | None] = field(default_factory=dict)

    def record(self, message: dict[str, Any], origin: ChatSocket | None) -> None:
        key = (message["community"], frozenset(message["participants"]))
        known = self.conversations.setdefault(message["conversation"], key)
        assert known == key, (known, message)
        assert message["id"] not in self.messages, message
        self.messages[message["id"]] = message
        self.origin[message["id"]] = origin

    def of(self, user: str, slug: str) -> list[dict[str, Any]]:
        return sorted(
            (
                m
                for m in self.messages.values()
                if m["community"] == slug and user in m["participants"]
            ),
            key=lambda m: m["id"],
        )


@dataclass
class Tab:
    resident: str  # logical name
    user: str
    community: str  # logical name
    slug: str
    socket: ChatSocket


async def reply_to(socket: ChatSocket, client_id: str) -> dict[str, Any]:
    """The ack or error answering one send, passing over other frames."""
    while True:
        frame = await socket.recv_json(10)
        if frame["type"] in ("message.ack", "error"):
            assert frame.get("client_id") == client_id, frame
            return frame


async def test_random_workload_keeps_every_conversation_private(
    world: World, connect: Connect
) -> None:
    """Over a few hundred random sends (socket and HTTP), intrusions, typing and
    reads, every frame, sync batch, conversation list and history page a
    resident gets concerns only their own conversations in that community, and
    every participant's socket gets every message exactly once."""
    rng = random.Random(SEED)
    members = {"nord": NORD, "sud": SUD}
    tabs: list[Tab] = []
    for community, residents in members.items():
        for resident in residents:
            count = 2 if (resident, community) in TWO_TABS else 1
            for index in range(count):
                socket = await connect(
                    world, resident, community, label=f"{resident}@{community}#{index}"
                )
                tabs.append(
                    Tab(
                        resident,
                        world.user(resident),
                        community,
                        world.slug(community),
                        socket,
                    )
                )
    http = {r: world.http(r) for r in sorted(set(NORD) | set(SUD))}
    truth = Truth()
    provoked_errors: Counter[int] = Counter()
    counter = 0

    def own_conversations(user: str, slug: str) -> list[int]:
        return [
            cid
            for cid, (where, people) in truth.conversations.items()
            if where == slug and user in people
        ]

    def foreign_conversations(user: str) -> list[int]:
        return [
            cid
            for cid, (_, people) in truth.conversations.items()
            if user not in people
        ]

    for _ in range(OPERATIONS):
        counter += 1
        client_id = f"op-{counter}"
        tab = rng.choice(tabs)
        slug, user = tab.slug, tab.user
        roll = rng.random()
        mine = own_conversations(user, slug)
        if roll < 0.08 and foreign_conversations(user):
            # Intrusion into someone else's conversation (any community).
            target = rng.choice(foreign_conversations(user))
            if rng.random() < 0.5:
                await tab.socket.send_json(
                    {
                        "type": "message.send",
                        "client_id": client_id,
                        "body": "intrus",
                        "conversation": target,
                    }
                )
                frame = await reply_to(tab.socket, client_id)
                assert (frame["type"], frame["code"]) == ("error", "not_found"), frame
                provoked_errors[id(tab.socket)] += 1
            else:
                answer = http[tab.resident].post(
                    f"/api/communities/{slug}/messages/",
                    {"client_id": client_id, "body": "intrus", "conversation": target},
                )
                assert answer.status_code == 404, answer.text
            continue
        if roll < 0.12:
            # One's own conversation, but in the other community: not here.
            elsewhere = [
                cid
                for cid, (where, people) in truth.conversations.items()
                if where != slug and user in people
            ]
            if elsewhere:
                await tab.socket.send_json(
                    {
                        "type": "message.send",
                        "client_id": client_id,
                        "body": "x",
                        "conversation": rng.choice(elsewhere),
                    }
                )
                frame = await reply_to(tab.socket, client_id)
                assert frame["code"] == "not_found", frame
                provoked_errors[id(tab.socket)] += 1
                continue
        if roll < 0.17 and mine:
            await tab.socket.typing(rng.choice(mine))
            continue
        if roll < 0.20 and mine:
            conversation = rng.choice(mine)
            newest = max(
                m["id"]
                for m in truth.messages.values()
                if m["conversation"] == conversation
            )
            await tab.socket.mark_read(conversation, newest)
            continue
        body = f"{client_id} {rng.choice(['tondeuse', 'colis', 'chat perdu', 'fête'])}"
        command: dict[str, Any] = {"client_id": client_id, "body": body}
        if mine and rng.random() < 0.4:
            command["conversation"] = rng.choice(mine)
            expected_people = truth.conversations[command["conversation"]][1]
        else:
            others = [
                world.user(r) for r in members[tab.community] if r != tab.resident
            ]
            recipients = rng.sample(others, rng.randint(1, 3))
            command["to"] = recipients
            expected_people = frozenset([user, *recipients])
        if rng.random() < 0.15:
            answer = http[tab.resident].post(
                f"/api/communities/{slug}/messages/", command
            )
            assert answer.status_code == 201, answer.text
            message, origin = answer.json(), None
        else:
            await tab.socket.send_json({"type": "message.send", **command})
            frame = await reply_to(tab.socket, client_id)
            assert frame["type"] == "message.ack", frame
            message, origin = frame["message"], tab.socket
        assert message["community"] == slug
        assert message["sender"] == user
        assert message["body"] == body
        assert frozenset(message["participants"]) == expected_people
        truth.record(message, origin)

    # Wait for every expected live delivery (or time out and report).
    def expected_live(tab: Tab) -> set[int]:
        return {
            m["id"]
            for m in truth.of(tab.user, tab.slug)
            if truth.origin[m["id"]] is not tab.socket
        }

    def live_ids(tab: Tab) -> list[int]:
        return [
            f["message"]["id"] for f in tab.socket.frames if f["type"] == "message.new"
        ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        if all(expected_live(t) <= set(live_ids(t)) for t in tabs):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # anything extra would arrive now

    assert len(truth.messages) > 150
    for tab in tabs:
        messages, batches = await tab.socket.sync_all(after=0)
        assert [m["id"] for m in messages] == [
            m["id"] for m in truth.of(tab.user, tab.slug)
        ]
        assert messages == truth.of(tab.user, tab.slug)
        assert all(len(b["messages"]) <= 200 for b in batches)

    for tab in tabs:
        check_frames(tab, truth, provoked_errors[id(tab.socket)])
        live = live_ids(tab)
        assert len(live) == len(set(live)), f"{tab.socket.label}: duplicates"
        assert set(live) == expected_live(tab), tab.socket.label
        acks = [
            f["message"]["id"] for f in tab.socket.frames if f["type"] == "message.ack"
        ]
        assert sorted(acks) == sorted(
            i for i, origin in truth.origin.items() if origin is tab.socket
        )
        assert not set(acks) & set(live)

    for resident, client in http.items():
        check_http(world, resident, client, truth, members)


def check_frames(tab: Tab, truth: Truth, provoked_errors: int) -> None:
    """Every frame this tab got concerns its resident's conversations here."""
    label = tab.socket.label
    errors = 0
    for frame in tab.socket.frames:
        kind = frame["type"]
        carried = []
        if kind in ("message.new", "message.ack"):
            carried = [frame["message"]]
        elif kind == "sync.batch":
            carried = frame["messages"]
        elif kind in ("typing", "receipt"):
            where, people = truth.conversations[frame["conversation"]]
            assert where == tab.slug, (label, frame)
            assert tab.user in people, (label, frame)
            assert frame["user"] in people, (label, frame)
            if kind == "typing":
                assert frame["user"] != tab.user, (label, frame)
        elif kind == "error":
            assert frame["code"] == "not_found", (label, frame)
            errors += 1
        else:
            raise AssertionError(f"{label}: unexpected frame {frame}")
        for message in carried:
            assert message == truth.messages[message["id"]], (label, message)
            assert message["community"] == tab.slug, (label, message)
            assert tab.user in message["participants"], (label, message)
    assert errors == provoked_errors, label


def check_http(
    world: World,
    resident: str,
    client: HttpClient,
    truth: Truth,
    members: dict[str, list[str]],
) -> None:
    """Lists and history pages over HTTP show the resident's own, nothing else."""
    user = world.user(resident)
    for community, residents in members.items():
        slug = world.slug(community)
        if resident not in residents:
            answer = client.get(f"/api/communities/{slug}/conversations/")
            assert answer.status_code == 404, (resident, slug)
            continue
        listed = client.conversations(slug)
        mine = {
            cid: people
            for cid, (where, people) in truth.conversations.items()
            if where == slug and user in people
        }
        assert {c["id"] for c in listed} == set(mine), (resident, slug)
        by_conversation: dict[int, list[int]] = defaultdict(list)
        for message in truth.of(user, slug):
            by_conversation[message["conversation"]].append(message["id"])
        for summary in listed:
            assert frozenset(summary["participants"]) == mine[summary["id"]]
            assert summary["last_message"]["id"] == max(by_conversation[summary["id"]])
            history = client.history(summary["id"])
            assert [m["id"] for m in history] == sorted(
                by_conversation[summary["id"]], reverse=True
            )
            for message in history:
                assert message == truth.messages[message["id"]]
    foreign = sorted(
        cid for cid, (_, people) in truth.conversations.items() if user not in people
    )
    for cid in random.Random(f"{SEED}-{resident}").sample(
        foreign, min(8, len(foreign))
    ):
        answer = client.get(f"/api/conversations/{cid}/messages/")
        assert answer.status_code == 404, (resident, cid)
