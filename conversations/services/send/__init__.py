"""The send path, as an action: prefetch, pure checks, write.

    send_facts (prefetch.py)   the bulk reads of a batch, in a fixed number
                               of queries
    check_sends (checks.py)    pure: facts and requests in, one plan per
                               request out (tested without a database)
    write_sends (write.py)     create conversations, lock, insert, outbox

`message_send_many` runs the three in one transaction for a batch of sends
(the socket path's group commit, `send_queue.py`); `message_send` is a batch
of one for HTTP and email. Presence is read by the caller before the
database hop and passed in; the fan-out happens after commit, from the
returned deliveries.
"""

from __future__ import annotations

from functools import partial

from django.db import IntegrityError, transaction

from ... import events, metrics
from ...errors import ChatError
from ...notifications.outbox import PresenceSnapshot
from ...presence import read_snapshot
from .checks import check_sends
from .facts import participant_key
from .prefetch import send_facts
from .requests import Delivery, SendRequest, SendResult
from .write import Outcome, write_sends

__all__ = [
    "Delivery",
    "SendRequest",
    "SendResult",
    "message_send",
    "message_send_many",
    "participant_key",
]


def message_send_many(
    requests: list[SendRequest], *, presence: PresenceSnapshot, attempts: int = 3
) -> tuple[list[Outcome], list[Delivery]]:
    """Store the sends in one transaction; return each request's outcome and
    the deliveries to fan out once the caller knows the transaction committed."""
    try:
        with transaction.atomic():
            facts = send_facts(requests)
            plans = check_sends(requests, facts)
            return write_sends(requests, plans, facts, presence=presence)
    except IntegrityError:
        # A concurrent batch won a unique constraint: the same client_id (a
        # resend racing its original) or the same new conversation. Its rows
        # are committed now, so trying again finds them.
        if attempts <= 1:
            raise
        if len(requests) == 1:
            return message_send_many(requests, presence=presence, attempts=attempts - 1)
        # One bad apple must not fail its neighbours: retry one by one.
        outcomes: list[Outcome] = []
        deliveries: list[Delivery] = []
        for request in requests:
            result, more = message_send_many(
                [request], presence=presence, attempts=attempts - 1
            )
            outcomes += result
            deliveries += more
        return outcomes, deliveries


def message_send(request: SendRequest, *, via: str = "http") -> SendResult:
    """Store a message once per (sender, client_id), then deliver it
    (`via`: the interface, for the metrics).

    Returns the existing message, `created=False`, when the client_id was used
    before: a resend over a new socket or over HTTP creates nothing. Raises
    the ChatError that explains a refusal.
    """
    presence = read_snapshot([request.community_id])
    outcomes, deliveries = message_send_many([request], presence=presence)
    outcome = outcomes[0]
    if isinstance(outcome, ChatError):
        raise outcome
    metrics.MESSAGES_STORED.labels(via).inc(len(deliveries))
    # Outside an atomic block this runs at once (we have committed); inside
    # one, after the outer commit.
    items = events.message_new_items(deliveries, origin=None)
    transaction.on_commit(partial(events.fan_out_sync, items))
    return outcome
