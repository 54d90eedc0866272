"""Nobody let in: a property test over generated neighbourhoods.

Hypothesis draws communities, memberships, conversations with messages and
later suspensions; then every entry point is exercised as every resident:
the socket (handshake, sync, send, read, typing, live fan-out), the HTTP API
(history, conversation list, send), push deliveries (to a loopback push
service) and notification emails. Nothing may reach a resident who is not an
active participant, and a foreign id must get exactly the answer a missing id
gets.

In process (the real ASGI application and channel layer, no daphne), so that
25 generated worlds run in well under a minute.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.test import Client
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatsite.asgi import application
from conversations import sockets
from conversations.models import Community, Membership, Message, User
from conversations.services.access import (
    community_create,
    membership_suspend,
    resident_add,
)
from conversations.services.preferences import push_subscription_save
from conversations.services.send import SendRequest, message_send

from .figures import record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

ORIGIN = "http://127.0.0.1:8000"  # the test settings' SITE_URL
MISSING_ID = 2**62
_names = itertools.count(1)
_totals: dict[str, int] = {
    "worlds": 0,
    "checks": 0,
    "frames_to_outsiders": 0,
    "pages_to_outsiders": 0,
    "emails_to_outsiders": 0,
    "pushes_to_outsiders": 0,
}


# The generated world.


@dataclass(frozen=True)
class Plan:
    residents: int
    communities: int
    # membership[r][c]: None (not a member) or True (active); suspensions later.
    members: tuple[tuple[bool, ...], ...]
    # (community, participants, senders of its messages)
    conversations: tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]
    suspend: tuple[tuple[int, int], ...]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    residents = draw(st.integers(2, 5))
    communities = draw(st.integers(1, 3))
    members = tuple(
        tuple(draw(st.booleans()) for _ in range(communities)) for _ in range(residents)
    )
    conversations = []
    for _ in range(draw(st.integers(1, 4))):
        community = draw(st.integers(0, communities - 1))
        eligible = [r for r in range(residents) if members[r][community]]
        if len(eligible) < 2:
            continue
        participants = tuple(
            sorted(
                draw(
                    st.lists(
                        st.sampled_from(eligible),
                        min_size=2,
                        max_size=len(eligible),
                        unique=True,
                    )
                )
            )
        )
        senders = tuple(
            draw(st.lists(st.sampled_from(participants), min_size=1, max_size=2))
        )
        conversations.append((community, participants, senders))
    pairs = [
        (r, c) for r in range(residents) for c in range(communities) if members[r][c]
    ]
    suspend = tuple(
        draw(st.lists(st.sampled_from(pairs), max_size=2, unique=True)) if pairs else []
    )
    return Plan(residents, communities, members, tuple(conversations), suspend)


@dataclass
class World:
    users: list[User]
    communities: list[Community]
    active: set[tuple[int, int]]  # (resident, community) after suspensions
    conversations: list[tuple[int, int, set[int]]]  # (id, community, participants)
    bodies: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> conv

    def visible(self, resident: int, community: int | None = None) -> set[int]:
        """Conversation ids the resident may see (in one community, or any)."""
        return {
            cid
            for cid, c, people in self.conversations
            if resident in people
            and (resident, c) in self.active
            and (community is None or c == community)
        }

    def conversation_community(self, cid: int) -> int:
        return next(c for conv, c, _ in self.conversations if conv == cid)


def build(plan: Plan) -> World:
    """Create the world through the services, as the app would."""
    tag = next(_names)
    communities = [
        community_create(slug=f"prop-{tag}-{c}", name=f"Quartier {tag} {c}")[0]
        for c in range(plan.communities)
    ]
    users: list[User] = []
    for r in range(plan.residents):
        user = None
        for c, member in enumerate(plan.members[r]):
            if member:
                user, _ = resident_add(
                    community=communities[c],
                    username=f"p{tag}r{r}",
                    email=f"p{tag}r{r}@example.org",
                    display_name=f"Resident {r}",
                )
        if user is None:
            user = User.objects.create_user(f"p{tag}r{r}", f"p{tag}r{r}@example.org")
        users.append(user)
        push_subscription_save(
            user=user,
            subscription={
                "endpoint": f"{_push_sink.url}/{user.username}",
                "keys": _push_keys(),
            },
        )
    world = World(users, communities, set(), [])
    seen: set[tuple[int, tuple[int, ...]]] = set()
    for c, participants, senders in plan.conversations:
        for sender in senders:
            others = [users[p].username for p in participants if p != sender]
            body = f"secret-{tag}-{len(world.bodies)}"
            result = message_send(
                SendRequest.of(
                    users[sender],
                    communities[c],
                    client_id=f"c{len(world.bodies)}",
                    body=body,
                    to=tuple(sorted(others)),
                )
            )
            cid = result.message["conversation"]
            world.bodies[result.message["id"]] = (cid, body)
            if (c, participants) not in seen:
                seen.add((c, participants))
                world.conversations.append((cid, c, set(participants)))
    for r, c in plan.suspend:
        membership_suspend(
            membership=Membership.objects.get(user=users[r], community=communities[c])
        )
    world.active = {
        (r, c)
        for r in range(plan.residents)
        for c in range(plan.communities)
        if plan.members[r][c] and (r, c) not in plan.suspend
    }
    return world


# A loopback push service: records which resident got a push for which
# conversation (the Topic header names it), answers 201.


class _PushSink:
    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                sink.received.append(
                    (self.path.rsplit("/", 1)[-1], self.headers.get("Topic", ""))
                )
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


_push_sink = _PushSink()


def _push_keys() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "p256dh": base64.urlsafe_b64encode(public).rstrip(b"=").decode(),
        "auth": base64.urlsafe_b64encode(b"0123456789abcdef").rstrip(b"=").decode(),
    }


# Exercising the entry points.


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def handshake(cookie: str, slug: str) -> WebsocketCommunicator | None:
    comm = WebsocketCommunicator(
        application,
        f"/ws/communities/{slug}/",
        [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", ORIGIN.encode())],
    )
    connected, _ = await comm.connect(timeout=3)
    if not connected:
        await comm.disconnect()
        return None
    return comm


async def until_pong(comm: WebsocketCommunicator, log: list[Any]) -> list[Any]:
    """Send a ping and read until its pong: the frames that answered what was
    sent before it (the consumer handles a socket's frames in order). Every
    frame is also appended to `log`."""
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    frames = []
    while True:
        output = await comm.receive_output(5)
        assert output["type"] == "websocket.send", output
        frame = json.loads(output["text"])
        if frame["type"] == "pong":
            return frames
        frames.append(frame)
        log.append(frame)


def strip(frame: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in frame.items() if k != "client_id"}


async def exercise_sockets(world: World, cookies: list[str]) -> None:
    """Handshakes, sync, then send/read/typing on every id by everyone."""
    sockets.local_sockets._watcher = None  # a new event loop per example
    layer = get_channel_layer()
    assert layer is not None
    await layer.flush()
    open_: dict[tuple[int, int], WebsocketCommunicator] = {}
    logs: dict[tuple[int, int], list[Any]] = {}
    try:
        for r, cookie in enumerate(cookies):
            for c, community in enumerate(world.communities):
                comm = await handshake(cookie, community.slug)
                assert (comm is not None) == ((r, c) in world.active), (r, c)
                _totals["checks"] += 1
                if comm is not None:
                    open_[(r, c)] = comm
                    logs[(r, c)] = []
        for (r, c), comm in open_.items():
            await comm.send_to(text_data=json.dumps({"type": "sync", "after": 0}))
            (batch,) = await until_pong(comm, logs[(r, c)])
            got = {m["id"] for m in batch["messages"]}
            want = {
                mid
                for mid, (cid, _) in world.bodies.items()
                if cid in world.visible(r, c)
            }
            assert got == want, (r, c, got, want)
            _totals["checks"] += 1
        all_ids = [cid for cid, _, _ in world.conversations]
        for (r, c), comm in open_.items():
            mine = world.visible(r, c)
            answers: dict[str, Any] = {}
            for cid in [MISSING_ID, *all_ids]:
                for frame in (
                    {"type": "typing", "conversation": cid},
                    {"type": "message.read", "conversation": cid, "up_to": 2**40},
                    {
                        "type": "message.send",
                        "client_id": f"x{r}-{c}-{cid}",
                        "body": "hello",
                        "conversation": cid,
                    },
                ):
                    await comm.send_to(text_data=json.dumps(frame))
                    replies = [
                        f
                        for f in await until_pong(comm, logs[(r, c)])
                        if f["type"] == "error"
                    ]
                    kind = str(frame["type"])
                    if cid in mine:
                        assert replies == [], (frame, replies)
                    else:
                        # A foreign id answers exactly like a missing one.
                        assert len(replies) == 1, (frame, replies)
                        answers.setdefault(kind, strip(replies[0]))
                        assert strip(replies[0]) == answers[kind], (frame, replies)
                        assert replies[0]["code"] == "not_found"
                    _totals["checks"] += 1
        # Every live frame went to a participant of its conversation.
        await asyncio.sleep(0.1)
        for (r, c), comm in open_.items():
            mine = world.visible(r, c)
            await until_pong(comm, logs[(r, c)])
            for frame in logs[(r, c)]:
                if frame["type"] == "message.new":
                    cid = frame["message"]["conversation"]
                elif frame["type"] in ("typing", "receipt"):
                    cid = frame["conversation"]
                else:
                    continue
                if cid not in mine:
                    _totals["frames_to_outsiders"] += 1
                assert cid in mine, (r, c, frame)
                _totals["checks"] += 1
    finally:
        for comm in open_.values():
            await comm.disconnect()


def exercise_http(world: World, cookies: list[str]) -> None:
    """History, conversation lists and sends over HTTP, as every resident."""
    for r, cookie in enumerate(cookies):
        client = Client()
        client.cookies["sessionid"] = cookie
        missing = client.get(f"/api/conversations/{MISSING_ID}/messages/")
        assert missing.status_code == 404
        for cid, _, _ in world.conversations:
            page = client.get(f"/api/conversations/{cid}/messages/?limit=200")
            if cid in world.visible(r):
                assert page.status_code == 200
            else:
                if page.status_code != 404:
                    _totals["pages_to_outsiders"] += 1
                assert page.status_code == 404, (r, cid, page.content)
                assert page.content == missing.content
            _totals["checks"] += 1
        for c, community in enumerate(world.communities):
            listing = client.get(f"/api/communities/{community.slug}/conversations/")
            if (r, c) in world.active:
                assert listing.status_code == 200
                assert {x["id"] for x in listing.json()} == world.visible(r, c)
            else:
                assert listing.status_code == 404
            _totals["checks"] += 1
            for cid, _, _ in world.conversations:
                sent = client.post(
                    f"/api/communities/{community.slug}/messages/",
                    {"client_id": f"h{r}-{c}-{cid}", "body": "hi", "conversation": cid},
                    content_type="application/json",
                )
                expected = 201 if cid in world.visible(r, c) else 404
                assert sent.status_code == expected, (r, c, cid, sent.content)
                _totals["checks"] += 1


def exercise_notifications(world: World) -> None:
    """Run the queued pushes and email batches as the worker would."""
    _push_sink.received.clear()
    mail.outbox.clear()
    for row in DBTaskResult.objects.filter(status="READY"):
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.delete()
    by_name = {u.username: r for r, u in enumerate(world.users)}
    for username, topic in _push_sink.received:
        r = by_name[username]
        cid = int(topic.removeprefix("conversation-"))
        if cid not in world.visible(r):
            _totals["pushes_to_outsiders"] += 1
        assert cid in world.visible(r), ("push", username, topic)
        _totals["checks"] += 1
    by_email = {u.email: r for r, u in enumerate(world.users)}
    for email in mail.outbox:
        (address,) = email.to
        r = by_email[address]
        text = email.body + "".join(str(part[0]) for part in email.alternatives)
        for cid, body in world.bodies.values():
            if body in text and cid not in world.visible(r):
                _totals["emails_to_outsiders"] += 1
            assert body not in text or cid in world.visible(r), ("email", r, body)
            _totals["checks"] += 1


@pytest.fixture
def private_pushes(settings: Any) -> None:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True
    settings.NOTIFY_EMAIL_DELAY_SECONDS = 0
    return


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_nothing_reaches_non_participants(plan: Plan, private_pushes: None) -> None:
    """Over generated worlds: sockets, HTTP, pushes and emails show each
    resident only the conversations they take part in, in communities where
    they are active; foreign ids are answered exactly as missing ids."""
    world = build(plan)
    cookies = [session_cookie(user) for user in world.users]
    before = Message.objects.count()
    asyncio.run(exercise_sockets(world, cookies))
    exercise_http(world, cookies)
    exercise_notifications(world)
    sends = sum(
        len(world.visible(r, c))
        for r in range(len(world.users))
        for c in range(len(world.communities))
    )
    # Only the sends to visible conversations were stored (socket + HTTP).
    assert Message.objects.count() - before == 2 * sends
    _totals["worlds"] += 1
    record("access_property", **_totals)
