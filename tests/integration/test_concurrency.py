"""Concurrent sends from several threads (several server processes in
production): idempotency and conversation identity hold under races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection

from conversations.models import Community, Conversation, Message, User
from conversations.services.send import SendRequest, SendResult, message_send

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")


def race(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls at once, each in its own thread with its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = calls[index]()
        except BaseException as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def sender(
    user: User, community: Community, client_id: str, to: str
) -> Callable[[], SendResult]:
    request = SendRequest.of(user, community, client_id=client_id, body="x", to=(to,))
    return lambda: message_send(request)


def test_concurrent_resends_of_one_client_id_store_one_message(
    alice: User, bob: User, community: Community
) -> None:
    """Six simultaneous sends of the same client_id: one message, one created,
    every caller gets the same message."""
    results = race([sender(alice, community, "same-id", "bob") for _ in range(6)])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    sends = [r for r in results if isinstance(r, SendResult)]
    assert sum(r.created for r in sends) == 1
    assert len({r.message["id"] for r in sends}) == 1
    assert Message.objects.count() == 1


def test_concurrent_first_messages_in_both_directions_share_a_conversation(
    alice: User, bob: User, community: Community
) -> None:
    """alice and bob writing to each other for the first time at the same
    moment end up in one conversation."""
    results = race(
        [sender(alice, community, "a-1", "bob"), sender(bob, community, "b-1", "alice")]
    )
    sends = [r for r in results if isinstance(r, SendResult)]
    assert len(sends) == 2, results
    assert sends[0].message["conversation"] == sends[1].message["conversation"]
    assert Conversation.objects.count() == 1


def test_concurrent_sends_get_distinct_increasing_ids_in_commit_order(
    alice: User, bob: User, carol: User, community: Community
) -> None:
    """Many simultaneous sends in one community all succeed with distinct ids,
    and each conversation's previous_id chain has no holes."""
    calls = [sender(alice, community, f"a-{i}", "bob") for i in range(4)]
    calls += [sender(carol, community, f"c-{i}", "bob") for i in range(4)]
    results = race(calls)
    sends = [r for r in results if isinstance(r, SendResult)]
    assert len(sends) == 8, results
    by_conversation: dict[int, list[SendResult]] = {}
    for result in sends:
        by_conversation.setdefault(result.message["conversation"], []).append(result)
    for chain in by_conversation.values():
        chain.sort(key=lambda r: r.message["id"])
        previous = 0
        for result in chain:
            assert result.previous_id == previous
            previous = result.message["id"]
