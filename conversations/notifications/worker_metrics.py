"""notify_worker's own metrics: what it sent, and what waits for it.

Served on NOTIFY_METRICS_PORT by the worker process (prometheus_client's
HTTP server, in a thread); the queue gauges are read from the database at
each scrape, so several workers report the same backlog.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import close_old_connections
from django.db.models import Case, Count, F, Min, When
from django.utils import timezone

# Public queryset API plus get_date_max, pinned by
# tests/integration/test_library_internals.py.
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chatsite import collector


class QueueCollector(Collector):
    """Jobs due and not started, and the age of the oldest, per queue.

    `own_connection`: the scrape thread keeps one database connection of its
    own; drop it before each scrape if it went stale."""

    def __init__(self, *, own_connection: bool = False) -> None:
        self.own_connection = own_connection

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily(
            "voisins_jobs_waiting",
            "Notification jobs due, not started.",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "voisins_jobs_oldest_age_seconds",
            "How long the oldest due job has waited past its time.",
            labels=["queue"],
        )
        now = timezone.now()
        if self.own_connection:
            close_old_connections()
        # A job enqueued without run_after is stored with the maximal date
        # (django-tasks-db): it has been due since it was enqueued.
        due_since = Case(
            When(run_after=get_date_max(), then=F("enqueued_at")),
            default=F("run_after"),
        )
        rows = (
            DBTaskResult.objects.ready()
            .values("queue_name")
            .annotate(n=Count("id"), due=Min(due_since))
        )
        for row in rows:
            waiting.add_metric([row["queue_name"]], row["n"])
            oldest.add_metric([row["queue_name"]], (now - row["due"]).total_seconds())
        yield waiting
        yield oldest


def serve(port: int) -> None:
    """Serve this process's metrics on `port` (0: do nothing)."""
    if port:
        REGISTRY.register(QueueCollector(own_connection=True))
        # The worker holds few long-lived objects: its collector keeps
        # CPython's schedule (0), but its pauses are counted and served too.
        collector.start(freeze_seconds=0, full_seconds=0)
        start_http_server(port)
