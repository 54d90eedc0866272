"""What an operator watches (Prometheus). Each server process serves its own
at GET /metrics; `notify_worker` serves its own on NOTIFY_METRICS_PORT.

Counts and latencies only: never a body, a name or a token in a label.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from chatsite import collector

# Seconds, from a millisecond to a few seconds: live delivery lives at the
# low end; the high end shows a stalled database or layer.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

SOCKETS_OPEN = Gauge("voisins_sockets_open", "WebSockets open on this process.")
SOCKETS_CLOSED = Counter(
    "voisins_sockets_closed_total",
    "WebSockets closed by the server, by close code.",
    ["code"],
)
SENDS = Counter(
    "voisins_sends_total",
    "message.send handled, by outcome: stored (new message), resend (same "
    "client_id), refused (an error code), unavailable (database down).",
    ["outcome"],
)
ACKS = Counter("voisins_acks_total", "message.ack frames sent to sockets.")
MESSAGES_STORED = Counter(
    "voisins_messages_stored_total",
    "Messages committed (separate copies count one each), by interface.",
    ["via"],
)
SEND_TO_ACK = Histogram(
    "voisins_send_to_ack_seconds",
    "From a message.send frame read to its ack written.",
    buckets=LATENCY_BUCKETS,
)
SEND_TO_DELIVERY = Histogram(
    "voisins_send_to_delivery_seconds",
    "From a message's commit to its message.new written to a recipient's "
    "socket (clocks of the processes involved).",
    buckets=LATENCY_BUCKETS,
)
LAYER_ERRORS = Counter(
    "voisins_layer_errors_total",
    "Channel layer calls that failed (live delivery then relies on sync).",
    ["where"],
)

# notify_worker
NOTIFICATIONS = Counter(
    "voisins_notifications_total",
    "Emails and pushes, by kind and outcome (sent, skipped, retry, failed).",
    ["kind", "outcome"],
)


class CollectorPauses(Collector):
    """The garbage collector's pauses by generation (chatsite/collector.py
    counts them; a collection stops the whole process, every socket on it)."""

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "voisins_gc_pause_seconds",
            "Garbage collections of this process and how long each stopped "
            "it, by generation (2: a full collection).",
            labels=["generation"],
        )
        for generation, counts in enumerate(collector.pauses):
            bounds = [str(bound) for bound in collector.PAUSE_BUCKETS] + ["+Inf"]
            family.add_metric(
                [str(generation)],
                list(zip(bounds, list(counts.buckets), strict=True)),
                counts.total_seconds,
            )
        yield family


REGISTRY.register(CollectorPauses())
