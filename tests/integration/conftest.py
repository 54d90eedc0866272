"""Integration fixtures: residents and messages made through the services."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from conversations.models import Community, User
from conversations.services.access import community_create, resident_add
from conversations.services.send import SendRequest, SendResult, message_send

from .sockets import Socket, communicator, session_of

PASSWORD = "correct-horse-battery"


class Send(Protocol):
    def __call__(
        self,
        sender: User,
        body: str = ...,
        *,
        to: list[str] | None = ...,
        conversation: int | None = ...,
        community: Community | None = ...,
        client_id: str | None = ...,
    ) -> SendResult: ...


@pytest.fixture
def make_community() -> Callable[..., Community]:
    """Create a community through the service."""

    def make(slug: str = "bourg-centre", name: str = "Bourg Centre") -> Community:
        community, _ = community_create(slug=slug, name=name)
        return community

    return make


@pytest.fixture
def make_resident() -> Callable[..., User]:
    """Create a resident (with a password) who is an active member."""

    def make(community: Community, username: str, display_name: str = "") -> User:
        user, _ = resident_add(
            community=community,
            username=username,
            email=f"{username}@example.org",
            password=PASSWORD,
            display_name=display_name or username.title(),
        )
        return user

    return make


@pytest.fixture
def community(make_community: Callable[..., Community]) -> Community:
    return make_community()


@pytest.fixture
def other_community(make_community: Callable[..., Community]) -> Community:
    return make_community("la-croix", "La Croix")


@pytest.fixture
def alice(make_resident: Callable[..., User], community: Community) -> User:
    return make_resident(community, "alice", "Alice Martin")


@pytest.fixture
def bob(make_resident: Callable[..., User], community: Community) -> User:
    return make_resident(community, "bob", "Bob Lefèvre")


@pytest.fixture
def carol(make_resident: Callable[..., User], community: Community) -> User:
    return make_resident(community, "carol", "Carole Dubois")


@pytest.fixture
def mallory(make_resident: Callable[..., User], community: Community) -> User:
    """A member of the same community who is in none of the test conversations."""
    return make_resident(community, "mallory", "Mallory")


@pytest.fixture
def send(community: Community) -> Send:
    home = community

    """Send a message through the service, with a fresh client_id by default."""
    counter = itertools.count(1)

    def send(
        sender: User,
        body: str = "Bonjour",
        *,
        to: list[str] | None = None,
        conversation: int | None = None,
        community: Community | None = None,
        client_id: str | None = None,
    ) -> SendResult:
        request = SendRequest.of(
            sender,
            community or home,
            client_id=client_id or f"{sender.username}-{next(counter)}",
            body=body,
            to=tuple(sorted(to)) if to is not None else None,
            conversation_id=conversation,
        )
        return message_send(request)

    return send


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> object:
    """Before pytest-django drops the PostgreSQL test database, end the
    sessions that other threads (the consumers' database thread) left open;
    otherwise the drop fails and the database stays on the shared server."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
async def fresh_layer() -> AsyncIterator[None]:
    """Each test starts with an empty in-memory layer bound to its own loop."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.flush()
    yield
    await layer.flush()


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
