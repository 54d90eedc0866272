"""notify_worker's metrics: the backlog per queue, and what was sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from conversations.notifications import tasks
from conversations.notifications.worker_metrics import QueueCollector

pytestmark = pytest.mark.django_db


def gauges() -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels["queue"]): sample.value
        for family in QueueCollector().collect()
        for sample in family.samples
    }


def test_due_jobs_are_counted_per_queue_and_future_ones_are_not() -> None:
    tasks.send_email_batch.using(
        run_after=timezone.now() - timedelta(seconds=30)
    ).enqueue(1)
    tasks.send_email_batch.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(
        2
    )
    tasks.send_push.enqueue(1, 1)
    values = gauges()
    assert values[("voisins_jobs_waiting", tasks.QUEUE)] == 1
    assert values[("voisins_jobs_waiting", tasks.PUSH_QUEUE)] == 1
    assert values[("voisins_jobs_oldest_age_seconds", tasks.QUEUE)] >= 29


def test_a_job_run_counts_its_outcome() -> None:
    """A batch that no longer exists is done: counted as such."""
    before = (
        REGISTRY.get_sample_value(
            "voisins_notifications_total", {"kind": "email", "outcome": "done"}
        )
        or 0.0
    )
    assert tasks.send_email_batch.call(10**9) == "done"
    after = REGISTRY.get_sample_value(
        "voisins_notifications_total", {"kind": "email", "outcome": "done"}
    )
    assert after == before + 1
