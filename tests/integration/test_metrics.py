"""Each process's Prometheus metrics: who may read them, and that they count."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from chatsite import collector
from conversations.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_answer_loopback_and_the_token_only() -> None:
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.7").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="93.184.216.34").get("/metrics").status_code == 404
    with override_settings(METRICS_TOKEN="s3cret-metrics-token"):
        client = Client(REMOTE_ADDR="93.184.216.34")
        assert client.get("/metrics").status_code == 404
        ok = client.get(
            "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
        )
        assert ok.status_code == 200
        assert b"voisins_acks_total" in ok.content
        assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404


@pytest.mark.usefixtures("fresh_layer")
async def test_a_socket_send_is_counted_acked_and_timed(
    alice: User, bob: User, open_socket: Callable[..., Any]
) -> None:
    """One send over a socket: a stored send, an ack, a latency sample, a
    stored message via the socket, and a delivery sample at bob's socket."""
    before = {
        "stored": sample("voisins_sends_total", outcome="stored"),
        "acks": sample("voisins_acks_total"),
        "timed": sample("voisins_send_to_ack_seconds_count"),
        "messages": sample("voisins_messages_stored_total", via="socket"),
        "delivered": sample("voisins_send_to_delivery_seconds_count"),
        "open": sample("voisins_sockets_open"),
    }
    bob_socket = await open_socket(bob)
    socket = await open_socket(alice)
    assert sample("voisins_sockets_open") == before["open"] + 2
    await socket.send(
        {"type": "message.send", "client_id": "m-1", "body": "Bonjour", "to": ["bob"]}
    )
    assert (await socket.receive())["type"] == "message.ack"
    assert (await bob_socket.receive())["type"] == "message.new"
    assert sample("voisins_sends_total", outcome="stored") == before["stored"] + 1
    assert sample("voisins_acks_total") == before["acks"] + 1
    assert sample("voisins_send_to_ack_seconds_count") == before["timed"] + 1
    assert (
        sample("voisins_messages_stored_total", via="socket") == before["messages"] + 1
    )
    assert sample("voisins_send_to_delivery_seconds_count") == before["delivered"] + 1


def test_garbage_collection_pauses_are_served_by_generation() -> None:
    # As chatsite/asgi.py does at start (0: the test process is not frozen).
    collector.start(freeze_seconds=0, full_seconds=0)
    before = sample("voisins_gc_pause_seconds_count", generation="2")
    gc.collect()
    assert sample("voisins_gc_pause_seconds_count", generation="2") == before + 1
    assert sample("voisins_gc_pause_seconds_bucket", generation="2", le="+Inf") >= 1
    body = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content
    assert b'voisins_gc_pause_seconds_sum{generation="0"}' in body
