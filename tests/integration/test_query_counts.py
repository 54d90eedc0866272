"""Pinned query counts: a per-row query (N+1) in a hot path fails here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from conversations.models import Community, User
from conversations.presence import get_presence
from conversations.selectors.conversations import conversation_list_for_user
from conversations.selectors.messages import messages_after, messages_before
from conversations.services.send import (
    SendRequest,
    SendResult,
    message_send,
    message_send_many,
)

from .conftest import Send

pytestmark = pytest.mark.django_db

AssertMaxQueries = Callable[..., Any]


@pytest.fixture
def crowd(make_resident: Callable[..., User], community: Community) -> list[User]:
    """Twelve residents, so that per-row queries would show."""
    return [make_resident(community, f"resident{i:02d}") for i in range(12)]


@pytest.fixture
def busy_alice(send: Send, alice: User, crowd: list[User]) -> User:
    """alice in 12 conversations (pairs and groups), 3 messages each."""
    for index, other in enumerate(crowd):
        recipients = [other.username]
        if index % 2:
            recipients.append(crowd[index - 1].username)
        for turn in range(3):
            sender = alice if turn != 1 else other
            to = recipients if sender is alice else ["alice", *recipients[1:]]
            send(sender, f"m{turn}", to=to)
    return alice


@pytest.fixture
def online(community: Community) -> Iterator[Callable[[list[User]], None]]:
    """Give residents an open active socket in the community (presence only)."""
    presence = get_presence()
    opened: list[tuple[str, int]] = []

    def mark(users: list[User]) -> None:
        for user in users:
            socket_id = f"query-count-{user.pk}"
            async_to_sync(presence.opened)(socket_id, user.pk, community.pk)
            opened.append((socket_id, user.pk))

    yield mark
    for socket_id, user_id in opened:
        async_to_sync(presence.closed)(socket_id, user_id, community.pk)


def test_message_send_to_new_group_query_count(
    django_assert_max_num_queries: AssertMaxQueries,
    alice: User,
    crowd: list[User],
    community: Community,
    online: Callable[[list[User]], None],
) -> None:
    """Creating a 13-person conversation with its first message costs the same
    whatever the group size (recipients online: no notification outbox)."""
    online(crowd)
    request = SendRequest.of(
        alice,
        community,
        client_id="q-1",
        body="Réunion ?",
        to=tuple(u.username for u in crowd),
    )
    with django_assert_max_num_queries(16):
        result = message_send(request)
    assert result.created
    assert len(result.message["participants"]) == 13


def test_message_send_to_offline_group_adds_one_task_per_new_batch(
    django_assert_max_num_queries: AssertMaxQueries,
    alice: User,
    crowd: list[User],
    community: Community,
) -> None:
    """First message to 12 offline residents: the fixed cost plus one email
    task row per newly opened batch, nothing more per recipient."""
    request = SendRequest.of(
        alice,
        community,
        client_id="q-4",
        body="Réunion ?",
        to=tuple(u.username for u in crowd),
    )
    with django_assert_max_num_queries(21 + len(crowd)):
        assert message_send(request).created


def test_message_send_to_existing_conversation_query_count(
    django_assert_max_num_queries: AssertMaxQueries,
    send: Send,
    alice: User,
    crowd: list[User],
    community: Community,
) -> None:
    """Sending into an existing 13-person conversation whose offline members
    already have an open email batch costs a fixed number of queries."""
    conversation = send(alice, to=[u.username for u in crowd]).message["conversation"]
    request = SendRequest.of(
        alice, community, client_id="q-2", body="Encore", conversation_id=conversation
    )
    with django_assert_max_num_queries(16):
        assert message_send(request).created


def test_message_send_resend_query_count(
    django_assert_max_num_queries: AssertMaxQueries,
    send: Send,
    alice: User,
    crowd: list[User],
    community: Community,
) -> None:
    """A resend of a known client_id answers in three reads (inside the send
    transaction, so BEGIN and COMMIT count too): the ids every batch checks
    with a written-out statement, then the rows and their participants."""
    send(alice, to=[u.username for u in crowd], client_id="q-3")
    request = SendRequest.of(alice, community, client_id="q-3", body="x", to=("bob",))
    with django_assert_max_num_queries(5):
        result = message_send(request)
    assert not result.created


def test_messages_after_query_count(
    django_assert_max_num_queries: AssertMaxQueries,
    busy_alice: User,
    community: Community,
) -> None:
    """A sync batch over many conversations costs a fixed number of queries."""
    with django_assert_max_num_queries(2):
        messages, more = messages_after(
            user_id=busy_alice.pk,
            community_id=community.pk,
            community_slug=community.slug,
            after=0,
        )
    assert len(messages) == 36
    assert not more


def test_messages_before_query_count(
    django_assert_max_num_queries: AssertMaxQueries,
    send: Send,
    alice: User,
    crowd: list[User],
) -> None:
    """A history page costs a fixed number of queries."""
    conversation = 0
    for _ in range(20):
        conversation = send(alice, to=[u.username for u in crowd]).message[
            "conversation"
        ]
    with django_assert_max_num_queries(3):
        page = messages_before(
            user_id=alice.pk, conversation_id=conversation, before=None, limit=50
        )
    assert len(page) == 20


def test_conversation_list_query_count(
    django_assert_max_num_queries: AssertMaxQueries,
    busy_alice: User,
    community: Community,
) -> None:
    """Listing 12 conversations with last messages and unread counts is O(1)."""
    with django_assert_max_num_queries(2):
        listing = conversation_list_for_user(user_id=busy_alice.pk, community=community)
    assert len(listing) == 12
    assert all(c["last_message"] is not None for c in listing)
    assert all(c["unread"] == 1 for c in listing)


def test_batch_of_sends_costs_the_queries_of_one(
    django_assert_max_num_queries: AssertMaxQueries,
    send: Send,
    alice: User,
    crowd: list[User],
    community: Community,
) -> None:
    """Group commit: twenty sends into four existing conversations, stored in
    one batch, cost no more queries than a single send (one UPDATE of each
    conversation's last message aside)."""
    conversations = [
        send(alice, to=[u.username for u in crowd[i : i + 3]]).message["conversation"]
        for i in range(0, 12, 3)
    ]
    requests = [
        SendRequest.of(
            alice,
            community,
            client_id=f"batch-{n}",
            body="En lot",
            conversation_id=conversations[n % 4],
        )
        for n in range(20)
    ]
    with django_assert_max_num_queries(16 + 3):
        outcomes, fan_outs = message_send_many(requests, presence={})
    assert all(isinstance(o, SendResult) and o.created for o in outcomes)
    assert len(fan_outs) == 20
    ids = [o.message["id"] for o in outcomes if isinstance(o, SendResult)]
    assert ids == sorted(ids)


def test_a_batch_across_many_communities_costs_no_more_queries(
    django_assert_max_num_queries: AssertMaxQueries,
    make_community: Callable[..., Community],
    make_resident: Callable[..., User],
) -> None:
    """Group commit over ten communities (one send each, to a neighbour
    already written to): the same fixed count as one community; no query
    per community (the members and the locks are read in one statement)."""
    requests = []
    for n in range(10):
        place = make_community(f"quartier-{n}", f"Quartier {n}")
        writer = make_resident(place, f"w{n}")
        make_resident(place, f"r{n}")
        message_send(
            SendRequest.of(
                writer, place, client_id=f"first-{n}", body="x", to=(f"r{n}",)
            )
        )
        requests.append(
            SendRequest.of(
                writer, place, client_id=f"next-{n}", body="y", to=(f"r{n}",)
            )
        )
    with django_assert_max_num_queries(16):
        outcomes, deliveries = message_send_many(requests, presence={})
    assert all(isinstance(o, SendResult) and o.created for o in outcomes)
    assert len(deliveries) == 10
